from odoo import fields, models

from .res_partner import RISK_BANDS


class ResPartner(models.Model):
    """What the early warnings compare with: the customer's band and trend as
    the last risk run left them (``collection.risk.alert._remember``)."""

    _inherit = "res.partner"

    collection_alert_band = fields.Selection(
        RISK_BANDS,
        string="Risk Band Last Seen",
        company_dependent=True,
        readonly=True,
        copy=False,
    )
    collection_alert_trend = fields.Boolean(
        string="Lateness Trend Turned",
        company_dependent=True,
        readonly=True,
        copy=False,
    )
