from odoo import fields, models


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    # No ORM index: the partial unique index of ``init`` serves the lookups.
    collection_installment_id = fields.Many2one(
        "collection.payment.plan.installment",
        string="Installment",
        readonly=True,
        copy=False,
        ondelete="restrict",
        help="The payment plan installment this automatic debit charged.",
    )

    def init(self):
        res = super().init()
        # Exactly once: an installment is charged at most one time, ever. A
        # refused charge is not retried (the installment's reminders take over),
        # and a worker that crashed after the charge cannot charge again.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS
                      payment_transaction_collection_installment_unique
                   ON payment_transaction (collection_installment_id)
                WHERE collection_installment_id IS NOT NULL"""
        )
        return res

    def _post_process(self):
        """Override of ``account_payment``: once a payment of a plan's invoices is
        confirmed (an automatic debit, or the customer paying an installment from
        the portal), the installments show it at once, not at the next check."""
        res = super()._post_process()
        invoices = self.filtered(lambda tx: tx.state == "done").invoice_ids
        if invoices:
            self.env["collection.payment.plan"].sudo().search(
                [
                    ("state", "=", "active"),
                    "|",
                    ("invoice_ids", "in", invoices.ids),
                    ("fee_invoice_id", "in", invoices.ids),
                ]
            )._allocate_payments()
        return res
