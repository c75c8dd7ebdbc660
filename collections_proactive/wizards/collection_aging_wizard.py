from odoo import fields, models


class CollectionAgingWizard(models.TransientModel):
    """Ask the date to compute the aged receivables as of, and open them."""

    _name = "collection.aging.wizard"
    _description = "Aged Receivables As Of"

    date = fields.Date(
        string="As Of",
        required=True,
        default=fields.Date.context_today,
        help="What was open on this date, aged by its due date: later payments and "
        "reconciliations are not taken into account.",
    )

    def action_open(self):
        self.ensure_one()
        return self.env["collection.aging.report"]._action_as_of(self.date)
