from odoo import fields, models

from .res_partner import RISK_BANDS


class AccountMove(models.Model):
    _inherit = "account.move"

    # Written in bulk by collection.risk.scoring for customer invoices not yet paid.
    collection_late_probability = fields.Float(
        string="Late Payment Probability",
        readonly=True,
        copy=False,
        aggregator="avg",
        help="Probability, from 0 to 1, that this invoice is paid after its due "
        "date; 1 once it is overdue.",
    )
    collection_predicted_payment_date = fields.Date(
        string="Predicted Payment Date",
        readonly=True,
        copy=False,
        help="When this invoice is expected to be paid, from the customer's history.",
    )
    collection_expected_on_time_amount = fields.Monetary(
        string="Expected by Due Date",
        currency_field="company_currency_id",
        readonly=True,
        copy=False,
        help="Amount due times the probability of being paid on time.",
    )
    collection_risk_band = fields.Selection(
        RISK_BANDS,
        string="Customer Risk Band",
        readonly=True,
        copy=False,
        help="The customer's risk band when this invoice was last scored.",
    )
