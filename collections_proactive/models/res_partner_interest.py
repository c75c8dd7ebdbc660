from odoo import models


class ResPartner(models.Model):
    """Collectors invoice a customer's late interest from its form."""

    _inherit = "res.partner"

    def action_collection_invoice_interest(self):
        self.ensure_one()
        return self._collection_interest_wizard_action(
            self.env.company, "res.partner", self.ids
        )

    def _collection_interest_wizard_action(self, company, model, ids):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Invoice Late Interest"),
            "res_model": "collection.interest.wizard",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "active_model": model,
                "active_ids": ids,
                "active_id": ids[0],
                "allowed_company_ids": [company.id],
            },
        }
