from odoo import fields, models

from ..models.collection_interest_charge import CHARGE_TYPES


class CollectionInterestWizardLine(models.TransientModel):
    """The interest, or the collection fee, of one amount due in the
    computation shown before invoicing."""

    _name = "collection.interest.wizard.line"
    _description = "Late Interest Computation Line"

    wizard_id = fields.Many2one(
        "collection.interest.wizard", required=True, ondelete="cascade"
    )
    currency_id = fields.Many2one(related="wizard_id.currency_id")
    move_line_id = fields.Many2one(
        "account.move.line", string="Amount Due", required=True, readonly=True
    )
    invoice_id = fields.Many2one(related="move_line_id.move_id", string="Invoice")
    date_maturity = fields.Date(related="move_line_id.date_maturity")
    charge_type = fields.Selection(
        CHARGE_TYPES, string="Charge", default="interest", readonly=True
    )
    days = fields.Integer(string="Days Late", readonly=True)
    rate = fields.Float(string="Rate (%)", digits=(16, 4), readonly=True)
    base = fields.Monetary(string="Amount", readonly=True)
    accrued = fields.Monetary(readonly=True)
    charged = fields.Monetary(string="Invoiced or Waived", readonly=True)
    amount = fields.Monetary(string="To Invoice", readonly=True)
