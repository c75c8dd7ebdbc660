from odoo import api, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    @api.model
    def _reconcile_plan(self, reconciliation_plan):
        """Override of ``account``: once the payment is matched (the register
        wizard, the portal, a bank statement), the cases of the customers it
        paid show it at once, not at the next *Update Cases*."""
        result = super()._reconcile_plan(reconciliation_plan)
        self._collection_plan_lines(reconciliation_plan)._collection_sync_cases()
        return result

    @api.model
    def _collection_plan_lines(self, plan):
        """Every line of a reconciliation plan (recordsets, nested lists)."""
        lines = self.browse()
        for item in plan:
            lines |= (
                self._collection_plan_lines(item)
                if isinstance(item, (list, tuple))
                else item
            )
        return lines

    def _collection_sync_cases(self):
        """Bring up to date what the engine says next for the customers of
        these lines' receivables: their planned reminders decided again (a paid
        invoice's are cancelled) and their cases synced, in one set-based pass
        for all of them, whatever the number of lines or invoices."""
        receivable = self.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        if receivable:
            self.env["collection.case"].sudo()._collection_refresh(
                receivable.move_id.commercial_partner_id, receivable.company_id
            )


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    def unlink(self):
        """A payment unmatched: the open cases of its customers owe it again."""
        lines = self.debit_move_id | self.credit_move_id
        result = super().unlink()
        lines.exists()._collection_sync_cases()
        return result
