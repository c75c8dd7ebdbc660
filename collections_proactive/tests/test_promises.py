from datetime import date, datetime, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import CollectionsCommon

DUE = date(2026, 3, 20)


def three_term_invoice(test, partner, invoice_date, amount=1000):
    """A posted customer invoice of ``amount`` due in three terms, 30, 60 and 90
    days after ``invoice_date`` (30%, 30% and 40%), and its receivable lines in
    date order: three amounts due, each on its own date."""
    terms = test.env["account.payment.term"].create(
        {
            "name": "30/60/90",
            "line_ids": [
                Command.create(
                    {"value": "percent", "value_amount": percent, "nb_days": days}
                )
                for percent, days in ((30, 30), (30, 60), (40, 90))
            ],
        }
    )
    invoice = test.env["account.move"].create(
        {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "invoice_date": invoice_date,
            "invoice_payment_term_id": terms.id,
            "invoice_line_ids": [
                Command.create(
                    {
                        "name": "Goods",
                        "quantity": 1,
                        "price_unit": amount,
                        "tax_ids": [Command.clear()],
                    }
                )
            ],
        }
    )
    invoice.action_post()
    lines = invoice.line_ids.filtered(
        lambda line: line.display_type == "payment_term"
    ).sorted("date_maturity")
    return invoice, lines


@tagged("post_install", "-at_install")
class TestPromises(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_user"
        )
        cls.Promise = cls.env["collection.promise"]
        cls.Reminder = cls.env["collection.reminder"]
        cls.customer = cls._cp_customer("Cliente Promesa", tz="America/Santiago")
        cls.invoice = cls._cp_invoice(cls.customer, 1000, date(2026, 2, 18), DUE)
        cls.company.collection_escalation_user_id = cls.collections_manager

    def _promise(self, when, **values):
        with freeze_time(when):
            return self.Promise.with_user(self.collector).create(
                {
                    "partner_id": self.customer.id,
                    "invoice_ids": [Command.set(self.invoice.ids)],
                    "amount": 1000,
                    "promised_date": date(2026, 3, 27),
                    "source": "call",
                    **values,
                }
            )

    def _check(self, when):
        with freeze_time(when):
            return self.Promise._cron_check_commitments()

    def _case(self):
        return self.env["collection.case"].search(
            [("partner_id", "=", self.customer.id), ("state", "=", "open")]
        )

    def test_collector_logs_a_promise_from_the_case_form(self):
        with freeze_time(datetime(2026, 3, 21, 12)):
            self.env["collection.case"]._sync_cases(self.company)
            action = self._case().with_user(self.collector).action_log_promise()
            form = Form(
                self.Promise.with_user(self.collector).with_context(**action["context"])
            )
            self.assertEqual(form.amount, 1000)
            self.assertEqual(form.promised_date, date(2026, 3, 28))
            form.promised_date = date(2026, 3, 25)
            promise = form.save()
        self.assertEqual(promise.invoice_ids, self.invoice)
        self.assertEqual(len(promise.move_line_ids), 1, "its one due date")
        self.assertEqual(promise.move_line_ids.move_id, self.invoice)
        self.assertEqual(promise.user_id, self.collector)
        self.assertEqual(promise.grace_until, date(2026, 3, 27), "2 days of grace")
        self.assertEqual(self._case().stage_id.role, "promise")
        self.assertEqual(self._case().promise_date, date(2026, 3, 25))
        self.assertFalse(self._case().has_broken_promise)
        self.assertIn("Promise to pay", self.customer.message_ids[0].body)

    def test_promise_pauses_reminders_then_kept(self):
        # Logged before the due date: no case needed otherwise, one is opened.
        self._promise(datetime(2026, 3, 16, 12))
        self.assertEqual(self._case().stage_id.role, "promise")
        with freeze_time(datetime(2026, 3, 25, 13)):
            self.Reminder._cron_send_reminders()
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminder.state, "skipped")
        self.assertEqual(reminder.reason, "Covered by a promise to pay")
        self.assertFalse(
            self.env["mail.mail"].search([("recipient_ids", "in", self.customer.ids)])
        )
        self._cp_pay(self.invoice, payment_date=date(2026, 3, 26))
        result = self._check(datetime(2026, 3, 26, 12))
        self.assertEqual((result["kept"], result["broken"]), (1, 0))
        promise = self.Promise.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(promise.state, "kept")
        self.assertEqual(promise.paid_amount, 1000)

    def test_broken_promise_escalates_and_reminders_resume(self):
        promise = self._promise(datetime(2026, 3, 21, 12))
        # Half paid, on time: not enough.
        self._cp_pay(self.invoice, amount=500, payment_date=date(2026, 3, 26))
        self.assertEqual(self._check(datetime(2026, 3, 28, 12))["broken"], 0)
        self.assertEqual(promise.state, "open", "still in its grace period")
        self.assertEqual(promise.paid_amount, 500)
        result = self._check(datetime(2026, 3, 30, 12))
        self.assertEqual((result["kept"], result["broken"]), (0, 1))
        self.assertEqual(promise.state, "broken")
        case = self._case()
        self.assertEqual(case.stage_id.role, "escalated")
        self.assertTrue(case.has_broken_promise)
        self.assertEqual(
            self.env["collection.case"].search(
                [
                    ("has_broken_promise", "=", True),
                    ("partner_id", "=", self.customer.id),
                ]
            ),
            case,
        )
        self.assertEqual(case.activity_ids.user_id, self.collections_manager)
        # The low-risk ladder's +5 step was skipped meanwhile; nothing is owed twice,
        # and the broken promise counts in the risk score.
        broken = self.env[
            "collection.risk.scoring"
        ]._collection_risk_broken_commitments(
            [self.customer.id], self.company, date(2026, 1, 1), date(2026, 4, 1)
        )
        self.assertEqual(broken, {self.customer.id: 1})
        # Broken, the promise no longer holds the reminders: the +5 step goes.
        with freeze_time(datetime(2026, 4, 1, 12)):
            self.env["collection.reminder.planner"]._plan_reminders(
                companies=self.company
            )
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminder.step_id.offset_days, 5)
        self.assertEqual(reminder.state, "planned")

    def test_promise_kept_rate_in_the_kpis(self):
        self._promise(datetime(2026, 3, 21, 12))
        self._check(datetime(2026, 3, 30, 12))
        other = self._cp_customer("Cliente Cumple")
        invoice = self._cp_invoice(other, 300, date(2026, 2, 18), DUE)
        with freeze_time(datetime(2026, 3, 21, 12)):
            self.Promise.create(
                {
                    "partner_id": other.id,
                    "invoice_ids": [Command.set(invoice.ids)],
                    "amount": 300,
                    "promised_date": date(2026, 3, 24),
                }
            )
        self._cp_pay(invoice, payment_date=date(2026, 3, 23))
        self._check(datetime(2026, 3, 23, 12))
        self.env.flush_all()
        [(rate, kept, closed)] = self.env["collection.kpi.report"]._read_group(
            [("company_id", "=", self.company.id), ("date", "=", date(2026, 3, 1))],
            [],
            ["promise_kept_rate:sum", "promises_kept:sum", "promises_closed:sum"],
        )
        # One kept out of two due in March: 50%.
        self.assertEqual((kept, closed), (1, 2))
        self.assertAlmostEqual(rate, 50.0)

    def test_bad_input_is_refused_without_writing(self):
        when = datetime(2026, 3, 21, 12)
        stranger = self._cp_customer("Otro Cliente")
        theirs = self._cp_invoice(stranger, 100, date(2026, 2, 18), DUE)
        for values, message in (
            ({"promised_date": date(2026, 3, 1)}, "cannot be past"),
            # The company's limit: 30 days ahead by default.
            ({"promised_date": date(2026, 4, 21)}, "at most 30 days ahead"),
            ({"amount": 5000}, "more than what is left"),
            ({"amount": 0}, "positive amount"),
            (
                {"invoice_ids": [Command.set((self.invoice | theirs).ids)]},
                "Only open posted invoices",
            ),
        ):
            # assertRaises rolls back to a savepoint, as the request would.
            with self.assertRaises(ValidationError) as caught:
                self._promise(when, **values)
            self.assertIn(message, str(caught.exception))
        self.assertFalse(self.Promise.search([]))
        # The last day allowed, then a manager beyond it.
        self.assertTrue(self._promise(when, promised_date=date(2026, 4, 20)))
        with freeze_time(when):
            beyond = self.Promise.with_user(self.collections_manager).create(
                {
                    "partner_id": self.customer.id,
                    "invoice_ids": [Command.set(self.invoice.ids)],
                    "amount": 500,
                    "promised_date": date(2026, 6, 1),
                }
            )
        self.assertEqual(
            beyond.grace_until,
            date(2026, 6, 1)
            + timedelta(days=self.company.collection_promise_grace_days),
        )
        # From the invoice list, invoices of two customers: refused.
        with self.assertRaises(UserError):
            (self.invoice | theirs).action_collection_log_promise()
        # A paid invoice has nothing to promise.
        self._cp_pay(theirs)
        with self.assertRaises(UserError):
            theirs.action_collection_log_promise()

    # ------------------------------------------------------------------
    # Receivable lines, not invoices
    # ------------------------------------------------------------------

    def test_promise_covers_the_overdue_installment_only(self):
        """30/60/90 days: on 25 March the first third is overdue, the others
        fall due in April and May. A promise on what is overdue covers that
        line, for its amount, and only payments on it count."""
        customer = self._cp_customer("Cliente Cuotas")
        invoice, lines = three_term_invoice(self, customer, date(2026, 2, 18))
        self.assertEqual(lines.mapped("amount_residual"), [300, 300, 400])
        self.assertEqual(lines[0].date_maturity, date(2026, 3, 20))
        with freeze_time(datetime(2026, 3, 25, 12)):
            action = customer.with_user(self.collector).action_collection_log_promise()
            context = action["context"]
            self.assertEqual(
                context["default_move_line_ids"],
                [Command.set(lines[0].ids)],
                "what is overdue: not the installments due in April and May",
            )
            self.assertEqual(context["default_amount"], 300)
            promise = self.Promise.with_user(self.collector).create(
                {
                    "partner_id": customer.id,
                    "move_line_ids": [Command.set(lines[0].ids)],
                    "amount": 300,
                    "promised_date": date(2026, 3, 31),
                }
            )
            # assertRaises rolls back to a savepoint, as the request would.
            with self.assertRaises(ValidationError) as caught:
                promise.amount = 301
            self.assertIn("more than what is left", str(caught.exception))
        self.assertEqual(promise.invoice_ids, invoice)
        self.assertIn("(installment 1 of 3)", promise._summary())
        # The whole invoice paid: only the line promised counts for the promise.
        self._cp_pay(invoice, amount=1000, payment_date=date(2026, 3, 30))
        self.assertTrue(all(lines.mapped("reconciled")))
        self._check(datetime(2026, 3, 30, 12))
        self.assertEqual(promise.state, "kept")
        self.assertEqual(promise.paid_amount, 300)

    def test_promise_given_invoices_covers_their_open_lines(self):
        """What older callers give (``invoice_ids``) becomes the invoices' open
        lines: a paid installment is not promised again."""
        invoice, lines = three_term_invoice(self, self.customer, date(2026, 1, 10))
        self._cp_pay(invoice, amount=300, payment_date=date(2026, 2, 15))
        self.assertTrue(lines[0].reconciled)
        promise = self._promise(
            datetime(2026, 3, 21, 12),
            invoice_ids=[Command.set(invoice.ids)],
            amount=700,
        )
        self.assertEqual(promise.move_line_ids, lines[1:])
        self.assertEqual(promise.invoice_ids, invoice)
