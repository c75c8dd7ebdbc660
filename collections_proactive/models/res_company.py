from odoo import api, fields, models
from odoo.exceptions import ValidationError

RISK_MODEL_STATES = [
    ("model", "Learnt model"),
    ("weak", "Rules (model not accurate enough)"),
    ("thin", "Rules (not enough history)"),
]


class ResCompany(models.Model):
    """Collections settings live on the company: each company collects its own way."""

    _inherit = "res.company"

    collection_risk_window_days = fields.Integer(
        string="Risk History Window (days)",
        default=365,
        help="How far back the customer's payment history is read to score its risk.",
    )
    collection_risk_medium_threshold = fields.Integer(
        string="Medium Risk From",
        default=30,
        help="A customer whose risk score reaches this value is in the medium band.",
    )
    collection_risk_high_threshold = fields.Integer(
        string="High Risk From",
        default=55,
        help="A customer whose risk score reaches this value is in the high band.",
    )
    collection_risk_critical_threshold = fields.Integer(
        string="Critical Risk From",
        default=75,
        help="A customer whose risk score reaches this value is in the critical band.",
    )

    # The learnt model and its back-test (written by collection.risk.scoring).
    collection_risk_model_state = fields.Selection(
        RISK_MODEL_STATES,
        string="Risk Model",
        readonly=True,
        help="Whether scores come from the model learnt on this company's payment "
        "history or, when its back-test falls short, from transparent rules.",
    )
    collection_risk_model_date = fields.Date(
        string="Risk Model Fitted On", readonly=True
    )
    collection_risk_model_samples = fields.Integer(
        string="Back-test Samples", readonly=True
    )
    collection_risk_model_auc = fields.Float(
        string="Back-test AUC", digits=(3, 3), readonly=True
    )
    collection_risk_model_accuracy = fields.Float(
        string="Back-test Accuracy", digits=(3, 3), readonly=True
    )
    collection_risk_model_brier = fields.Float(
        string="Back-test Brier Score", digits=(3, 3), readonly=True
    )
    collection_risk_model_params = fields.Json(
        string="Risk Model Parameters", readonly=True, copy=False
    )
    # Run bookkeeping of the scheduled recompute (see collection.risk.scoring).
    collection_risk_run_start = fields.Datetime(
        string="Risk Run Started", readonly=True, copy=False
    )
    collection_risk_run_full = fields.Boolean(
        string="Risk Run Is Full", readonly=True, copy=False
    )
    collection_risk_run_seq = fields.Integer(
        string="Risk Run Number", readonly=True, copy=False
    )
    collection_risk_last_run = fields.Datetime(
        string="Last Risk Run", readonly=True, copy=False
    )
    collection_risk_last_date = fields.Date(
        string="Last Risk Run Date", readonly=True, copy=False
    )
    collection_risk_last_full_run = fields.Datetime(
        string="Last Full Risk Run", readonly=True, copy=False
    )
    collection_risk_full_requested = fields.Boolean(
        string="Full Risk Recompute Requested", readonly=True, copy=False
    )

    @api.constrains(
        "collection_risk_window_days",
        "collection_risk_medium_threshold",
        "collection_risk_high_threshold",
        "collection_risk_critical_threshold",
    )
    def _check_collection_risk_settings(self):
        for company in self:
            if not 30 <= company.collection_risk_window_days <= 3650:
                raise ValidationError(
                    self.env._(
                        "The risk history window of %(company)s must be between 30 "
                        "and 3650 days.",
                        company=company.display_name,
                    )
                )
            if not (
                0
                < company.collection_risk_medium_threshold
                < company.collection_risk_high_threshold
                < company.collection_risk_critical_threshold
                <= 100
            ):
                raise ValidationError(
                    self.env._(
                        "The risk band thresholds of %(company)s must increase from "
                        "medium to high to critical, between 1 and 100.",
                        company=company.display_name,
                    )
                )
