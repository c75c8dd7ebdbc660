from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .res_partner import RISK_BANDS

# Shipped limits per risk band: (installments, months, down payment %, approval).
DEFAULT_POLICIES = {
    "low": (12, 12, 0.0, False),
    "medium": (6, 6, 10.0, False),
    "high": (4, 4, 20.0, True),
    "critical": (3, 3, 30.0, True),
}


class CollectionPlanPolicy(models.Model):
    """What a payment plan may be for a customer of a risk band, in a company. A
    plan outside its band's policy, or in a band that requires it, needs a
    collections manager to be proposed."""

    _name = "collection.plan.policy"
    _description = "Payment Plan Policy"
    _order = "company_id, sequence, id"
    _check_company_auto = True

    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda s: s.env.company
    )
    risk_band = fields.Selection(RISK_BANDS, required=True)
    max_installments = fields.Integer(default=6, required=True)
    max_months = fields.Integer(
        string="Maximum Duration (months)",
        default=6,
        required=True,
        help="From the first date to the last installment.",
    )
    min_down_payment_percent = fields.Float(
        string="Minimum Down Payment (%)", digits=(5, 2)
    )
    manager_approval = fields.Boolean(
        string="Manager Proposes",
        help="Plans for this band are proposed by a collections manager only.",
    )
    early_days = fields.Integer(
        string="Before the Due Date (days)",
        default=30,
        help="On the portal, the customer may promise a date for, or ask for a "
        "plan on, amounts that fall due within this many days, not only on what "
        "is overdue: an agreement before the default. 0: overdue amounts only.",
    )
    broken_after_days = fields.Integer(
        string="Broken After (days)",
        default=10,
        help="An installment unpaid this many days after its date breaks the plan.",
    )

    _sql_constraints = [
        (
            "company_band_unique",
            "UNIQUE(company_id, risk_band)",
            "One payment plan policy per risk band and company.",
        ),
    ]

    @api.constrains(
        "max_installments",
        "max_months",
        "min_down_payment_percent",
        "broken_after_days",
        "early_days",
    )
    def _check_limits(self):
        for policy in self:
            if policy.max_installments < 1 or policy.max_months < 1:
                raise ValidationError(
                    self.env._(
                        "A plan policy allows at least one installment and month."
                    )
                )
            if not 0 <= policy.min_down_payment_percent <= 100:
                raise ValidationError(
                    self.env._("A down payment is between 0% and 100% of the plan.")
                )
            if policy.broken_after_days < 0:
                raise ValidationError(
                    self.env._("Days before a plan breaks cannot be negative.")
                )
            if not 0 <= policy.early_days <= 366:
                raise ValidationError(
                    self.env._("Days before the due date are between 0 and 366.")
                )

    @api.model
    def _create_default_policies(self, companies=None):
        companies = companies or self.env["res.company"].search([])
        have = {
            (policy.company_id.id, policy.risk_band)
            for policy in self.sudo().search([("company_id", "in", companies.ids)])
        }
        values = [
            {
                "company_id": company.id,
                "risk_band": band,
                "sequence": sequence,
                "max_installments": limits[0],
                "max_months": limits[1],
                "min_down_payment_percent": limits[2],
                "manager_approval": limits[3],
            }
            for company in companies
            for sequence, (band, limits) in enumerate(DEFAULT_POLICIES.items())
            if (company.id, band) not in have
        ]
        return self.sudo().create(values)

    @api.model
    def _for_partner(self, partner, company):
        band = partner.with_company(company).collection_risk_band or "low"
        return self.sudo().search(
            [("company_id", "=", company.id), ("risk_band", "=", band)], limit=1
        )
