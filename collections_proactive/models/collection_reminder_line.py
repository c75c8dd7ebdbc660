from odoo import fields, models

from .collection_reminder import CHANNELS


class CollectionReminderLine(models.Model):
    """One invoice in a reminder. Its unique key is what makes a reminder exactly
    once: an invoice can never get the same step on the same channel twice, whatever
    races or crashes happen (the database refuses the second row)."""

    _name = "collection.reminder.line"
    _description = "Collection Reminder Invoice"
    _order = "reminder_id, move_id"

    reminder_id = fields.Many2one(
        "collection.reminder", required=True, ondelete="cascade", index=True
    )
    move_id = fields.Many2one(
        "account.move", string="Invoice", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="reminder_id.company_id", store=True)
    step_id = fields.Many2one(
        "collection.strategy.step", required=True, ondelete="restrict"
    )
    channel = fields.Selection(
        CHANNELS,
        string="Planned Channel",
        required=True,
        help="The channel the step planned, kept when the reminder goes out on a "
        "fallback channel: it is part of the exactly-once key.",
    )
    amount_residual = fields.Monetary(
        string="Amount Due", currency_field="currency_id", readonly=True
    )
    currency_id = fields.Many2one(related="move_id.company_currency_id")

    _sql_constraints = [
        (
            "move_step_channel_unique",
            "UNIQUE(move_id, step_id, channel)",
            "An invoice gets each step on each channel once.",
        ),
    ]
