from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import format_date

from ..report.collection_aging_report import AGING_DATE_KEY

KPI_FIELDS = ["dso", "best_dso", "add", "cei", "paid_by_due_rate"]
KPI_FIELDS += ["reminder_effectiveness", "promise_kept_rate", "plan_adherence"]
KPI_FIELDS += ["interest_accrued", "interest_invoiced", "interest_waived"]
KPI_FIELDS += ["fee_accrued", "fee_invoiced", "fee_waived"]
AGING_FIELDS = {
    "0_not_due": "ar_current",
    "1_30": "aged_1_30",
    "31_60": "aged_31_60",
    "61_90": "aged_61_90",
    "91_plus": "aged_91",
}


class CollectionOverview(models.TransientModel):
    """The Collections overview, the app's landing page: the open cases, the
    receivables aged as of today and the KPIs of the last three months, for the
    companies in view. Read in a few grouped queries each time it is shown.

    The web client opens it as a new record: the figures are computed fields
    that depend on ``date`` (the day they are as of), so that they are computed
    when the client asks for the new record's values (a computed field with no
    dependency keeps the empty value the client starts a new record with), and
    again each time the record is read once a button has saved it.
    """

    _name = "collection.overview"
    _description = "Collections Overview"

    date = fields.Date(string="As Of", required=True, default=fields.Date.context_today)
    currency_id = fields.Many2one(
        "res.currency", default=lambda self: self.env.company.currency_id
    )
    open_cases = fields.Integer(compute="_compute_figures")
    my_cases = fields.Integer(compute="_compute_figures")
    escalated_cases = fields.Integer(compute="_compute_figures")
    no_action_cases = fields.Integer(compute="_compute_figures")
    amount_due = fields.Monetary(compute="_compute_figures", string="Total Due")
    amount_overdue = fields.Monetary(compute="_compute_figures", string="Overdue")
    ar_total = fields.Monetary(compute="_compute_figures", string="Receivables")
    ar_current = fields.Monetary(compute="_compute_figures", string="Not Yet Due")
    aged_1_30 = fields.Monetary(compute="_compute_figures", string="1-30 Days")
    aged_31_60 = fields.Monetary(compute="_compute_figures", string="31-60 Days")
    aged_61_90 = fields.Monetary(compute="_compute_figures", string="61-90 Days")
    aged_91 = fields.Monetary(compute="_compute_figures", string="Over 90 Days")
    dso = fields.Float(compute="_compute_figures", string="DSO", digits=(16, 1))
    best_dso = fields.Float(
        compute="_compute_figures", string="Best Possible DSO", digits=(16, 1)
    )
    add = fields.Float(
        compute="_compute_figures", string="Average Days Delinquent", digits=(16, 1)
    )
    cei = fields.Float(compute="_compute_figures", string="CEI (%)", digits=(16, 1))
    paid_by_due_rate = fields.Float(
        compute="_compute_figures", string="Paid by Due Date (%)", digits=(16, 1)
    )
    reminder_effectiveness = fields.Float(
        compute="_compute_figures", string="Reminder Effectiveness (%)", digits=(16, 1)
    )
    promise_kept_rate = fields.Float(
        compute="_compute_figures", string="Promise-Kept Rate (%)", digits=(16, 1)
    )
    plan_adherence = fields.Float(
        compute="_compute_figures", string="Plan Adherence (%)", digits=(16, 1)
    )
    interest_accrued = fields.Monetary(compute="_compute_figures")
    interest_invoiced = fields.Monetary(compute="_compute_figures")
    interest_waived = fields.Monetary(compute="_compute_figures")
    fee_accrued = fields.Monetary(
        string="Collection Fees Accrued", compute="_compute_figures"
    )
    fee_invoiced = fields.Monetary(
        string="Collection Fees Invoiced", compute="_compute_figures"
    )
    fee_waived = fields.Monetary(
        string="Collection Fees Waived", compute="_compute_figures"
    )
    period = fields.Char(compute="_compute_figures")
    target_ids = fields.Many2many(
        "collection.target",
        compute="_compute_figures",
        string="Targets This Month",
        help="The collectors' targets of the month against what they reached (a "
        "collector sees its own).",
    )

    @api.depends("date")
    @api.depends_context("lang")
    def _compute_display_name(self):
        for overview in self:
            overview.display_name = self.env._("Overview")

    @api.depends("date")
    @api.depends_context("allowed_company_ids", "uid")
    def _compute_figures(self):
        today = fields.Date.context_today(self)
        case_values = self._case_figures()
        for as_of in set(self.mapped("date")):
            values = {
                **case_values,
                **self._aging_figures(as_of or today),
                **self._kpi_figures(as_of or today),
                "target_ids": self.env["collection.target"].search(
                    [
                        *self._company_domain(),
                        ("month", "=", (as_of or today).replace(day=1)),
                    ]
                ),
            }
            self.filtered(lambda overview, as_of=as_of: overview.date == as_of).update(
                values
            )

    def _company_domain(self):
        return [("company_id", "in", self.env.companies.ids)]

    def _case_figures(self):
        """The open cases, in one grouped query: by collector, by stage and by
        whether a next action is planned (a year, or none)."""
        groups = self.env["collection.case"]._read_group(
            [*self._company_domain(), ("state", "=", "open")],
            ["user_id", "stage_id", "next_action_date:year"],
            ["__count", "amount_due:sum", "amount_overdue:sum"],
        )
        values = dict.fromkeys(
            ["open_cases", "my_cases", "escalated_cases", "no_action_cases"], 0
        )
        values.update(amount_due=0.0, amount_overdue=0.0)
        for user, stage, next_action_year, count, due, overdue in groups:
            values["open_cases"] += count
            values["amount_due"] += due
            values["amount_overdue"] += overdue
            if user.id == self.env.uid:
                values["my_cases"] += count
            if stage.role == "escalated":
                values["escalated_cases"] += count
            if not next_action_year:
                values["no_action_cases"] += count
        return values

    def _aging_figures(self, as_of):
        """The receivables by age as of ``as_of``, from the aged balance."""
        groups = (
            self.env["collection.aging.report"]
            .with_context(**{AGING_DATE_KEY: fields.Date.to_string(as_of)})
            ._read_group(self._company_domain(), ["bucket"], ["amount_residual:sum"])
        )
        values = dict.fromkeys(AGING_FIELDS.values(), 0.0)
        for bucket, amount in groups:
            values[AGING_FIELDS[bucket]] = amount
        values["ar_total"] = sum(values.values())
        return values

    def _kpi_figures(self, as_of):
        """The KPIs of the month of ``as_of`` and the two before it."""
        start = as_of.replace(day=1) - relativedelta(months=2)
        [kpis] = self.env["collection.kpi.report"]._read_group(
            [*self._company_domain(), ("date", ">=", start), ("date", "<=", as_of)],
            [],
            [f"{name}:sum" for name in KPI_FIELDS],
        )
        return {
            **dict(zip(KPI_FIELDS, (value or 0.0 for value in kpis), strict=True)),
            "period": self.env._(
                "%(start)s to %(end)s",
                start=format_date(self.env, start),
                end=format_date(self.env, as_of),
            ),
        }

    def _open(self, xmlid, context=None, domain=None, name=None):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            f"collections_proactive.{xmlid}"
        )
        if context is not None:
            action["context"] = context
        if domain is not None:
            action["domain"] = domain
        if name is not None:
            action["name"] = name
        return action

    def action_open_board(self):
        return self._open("collection_case_action")

    def action_open_my_cases(self):
        return self._open(
            "collection_case_action",
            {"search_default_filter_open": 1, "search_default_filter_my": 1},
        )

    def action_open_escalated(self):
        return self._open(
            "collection_case_action",
            {"search_default_filter_open": 1},
            [("stage_id.role", "=", "escalated")],
            name=self.env._("Escalated Cases"),
        )

    def action_open_no_action(self):
        return self._open(
            "collection_case_action",
            {"search_default_filter_no_next_action": 1},
        )

    def action_open_kpis(self):
        return self._open("collection_kpi_report_action")

    def action_open_aging(self):
        self.ensure_one()
        return self.env["collection.aging.report"]._action_as_of(
            self.date or fields.Date.context_today(self)
        )
