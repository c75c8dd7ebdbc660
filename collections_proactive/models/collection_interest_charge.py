from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

CHARGE_KINDS = [("invoiced", "Invoiced"), ("waived", "Waived")]
CHARGE_TYPES = [("interest", "Late interest"), ("fee", "Collection fee")]


class CollectionInterestCharge(models.Model):
    """What was done with the late interest, or the collection fee, of one
    receivable line up to a date: invoiced (on an interest invoice) or waived
    (by a payment plan).

    Each charge covers what accrued after the line's previous charge of its
    type, so that an amount is invoiced or waived once: a second invoicing only
    takes the new accrual, and the database refuses two charges of a line and
    type as of the same day (two clicks at once)."""

    _name = "collection.interest.charge"
    _description = "Late Interest Charge"
    _order = "date desc, id desc"

    move_line_id = fields.Many2one(
        "account.move.line",
        string="Amount Due",
        required=True,
        index=True,
        ondelete="cascade",
    )
    invoice_id = fields.Many2one(
        related="move_line_id.move_id", string="Invoice", store=True
    )
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    kind = fields.Selection(CHARGE_KINDS, required=True)
    charge_type = fields.Selection(
        CHARGE_TYPES, string="Charge", required=True, default="interest"
    )
    date = fields.Date(string="As Of", required=True)
    days = fields.Integer()
    rate = fields.Float(string="Rate (%)", digits=(16, 4))
    base = fields.Monetary(currency_field="currency_id")
    amount = fields.Monetary(currency_field="currency_id", required=True)
    interest_move_id = fields.Many2one(
        "account.move", string="Interest Invoice", index=True, ondelete="cascade"
    )
    plan_id = fields.Many2one(
        "collection.payment.plan", string="Waived by Plan", index=True
    )

    _sql_constraints = [
        (
            "line_date_unique",
            "UNIQUE (move_line_id, date, charge_type)",
            "This amount due's interest or fee was already charged that day.",
        ),
        ("amount_positive", "CHECK (amount > 0)", "A charge is of a positive amount."),
    ]

    @api.constrains("kind", "interest_move_id", "plan_id")
    def _check_origin(self):
        for charge in self:
            if charge.kind == "invoiced" and not charge.interest_move_id:
                raise ValidationError(
                    self.env._("An invoiced charge needs its interest invoice.")
                )

    @api.model_create_multi
    def create(self, vals_list):
        charges = super().create(vals_list)
        charges._sync_lines()
        return charges

    def unlink(self):
        lines = self.move_line_id
        result = super().unlink()
        self.browse()._sync_lines(lines)
        return result

    def _sync_lines(self, lines=None):
        """The lines' charged totals, from their charges (one UPDATE)."""
        self.env.flush_all()
        lines = self.move_line_id if lines is None else lines
        if lines:
            self.env.cr.execute(
                SQL(
                    """UPDATE account_move_line l
                          SET collection_interest_charged = COALESCE((
                              SELECT SUM(c.amount) FROM collection_interest_charge c
                               WHERE c.move_line_id = l.id
                                 AND c.charge_type = 'interest'), 0),
                              collection_fee_charged = COALESCE((
                              SELECT SUM(c.amount) FROM collection_interest_charge c
                               WHERE c.move_line_id = l.id
                                 AND c.charge_type = 'fee'), 0)
                        WHERE l.id = ANY(%s)""",
                    lines.ids,
                )
            )
            lines.invalidate_recordset(
                ["collection_interest_charged", "collection_fee_charged"]
            )
