import logging
import threading

import psycopg2

from odoo import models
from odoo.tools import mute_logger

_logger = logging.getLogger(__name__)


class CollectionDebitMixin(models.AbstractModel):
    """The automatic debit engine: charge a customer's saved payment method for
    something it owes, exactly once, and keep the outcome.

    One engine for every kind of debit (a plan's installments, the invoices of a
    customer under an autopay mandate). A debit goes in three durable steps:

    1. under a lock, the transaction is created, unless one exists already for
       what is charged (a unique index on ``payment.transaction`` has the last
       word) and committed: a worker that crashes after the provider charged
       leaves it behind, and nothing is charged twice;
    2. the provider is asked; its answer (or its failure, as a refusal) is
       committed;
    3. a charge done is posted (the payment and its reconciliation), the
       outcome logged.

    What changes per kind is asked of the model through the ``_debit_*`` hooks,
    each given ``target``: what is charged (the installment itself, or one
    receivable line of a mandate's customer)."""

    _name = "collection.debit.mixin"
    _description = "Automatic Debit Engine"

    # ------------------------------------------------------------------
    # Hooks
    # ------------------------------------------------------------------

    def _debit_lock_sql(self, target):
        """SQL returning a row when ``target`` may be charged now, locking what
        guards it (``FOR UPDATE ... SKIP LOCKED``); no row when another worker
        holds it or its transaction exists."""
        raise NotImplementedError()

    def _debit_transaction_values(self, target):
        """The values of the transaction charging ``target``."""
        raise NotImplementedError()

    def _debit_log(self, tx, outcome, target):
        """Keep the outcome (``charged``, ``refused``, ``pending``) of ``tx``
        where the staff reads it."""
        raise NotImplementedError()

    def _debit_logger(self):
        """The logger the debit's failures are told to: the module's of the
        model that charges."""
        return _logger

    # ------------------------------------------------------------------
    # The engine
    # ------------------------------------------------------------------

    def _debit(self, target=None):
        """Charge ``target`` (default: this record) and log the outcome.
        Returns ``"charged"``, ``"refused"``, ``"pending"``, or None when another
        worker charges it (or has charged it)."""
        self.ensure_one()
        target = self if target is None else target
        tx = self._debit_transaction(target)
        if not tx:
            return None
        # Committed before the provider is asked: a crash after the charge leaves
        # the transaction behind, and the same thing is never charged again.
        self._debit_commit()
        try:
            with self.env.cr.savepoint():
                tx._send_payment_request()
        except Exception as error:  # noqa: BLE001 - logged, a refusal
            # Whatever the provider's failure (a refusal raised, a timeout), it
            # counts as a refusal and the next debits of the batch go on.
            self._debit_logger().warning(
                "Automatic debit %s of %s failed",
                tx.reference,
                target,
                exc_info=True,
            )
            tx._set_error(str(error))
        # What the provider answered is kept whatever happens next.
        self._debit_commit()
        if tx.state == "done":
            outcome = "charged"
            try:
                with self.env.cr.savepoint():
                    tx._post_process()
            except Exception:  # noqa: BLE001 - logged, retried by payment
                # The customer paid: the payment module's post-processing cron
                # retries what failed here (the accounting, not the charge).
                self._debit_logger().exception(
                    "Post-processing of automatic debit %s failed", tx.reference
                )
        elif tx.state in ("error", "cancel"):
            outcome = "refused"
        else:
            # The provider confirms later; its notification finishes the payment.
            outcome = "pending"
        self._debit_log(tx, outcome, target)
        self._debit_commit()
        return outcome

    def _debit_transaction(self, target):
        """A draft transaction charging ``target``, or an empty recordset when
        another worker has it: it holds its lock, or its transaction exists
        (then the unique index refuses a second one)."""
        Transaction = self.env["payment.transaction"].sudo()
        self.env.flush_all()
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self.env.cr.execute(self._debit_lock_sql(target))
                if not self.env.cr.fetchone():
                    return Transaction
                tx = Transaction.create(self._debit_transaction_values(target))
                # The unique index has its say here, inside the savepoint.
                tx.flush_recordset()
                return tx
        except (psycopg2.errors.SerializationFailure, psycopg2.errors.UniqueViolation):
            # Another worker charged it since this transaction began.
            self._debit_logger().info("%s charged by another worker: skipped", target)
            return Transaction

    def _debit_commit(self):
        """Commit the automatic debit so far, except under a test runner: a
        test's cursor never commits. Tested the way Odoo's own code tells (hr,
        sale_timesheet): the runner flags its thread ``testing`` (Odoo's runner
        and pytest-odoo alike), and an HttpCase puts the registry in test mode,
        where requests share the test's cursor."""
        if (
            getattr(threading.current_thread(), "testing", False)
            or self.env.registry.in_test_mode()
        ):
            return
        # A charge reaches the outside world: its mark must be durable before
        # the provider is asked, and the provider's answer right after.
        self.env.cr.commit()  # pylint: disable=invalid-commit
