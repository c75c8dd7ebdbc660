from odoo import api, models

from ..tools.portal_access import report_docs


class ReportCollectionLetter(models.AbstractModel):
    _name = "report.collections_proactive.report_collection_letter"
    _description = "Collection Letter"

    @api.model
    def _get_report_values(self, docids, data=None):
        docs = report_docs(self.env["collection.reminder"], docids)
        return {
            "doc_ids": docs.ids,
            "doc_model": docs._name,
            "docs": docs,
            "data": data,
        }
