import logging

from odoo import Command, api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

BATCH_SIZE = 100


class CollectionPaymentPlanInstallment(models.Model):
    """One installment of a payment plan: an amount due on a date. What is paid on
    it is allocated from the payments on the plan's lines, in date order."""

    _name = "collection.payment.plan.installment"
    _inherit = ["collection.debit.mixin"]
    _description = "Payment Plan Installment"
    _order = "plan_id, sequence, id"

    plan_id = fields.Many2one(
        "collection.payment.plan", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="plan_id.company_id", store=True)
    currency_id = fields.Many2one(related="plan_id.currency_id")
    sequence = fields.Integer(default=1)
    is_down_payment = fields.Boolean()
    date = fields.Date(required=True)
    amount = fields.Monetary(required=True, currency_field="currency_id")
    paid_amount = fields.Monetary(readonly=True, currency_field="currency_id")
    state = fields.Selection(
        [
            ("due", "Due"),
            ("partial", "Partially Paid"),
            ("paid", "Paid"),
            ("late", "Late"),
        ],
        compute="_compute_state",
    )

    @api.depends("amount", "paid_amount", "date")
    def _compute_state(self):
        today = fields.Date.context_today(self)
        for installment in self:
            currency = installment.currency_id
            if (
                currency.compare_amounts(installment.paid_amount, installment.amount)
                >= 0
            ):
                installment.state = "paid"
            elif installment.date and installment.date < today:
                installment.state = "late"
            elif not currency.is_zero(installment.paid_amount):
                installment.state = "partial"
            else:
                installment.state = "due"

    label = fields.Char(
        compute="_compute_label", help="Down payment, or its number in the schedule."
    )

    @api.depends("plan_id.installment_count", "sequence", "is_down_payment")
    def _compute_label(self):
        for installment in self:
            installment.label = (
                self.env._("down payment")
                if installment.is_down_payment
                else self.env._(
                    "%(number)s of %(count)s",
                    number=installment.sequence,
                    count=installment.plan_id.installment_count,
                )
            )

    @api.depends("plan_id.name", "label")
    def _compute_display_name(self):
        for installment in self:
            installment.display_name = (
                f"{installment.plan_id.name} - {installment.label}"
            )

    # ------------------------------------------------------------------
    # Automatic debit
    # ------------------------------------------------------------------

    @api.model
    def _cron_debit_installments(self, batch_size=BATCH_SIZE):
        """Scheduled action: charge the installments fallen due of active plans with
        a saved payment method, one batch per call (the cron calls again while
        some are left). Each installment is charged once, ever: its transaction
        is the mark, unique per installment in the database, and is committed
        before the provider is asked. A refused charge is not retried; the
        installment's reminders go on.

        Returns the counts of charges ``charged``, ``refused`` and ``pending``
        (awaiting the provider's confirmation)."""
        plans = (
            self.env["collection.payment.plan"]
            .sudo()
            .search(
                [
                    ("state", "=", "active"),
                    ("payment_token_id.active", "=", True),
                    (
                        "payment_token_id.provider_id.state",
                        "in",
                        ("enabled", "test"),
                    ),
                ]
            )
        )
        # What was paid otherwise (a transfer, the portal) is not charged again.
        plans._allocate_payments()
        todo = self._debit_candidates(plans)
        batch = self.sudo().browse(todo[:batch_size])
        counts = dict.fromkeys(("charged", "refused", "pending"), 0)
        for installment in batch:
            outcome = installment._debit()
            if outcome:
                counts[outcome] += 1
        self.env["ir.cron"]._notify_progress(
            done=len(batch), remaining=len(todo) - len(batch)
        )
        return counts

    @api.model
    def _debit_candidates(self, plans):
        """Ids of the installments of ``plans`` to charge now, oldest first: fallen
        due (the date has come in the customer's time zone, else the company's),
        something left to pay, no charge attempted yet, and an open line of the
        plan (or of its fee invoice) to pay."""
        if not plans:
            return []
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT i.id
                  FROM collection_payment_plan_installment i
                  JOIN collection_payment_plan pl ON pl.id = i.plan_id
                  JOIN res_partner p ON p.id = pl.partner_id
                  JOIN res_company c ON c.id = pl.company_id
                  JOIN res_partner cp ON cp.id = c.partner_id
                  JOIN res_currency cur ON cur.id = c.currency_id
                 WHERE pl.id = ANY(%(plans)s)
                   AND ROUND((i.amount - COALESCE(i.paid_amount, 0)) / cur.rounding) > 0
                   AND i.date <= (
                       %(now)s::timestamp AT TIME ZONE 'UTC' AT TIME ZONE
                       COALESCE(NULLIF(p.tz, ''), NULLIF(cp.tz, ''), 'UTC'))::date
                   AND NOT EXISTS (
                        SELECT 1 FROM payment_transaction tx
                         WHERE tx.collection_installment_id = i.id)
                   AND EXISTS (
                        SELECT 1 FROM account_move_line l
                          JOIN account_move m ON m.id = l.move_id
                         WHERE (l.move_id = pl.fee_invoice_id
                                OR l.id IN (SELECT rel.move_line_id
                                              FROM collection_plan_move_line_rel rel
                                             WHERE rel.plan_id = pl.id))
                           AND %(open)s)
                 ORDER BY i.date, i.id
                """,
                plans=plans.ids,
                now=fields.Datetime.now(),
                open=self.env["account.move.line"]._collection_open_sql(owed_only=True),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    # Hooks of the debit engine (collection.debit.mixin)

    def _debit_logger(self):
        return _logger

    def _debit_lock_sql(self, target):
        """The installment, locked, while it has no transaction."""
        return SQL(
            """SELECT i.id FROM collection_payment_plan_installment i
                WHERE i.id = %s
                  AND NOT EXISTS (
                       SELECT 1 FROM payment_transaction tx
                        WHERE tx.collection_installment_id = i.id)
                  FOR UPDATE OF i SKIP LOCKED""",
            target.id,
        )

    def _debit_transaction_values(self, target):
        """What is left on this installment (at most what is left on the plan's
        open lines, which it pays oldest due first), charged to the plan's
        payment method."""
        plan = target.plan_id
        token = plan.payment_token_id
        lines = plan._lines_to_pay()
        invoices = lines.move_id
        amount = plan.currency_id.round(
            min(
                target.amount - target.paid_amount,
                sum(lines.mapped("amount_residual")),
            )
        )
        Transaction = self.env["payment.transaction"]
        return {
            "provider_id": token.provider_id.id,
            "payment_method_id": token.payment_method_id.id,
            "token_id": token.id,
            "reference": Transaction._compute_reference(
                token.provider_id.code,
                prefix=f"{plan.name}-{target.sequence}",
            ),
            "amount": amount,
            "currency_id": plan.currency_id.id,
            "partner_id": plan.partner_id.id,
            "operation": "offline",
            "invoice_ids": [Command.set(invoices.ids)],
            "collection_installment_id": target.id,
        }

    def _debit_log(self, tx, outcome, target):
        target.plan_id.message_post(
            body=target._debit_message(tx, outcome),
            message_type="comment",
            subtype_xmlid="mail.mt_note",
        )

    def _debit_message(self, tx, outcome):
        values = {
            "installment": self.label,
            "amount": tx.currency_id.format(tx.amount),
            "method": tx.token_id.display_name,
            "reference": tx.reference,
        }
        if outcome == "charged":
            return self.env._(
                "Installment %(installment)s: %(amount)s charged to %(method)s "
                "(transaction %(reference)s).",
                **values,
            )
        if outcome == "pending":
            return self.env._(
                "Installment %(installment)s: the charge of %(amount)s to %(method)s "
                "awaits the provider's confirmation (transaction %(reference)s).",
                **values,
            )
        states = dict(tx._fields["state"]._description_selection(self.env))
        return self.env._(
            "Installment %(installment)s: the charge of %(amount)s to %(method)s was "
            "refused (transaction %(reference)s): %(reason)s. It is not retried; "
            "the installment's reminders go on.",
            reason=tx.state_message or states[tx.state],
            **values,
        )
