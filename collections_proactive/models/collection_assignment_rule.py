from odoo import api, fields, models

from .res_partner import RISK_BANDS


class CollectionAssignmentRule(models.Model):
    """Who collects from a customer that has no collector yet, when its first case
    opens: the first rule (by sequence) matching the customer's risk band; among
    the rule's collectors, the one with the fewest open cases (round-robin)."""

    _name = "collection.assignment.rule"
    _description = "Collector Assignment Rule"
    _order = "sequence, id"
    _check_company_auto = True

    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    risk_band = fields.Selection(
        RISK_BANDS, help="Leave empty for customers of any risk band."
    )
    # What the list shows and edits: a rule without a band reads "All bands".
    applies_to = fields.Selection(
        [("all", "All bands"), *RISK_BANDS],
        default="all",
        compute="_compute_applies_to",
        inverse="_inverse_applies_to",
        help="The customers' risk band the rule is for.",
    )
    user_ids = fields.Many2many(
        "res.users",
        string="Collectors",
        required=True,
        domain="[('share', '=', False), ('company_ids', 'in', company_id)]",
        help="New customers are shared among them, fewest open cases first.",
    )

    @api.depends("risk_band")
    def _compute_applies_to(self):
        for rule in self:
            rule.applies_to = rule.risk_band or "all"

    def _inverse_applies_to(self):
        for rule in self:
            rule.risk_band = False if rule.applies_to == "all" else rule.applies_to
