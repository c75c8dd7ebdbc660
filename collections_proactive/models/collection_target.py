from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError


class CollectionTarget(models.Model):
    """What a collector aims at in a month, set by a manager: an amount to
    collect, a share of what falls due paid by its date, a CEI. The actual
    figures come from the KPIs (``collection.kpi.report``) of the collector's
    customers in that month, computed when read."""

    _name = "collection.target"
    _description = "Collection Target"
    _order = "month desc, user_id"
    _rec_name = "user_id"
    _check_company_auto = True

    user_id = fields.Many2one(
        "res.users",
        string="Collector",
        required=True,
        index=True,
        domain="[('share', '=', False), ('company_ids', 'in', company_id)]",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    month = fields.Date(
        required=True,
        default=lambda self: fields.Date.context_today(self).replace(day=1),
        help="The first day of the month the target is for.",
    )
    amount_target = fields.Monetary(
        string="To Collect", currency_field="currency_id", required=True
    )
    paid_by_due_target = fields.Float(
        string="Paid by Due Date Target (%)",
        digits=(16, 1),
        help="Share of what falls due in the month paid by its due date.",
    )
    cei_target = fields.Float(
        string="CEI Target (%)",
        digits=(16, 1),
        help="Collection effectiveness: what was collected against what could "
        "have been.",
    )
    collected = fields.Monetary(
        currency_field="currency_id", compute="_compute_actuals"
    )
    collected_progress = fields.Float(
        string="Collected (%)", compute="_compute_actuals", digits=(16, 1)
    )
    paid_by_due_rate = fields.Float(
        string="Paid by Due Date (%)", compute="_compute_actuals", digits=(16, 1)
    )
    cei = fields.Float(string="CEI (%)", compute="_compute_actuals", digits=(16, 1))

    _sql_constraints = [
        (
            "user_company_month_unique",
            "UNIQUE(user_id, company_id, month)",
            "A collector has one target per month and company.",
        ),
        (
            "amount_positive",
            "CHECK(amount_target >= 0)",
            "The amount to collect cannot be negative.",
        ),
    ]

    @api.constrains("month", "paid_by_due_target", "cei_target")
    def _check_values(self):
        for target in self:
            if target.month.day != 1:
                raise ValidationError(
                    self.env._("A target is for a month: give its first day.")
                )
            for value in (target.paid_by_due_target, target.cei_target):
                if not 0 <= value <= 100:
                    raise ValidationError(self.env._("A share is between 0% and 100%."))

    @api.onchange("month")
    def _onchange_month(self):
        if self.month:
            self.month = self.month.replace(day=1)

    @api.depends("user_id", "company_id", "month", "amount_target")
    def _compute_actuals(self):
        """Every target's actuals in one grouped read of the KPIs."""
        actuals = {}
        if self.filtered("month"):
            groups = (
                self.env["collection.kpi.report"]
                .sudo()
                ._read_group(
                    [
                        ("company_id", "in", self.company_id.ids),
                        ("user_id", "in", self.user_id.ids),
                        (
                            "date",
                            "in",
                            list(set(self.filtered("month").mapped("month"))),
                        ),
                    ],
                    ["company_id", "user_id", "date:day"],
                    ["collected:sum", "paid_by_due_rate:sum", "cei:sum"],
                )
            )
            actuals = {
                (company.id, user.id, month): (collected, rate, cei)
                for company, user, month, collected, rate, cei in groups
            }
        for target in self:
            collected, rate, cei = actuals.get(
                (target.company_id.id, target.user_id.id, target.month), (0.0, 0.0, 0.0)
            )
            target.collected = collected
            target.paid_by_due_rate = rate or 0.0
            target.cei = cei or 0.0
            target.collected_progress = (
                100 * collected / target.amount_target if target.amount_target else 0.0
            )

    @api.model
    def board_targets(self):
        """The month's targets the user may see (its own; all for a manager) in
        the companies in view, as the follow-up board shows them."""
        today = fields.Date.context_today(self)
        targets = self.search(
            [
                ("company_id", "in", self.env.companies.ids),
                ("month", "=", today.replace(day=1)),
            ]
        )
        return [
            {
                "id": target.id,
                "user": target.user_id.name,
                "collected": target.currency_id.format(target.collected),
                "target": target.currency_id.format(target.amount_target),
                "progress": round(target.collected_progress),
                "rates": self.env._(
                    "paid by due date %(rate)s%% (target %(rate_target)s%%), "
                    "CEI %(cei)s%% (target %(cei_target)s%%)",
                    rate=round(target.paid_by_due_rate),
                    rate_target=round(target.paid_by_due_target),
                    cei=round(target.cei),
                    cei_target=round(target.cei_target),
                ),
            }
            for target in targets
        ]

    def action_copy_to_next_month(self):
        """Carry these targets over to the following month (skipping those that
        already have one)."""
        existing = {
            (t.user_id.id, t.company_id.id, t.month)
            for t in self.search(
                [
                    ("user_id", "in", self.user_id.ids),
                    ("company_id", "in", self.company_id.ids),
                ]
            )
        }
        values = []
        for target in self:
            month = target.month + relativedelta(months=1)
            if (target.user_id.id, target.company_id.id, month) in existing:
                continue
            values.append(
                {
                    "user_id": target.user_id.id,
                    "company_id": target.company_id.id,
                    "month": month,
                    "amount_target": target.amount_target,
                    "paid_by_due_target": target.paid_by_due_target,
                    "cei_target": target.cei_target,
                }
            )
        return self.create(values)
