from odoo import api, models

from ..tools.amount_words import amount_in_words
from ..tools.portal_access import report_docs


class ReportPaymentPlan(models.AbstractModel):
    _name = "report.collections_proactive.report_payment_plan"
    _description = "Payment Plan Agreement"

    @api.model
    def _get_report_values(self, docids, data=None):
        docs = report_docs(self.env["collection.payment.plan"], docids)
        return {
            "doc_ids": docs.ids,
            "doc_model": docs._name,
            "docs": docs,
            "data": data,
            # The total in words, its unit in the singular or plural, in the
            # customer's language.
            "amount_in_words": amount_in_words,
        }
