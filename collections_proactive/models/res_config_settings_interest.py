from odoo import api, fields, models

from .res_company_interest import INTEREST_PRESET_VALUES


class ResConfigSettings(models.TransientModel):
    """The company's late-interest settings on the Invoicing settings page."""

    _inherit = "res.config.settings"

    collection_interest_enabled = fields.Boolean(
        related="company_id.collection_interest_enabled", readonly=False
    )
    collection_interest_preset = fields.Selection(
        related="company_id.collection_interest_preset", readonly=False
    )
    collection_interest_rate_source = fields.Selection(
        related="company_id.collection_interest_rate_source", readonly=False
    )
    collection_interest_rate = fields.Float(
        related="company_id.collection_interest_rate", readonly=False
    )
    collection_interest_period = fields.Selection(
        related="company_id.collection_interest_period", readonly=False
    )
    collection_interest_basis = fields.Selection(
        related="company_id.collection_interest_basis", readonly=False
    )
    collection_interest_start = fields.Selection(
        related="company_id.collection_interest_start", readonly=False
    )
    collection_interest_grace_days = fields.Integer(
        related="company_id.collection_interest_grace_days", readonly=False
    )
    collection_fee_percent = fields.Float(
        related="company_id.collection_fee_percent", readonly=False
    )
    collection_interest_min_amount = fields.Monetary(
        related="company_id.collection_interest_min_amount", readonly=False
    )
    collection_interest_account_id = fields.Many2one(
        related="company_id.collection_interest_account_id", readonly=False
    )
    collection_interest_journal_id = fields.Many2one(
        related="company_id.collection_interest_journal_id", readonly=False
    )
    collection_interest_post = fields.Boolean(
        related="company_id.collection_interest_post", readonly=False
    )
    collection_interest_warning = fields.Char(
        related="company_id.collection_interest_warning"
    )

    @api.onchange("collection_interest_preset")
    def _onchange_collection_interest_preset(self):
        self.update(INTEREST_PRESET_VALUES.get(self.collection_interest_preset, {}))
