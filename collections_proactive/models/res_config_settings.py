from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    collection_risk_window_days = fields.Integer(
        related="company_id.collection_risk_window_days", readonly=False
    )
    collection_risk_medium_threshold = fields.Integer(
        related="company_id.collection_risk_medium_threshold", readonly=False
    )
    collection_risk_high_threshold = fields.Integer(
        related="company_id.collection_risk_high_threshold", readonly=False
    )
    collection_risk_critical_threshold = fields.Integer(
        related="company_id.collection_risk_critical_threshold", readonly=False
    )
