from odoo import fields, models


class CollectionSendWizardLine(models.TransientModel):
    _name = "collection.send.wizard.line"
    _description = "Send Collection Reminders Now: Line"

    wizard_id = fields.Many2one(
        "collection.send.wizard", required=True, ondelete="cascade"
    )
    step = fields.Char(readonly=True)
    channel = fields.Char(readonly=True)
    invoices = fields.Char(readonly=True)
    verdict = fields.Char(string="What Happens", readonly=True)
    goes_out = fields.Boolean(string="Goes Out Now", readonly=True)
