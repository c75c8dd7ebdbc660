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
    # Automatic debit of an invoice's due date under an autopay mandate.
    collection_autopay_id = fields.Many2one(
        "collection.autopay",
        string="Automatic Debit Mandate",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
    )
    collection_move_line_id = fields.Many2one(
        "account.move.line",
        string="Receivable Line Charged",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The receivable line (an invoice's due date) this automatic debit "
        "charged under the customer's autopay mandate.",
    )
    collection_attempt = fields.Integer(
        string="Debit Attempt",
        readonly=True,
        copy=False,
        help="1 for the charge on the due date, then one more per retry after a "
        "refusal.",
    )

    _sql_constraints = [
        (
            "collection_attempt_numbered",
            "CHECK (collection_move_line_id IS NULL OR collection_attempt >= 1)",
            "An automatic debit of a receivable line is numbered from 1.",
        ),
    ]

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
        # Exactly once per attempt: a receivable line is charged at most once on
        # its due date and once per retry the company allows, ever.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS
                      payment_transaction_collection_move_line_attempt_unique
                   ON payment_transaction (collection_move_line_id, collection_attempt)
                WHERE collection_move_line_id IS NOT NULL"""
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
