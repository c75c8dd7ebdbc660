from dateutil.relativedelta import relativedelta

from odoo import api, fields, models

KPI_FIELDS = ["dso", "best_dso", "add", "cei", "paid_by_due_rate"]
KPI_FIELDS += ["reminder_effectiveness", "promise_kept_rate", "plan_adherence"]
AGING_FIELDS = ["ar_current", "aged_1_30", "aged_31_60", "aged_61_90", "aged_91"]


class CollectionOverview(models.TransientModel):
    """The Collections overview: today's receivables and cases, and the KPIs of
    the last three months, for the companies in view. Read from the case table
    and the KPI report in a few grouped queries each time it opens."""

    _name = "collection.overview"
    _description = "Collections Overview"

    currency_id = fields.Many2one(
        "res.currency", default=lambda self: self.env.company.currency_id
    )
    open_cases = fields.Integer(compute="_compute_figures")
    my_cases = fields.Integer(compute="_compute_figures")
    escalated_cases = fields.Integer(compute="_compute_figures")
    no_action_cases = fields.Integer(compute="_compute_figures")
    amount_due = fields.Monetary(compute="_compute_figures", string="Total Due")
    amount_overdue = fields.Monetary(compute="_compute_figures", string="Overdue")
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
    period = fields.Char(compute="_compute_figures")

    @api.depends_context("allowed_company_ids", "uid")
    def _compute_figures(self):
        Case = self.env["collection.case"]
        Report = self.env["collection.kpi.report"]
        company_domain = [("company_id", "in", self.env.companies.ids)]
        open_domain = [*company_domain, ("state", "=", "open")]
        [(count, due, overdue)] = Case._read_group(
            open_domain, [], ["__count", "amount_due:sum", "amount_overdue:sum"]
        )
        today = fields.Date.context_today(self)
        this_month = today.replace(day=1)
        start = this_month - relativedelta(months=2)
        [kpis] = Report._read_group(
            [*company_domain, ("date", ">=", start)],
            [],
            [f"{name}:sum" for name in KPI_FIELDS],
        )
        [aging] = Report._read_group(
            [*company_domain, ("date", "=", this_month)],
            [],
            [f"{name}:sum" for name in AGING_FIELDS],
        )
        escalated = Case.search_count(
            [*open_domain, ("stage_id.role", "=", "escalated")]
        )
        values = {
            "open_cases": count,
            "my_cases": Case.search_count(
                [*open_domain, ("user_id", "=", self.env.uid)]
            ),
            "escalated_cases": escalated,
            "no_action_cases": Case.search_count(
                [*open_domain, ("next_action_date", "=", False)]
            ),
            "amount_due": due,
            "amount_overdue": overdue,
            **dict(zip(KPI_FIELDS, (value or 0.0 for value in kpis), strict=True)),
            **dict(zip(AGING_FIELDS, (value or 0.0 for value in aging), strict=True)),
            "period": self.env._(
                "%(start)s to %(end)s",
                start=fields.Date.to_string(start),
                end=fields.Date.to_string(today),
            ),
        }
        for overview in self:
            overview.update(values)

    def _open(self, xmlid, context=None, domain=None):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            f"collections_proactive.{xmlid}"
        )
        if context is not None:
            action["context"] = context
        if domain is not None:
            action["domain"] = domain
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
        )

    def action_open_no_action(self):
        return self._open(
            "collection_case_action",
            {"search_default_filter_no_next_action": 1},
        )

    def action_open_kpis(self):
        return self._open("collection_kpi_report_action")

    def action_open_aging(self):
        return self._open("collection_kpi_report_action_aging")
