from odoo import models


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    def unlink(self):
        """A payment unmatched: the open cases of its customers owe it again."""
        lines = self.debit_move_id | self.credit_move_id
        result = super().unlink()
        lines.exists()._collection_sync_cases()
        return result
