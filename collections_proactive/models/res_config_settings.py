from odoo import api, fields, models

from .res_company import CONTACT_PRESET_VALUES, WHATSAPP_SECRET_GROUPS


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
    collection_contact_preset = fields.Selection(
        related="company_id.collection_contact_preset", readonly=False
    )
    collection_max_written_per_week = fields.Integer(
        related="company_id.collection_max_written_per_week", readonly=False
    )
    collection_min_days_between_written = fields.Integer(
        related="company_id.collection_min_days_between_written", readonly=False
    )
    collection_max_calls_per_week = fields.Integer(
        related="company_id.collection_max_calls_per_week", readonly=False
    )
    collection_contact_weekday_from = fields.Selection(
        related="company_id.collection_contact_weekday_from", readonly=False
    )
    collection_contact_weekday_to = fields.Selection(
        related="company_id.collection_contact_weekday_to", readonly=False
    )
    collection_contact_hour_from = fields.Float(
        related="company_id.collection_contact_hour_from", readonly=False
    )
    collection_contact_hour_to = fields.Float(
        related="company_id.collection_contact_hour_to", readonly=False
    )
    collection_skip_holidays = fields.Boolean(
        related="company_id.collection_skip_holidays", readonly=False
    )
    collection_max_attempts = fields.Integer(
        related="company_id.collection_max_attempts", readonly=False
    )

    collection_case_horizon_days = fields.Integer(
        related="company_id.collection_case_horizon_days", readonly=False
    )
    collection_alert_enabled = fields.Boolean(
        related="company_id.collection_alert_enabled", readonly=False
    )
    collection_alert_probability = fields.Float(
        related="company_id.collection_alert_probability", readonly=False
    )
    collection_digest_enabled = fields.Boolean(
        related="company_id.collection_digest_enabled", readonly=False
    )
    collection_promise_max_days = fields.Integer(
        related="company_id.collection_promise_max_days", readonly=False
    )
    collection_promise_grace_days = fields.Integer(
        related="company_id.collection_promise_grace_days", readonly=False
    )
    collection_escalation_user_id = fields.Many2one(
        related="company_id.collection_escalation_user_id", readonly=False
    )
    collection_autopay_notice_days = fields.Integer(
        related="company_id.collection_autopay_notice_days", readonly=False
    )
    collection_autopay_retry_count = fields.Integer(
        related="company_id.collection_autopay_retry_count", readonly=False
    )
    collection_autopay_retry_days = fields.Integer(
        related="company_id.collection_autopay_retry_days", readonly=False
    )
    collection_whatsapp_phone_number_id = fields.Char(
        related="company_id.collection_whatsapp_phone_number_id", readonly=False
    )
    collection_whatsapp_token = fields.Char(
        related="company_id.collection_whatsapp_token",
        readonly=False,
        groups=WHATSAPP_SECRET_GROUPS,
    )
    collection_whatsapp_app_secret = fields.Char(
        related="company_id.collection_whatsapp_app_secret",
        readonly=False,
        groups=WHATSAPP_SECRET_GROUPS,
    )
    collection_whatsapp_verify_token = fields.Char(
        related="company_id.collection_whatsapp_verify_token",
        readonly=False,
        groups=WHATSAPP_SECRET_GROUPS,
    )
    collection_whatsapp_webhook_url = fields.Char(
        string="WhatsApp Webhook URL",
        compute="_compute_collection_whatsapp_webhook_url",
    )

    @api.depends("company_id")
    def _compute_collection_whatsapp_webhook_url(self):
        for settings in self:
            settings.collection_whatsapp_webhook_url = (
                settings.company_id.get_base_url() + "/collections/whatsapp/webhook"
            )

    @api.onchange("collection_contact_preset")
    def _onchange_collection_contact_preset(self):
        self.update(CONTACT_PRESET_VALUES.get(self.collection_contact_preset, {}))
