import threading
from datetime import date, datetime
from unittest.mock import patch

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import html2plaintext, mute_logger

from .common import CollectionsCommon

# 1 April 2026, 10:00 in Santiago (UTC-3): the first installment's date.
FIRST_DAY = datetime(2026, 4, 1, 13)


@tagged("post_install", "-at_install")
class TestAutoDebit(CollectionsCommon):
    """An active plan with a saved payment method gets each installment charged
    on its date, exactly once, with the outcome on the plan; a refused charge
    leaves the installment to its reminders."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.Transaction = cls.env["payment.transaction"].sudo()
        cls.Installment = cls.env["collection.payment.plan.installment"]
        cls.company.partner_id.tz = "America/Santiago"
        cls.customer = cls._cp_customer(
            "Cliente Debito", tz="America/Santiago", email="pagos@debito.example.com"
        )
        cls.invoices = cls._cp_invoice(
            cls.customer, 900, date(2026, 1, 15), date(2026, 2, 15)
        ) | cls._cp_invoice(cls.customer, 300, date(2026, 2, 1), date(2026, 3, 1))
        # Providers and tokens are the administrator's and the customer's.
        cls.provider = cls.env.ref("payment.payment_provider_demo").sudo()
        cls.provider.write({"company_id": cls.company.id, "state": "test"})
        cls.token = cls._token("done")
        cls.plan = cls._cp_accepted_plan(
            cls.customer, cls.invoices, date(2026, 4, 1), datetime(2026, 3, 22, 12)
        )
        cls.plan.payment_token_id = cls.token
        cls.first, cls.second = cls.plan.installment_ids[:2]

    @classmethod
    def _token(cls, simulated_state):
        return (
            cls.env["payment.token"]
            .sudo()
            .create(
                {
                    "provider_id": cls.provider.id,
                    "payment_method_id": cls.provider.payment_method_ids[:1].id,
                    "partner_id": cls.customer.id,
                    "payment_details": "4242",
                    "provider_ref": "demo",
                    "demo_simulated_state": simulated_state,
                }
            )
        )

    def _run(self, when):
        with freeze_time(when):
            return self.Installment._cron_debit_installments()

    def _charges(self, installments=None):
        return self.Transaction.search(
            [
                (
                    "collection_installment_id",
                    "in",
                    (installments or self.plan.installment_ids).ids,
                )
            ]
        )

    def _plan_notes(self):
        return " ".join(
            html2plaintext(body) for body in self.plan.message_ids.mapped("body")
        )

    def test_installment_charged_once_on_its_date(self):
        self.assertEqual(
            self._run(FIRST_DAY), {"charged": 1, "refused": 0, "pending": 0}
        )
        tx = self._charges()
        self.assertEqual(tx.collection_installment_id, self.first)
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.amount, 400)
        self.assertEqual(tx.token_id, self.token)
        self.assertEqual(tx.operation, "offline")
        self.assertEqual(tx.invoice_ids, self.invoices, "the plan's open invoices")
        # The payment is posted and reconciled with the oldest invoice first.
        self.assertEqual(tx.payment_id.amount, 400)
        self.assertNotEqual(tx.payment_id.state, "draft")
        self.assertEqual(self.invoices[0].amount_residual, 500)
        self.assertEqual(self.invoices[1].amount_residual, 300)
        # The installment shows paid at once, not at the next check.
        self.assertEqual(self.first.paid_amount, 400)
        with freeze_time(FIRST_DAY):
            self.assertEqual(self.first.state, "paid")
        self.assertIn(
            f"Installment 1 of 3: {self.plan.currency_id.format(400)} charged to "
            f"{self.token.display_name} "
            f"(transaction {tx.reference})",
            self._plan_notes(),
        )
        # Reruns, the same day and the next, charge nothing more.
        self.assertEqual(
            self._run(FIRST_DAY), {"charged": 0, "refused": 0, "pending": 0}
        )
        self._run(datetime(2026, 4, 2, 13))
        self.assertEqual(self._charges(), tx)
        # Nor by a worker that listed it before the charge was committed.
        with freeze_time(FIRST_DAY):
            self.assertIsNone(self.first.sudo()._debit())
        self.assertEqual(self._charges(), tx)
        # The next installment on its date.
        self._run(datetime(2026, 5, 1, 13))
        self.assertEqual(self._charges(self.second).amount, 400)
        self.assertEqual(self.second.paid_amount, 400)
        self.assertEqual(len(self._charges()), 2)

    def test_a_test_never_commits(self):
        """The debit commits in production only: never under a test runner
        (Odoo's and pytest-odoo flag the test thread), nor while the registry is
        in test mode (an HttpCase: its requests run on the test's cursor)."""
        thread = threading.current_thread()
        self.assertTrue(getattr(thread, "testing", False), "the runner's flag")
        installment = self.first.sudo()
        with patch.object(self.env.cr, "commit") as commit:
            installment._debit_commit()
            with patch.object(thread, "testing", False):
                self.registry.enter_test_mode(self.env.cr)
                try:
                    installment._debit_commit()
                finally:
                    self.registry.leave_test_mode()
                commit.assert_not_called()
                # Outside a test: committed.
                installment._debit_commit()
            commit.assert_called_once_with()
        # A whole run charges, and nothing of it reaches the database.
        self.assertEqual(self._run(FIRST_DAY)["charged"], 1)
        self.assertEqual(len(self._charges()), 1)
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM payment_transaction"
                " WHERE collection_installment_id = %s",
                [self.first.id],
            )
            self.assertEqual(cr.fetchone()[0], 0, "nothing committed")

    def test_refused_charge_is_logged_not_retried_and_reminders_go_on(self):
        self.plan.payment_token_id = self._token("error")
        self.assertEqual(
            self._run(FIRST_DAY), {"charged": 0, "refused": 1, "pending": 0}
        )
        tx = self._charges()
        self.assertEqual(tx.state, "error")
        self.assertFalse(tx.payment_id)
        self.assertEqual(self.first.paid_amount, 0)
        self.assertIn("was refused", self._plan_notes())
        self.assertIn(tx.state_message, self._plan_notes())
        # Never charged again, however many runs.
        with freeze_time(FIRST_DAY):
            self.assertFalse(self.Installment._debit_candidates(self.plan))
        self._run(FIRST_DAY)
        self._run(datetime(2026, 4, 3, 13))
        self.assertEqual(self._charges(), tx)
        # Monday 6 April, 5 days late: the installment's late reminder goes out.
        with freeze_time(datetime(2026, 4, 6, 13)):
            self.env["collection.reminder"]._cron_send_reminders()
        reminder = self.env["collection.reminder"].search(
            [("installment_id", "=", self.first.id)]
        )
        self.assertEqual(reminder.step_id.offset_days, 3)
        self.assertEqual(reminder.state, "sent")
        self.assertEqual(reminder.amount_total, 400)

    def test_provider_error_is_a_refusal_and_the_batch_goes_on(self):
        send = type(self.Transaction)._send_payment_request

        def _send_payment_request(tx):
            if tx.collection_installment_id == self.first:
                raise UserError(self.env._("Gateway timeout"))
            return send(tx)

        # Two installments fallen due in one run: the first charge raises.
        with (
            patch.object(
                type(self.Transaction), "_send_payment_request", _send_payment_request
            ),
            mute_logger(
                "odoo.addons.collections_proactive.models"
                ".collection_payment_plan_installment"
            ),
        ):
            result = self._run(datetime(2026, 5, 1, 13))
        self.assertEqual(result, {"charged": 1, "refused": 1, "pending": 0})
        failed = self._charges(self.first)
        self.assertEqual(failed.state, "error")
        self.assertEqual(failed.state_message, "Gateway timeout")
        self.assertEqual(self._charges(self.second).state, "done")
        self.assertIn("was refused", self._plan_notes())
        self.assertIn("Gateway timeout", self._plan_notes())

    def test_exactly_once_is_a_database_constraint(self):
        self._run(FIRST_DAY)
        tx = self._charges()
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(IntegrityError),
            self.env.cr.savepoint(),
        ):
            self.Transaction.create(
                {
                    "provider_id": self.provider.id,
                    "payment_method_id": tx.payment_method_id.id,
                    "reference": f"{tx.reference}-again",
                    "amount": 400,
                    "currency_id": tx.currency_id.id,
                    "partner_id": self.customer.id,
                    "collection_installment_id": self.first.id,
                }
            )
            self.env.flush_all()

    def test_nothing_charged_before_the_date_or_without_an_active_plan_and_token(
        self,
    ):
        # 1 April 02:00 UTC is still 31 March in Santiago.
        self._run(datetime(2026, 3, 31, 13))
        self._run(datetime(2026, 4, 1, 2))
        self.assertFalse(self._charges())
        # No payment method.
        self.plan.payment_token_id = False
        self._run(FIRST_DAY)
        self.assertFalse(self._charges())
        # An archived payment method.
        self.plan.payment_token_id = self.token
        self.token.active = False
        self._run(FIRST_DAY)
        self.assertFalse(self._charges())
        # A plan no longer active.
        self.token.active = True
        self.plan.action_cancel()
        self._run(FIRST_DAY)
        self.assertFalse(self._charges())

    def test_installment_paid_otherwise_is_not_charged(self):
        self._cp_pay(self.invoices[0], amount=400, payment_date=date(2026, 3, 31))
        self._run(FIRST_DAY)
        self.assertFalse(self._charges())
        self.assertEqual(self.first.paid_amount, 400)
        # Half of the second installment paid: the rest is charged on its date.
        self._cp_pay(self.invoices[0], amount=150, payment_date=date(2026, 4, 20))
        self._run(datetime(2026, 5, 1, 13))
        self.assertEqual(self._charges().amount, 250)
        self.assertEqual(self.second.paid_amount, 400)

    def test_late_installments_are_charged_in_order_fee_included(self):
        self.plan.action_cancel()
        customer = self._cp_customer("Cliente Cargo", tz="America/Santiago")
        invoice = self._cp_invoice(customer, 1200, date(2026, 2, 1), date(2026, 3, 1))
        plan = self._cp_accepted_plan(
            customer,
            invoice,
            date(2026, 4, 1),
            datetime(2026, 3, 22, 12),
            fee_amount=30,
        )
        token = self._token("done")
        token.partner_id = customer
        plan.payment_token_id = token
        # Saved only after the three dates: each is charged, oldest first, and
        # the last one pays the fee invoice too.
        result = self._run(datetime(2026, 6, 2, 13))
        self.assertEqual(result["charged"], 3)
        charges = self._charges(plan.installment_ids).sorted("id")
        self.assertEqual(charges.collection_installment_id, plan.installment_ids)
        self.assertEqual(charges.mapped("amount"), [410, 410, 410])
        self.assertEqual(charges[-1].invoice_ids, invoice | plan.fee_invoice_id)
        self.assertEqual(
            (invoice | plan.fee_invoice_id).mapped("payment_state"),
            ["paid", "paid"],
        )
        self.assertEqual(plan.installment_ids.mapped("paid_amount"), [410] * 3)
