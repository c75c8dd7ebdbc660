from datetime import date, datetime

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CollectionsCommon


@tagged("post_install", "-at_install")
class TestInstallmentReminders(CollectionsCommon):
    """An active plan's installments get the reminders of the company's installment
    strategy (days from each installment's date), under the contact policy, while
    the plan's invoices get none; a plan that ends cancels what is left."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.Reminder = cls.env["collection.reminder"]
        cls.company.partner_id.tz = "America/Santiago"
        cls.customer = cls._cp_customer(
            "Cliente Cuotas",
            tz="America/Santiago",
            email="pagos@cuotas.example.com",
        )
        cls.invoices = cls._cp_invoice(
            cls.customer, 900, date(2026, 1, 15), date(2026, 2, 15)
        ) | cls._cp_invoice(cls.customer, 300, date(2026, 2, 1), date(2026, 3, 1))
        cls.strategy = cls.env["collection.strategy"]._installment_strategy(cls.company)
        cls.plan = cls._cp_accepted_plan(
            cls.customer, cls.invoices, date(2026, 4, 1), datetime(2026, 3, 22, 12)
        )
        cls.first = cls.plan.installment_ids[0]

    def _run(self, when):
        with freeze_time(when):
            return self.Reminder._cron_send_reminders()

    def _reminders(self, installment=None):
        return self.Reminder.search(
            [("installment_id", "=", (installment or self.first).id)], order="id"
        )

    def _mails(self):
        return self.env["mail.mail"].search(
            [("recipient_ids", "in", self.customer.ids)], order="id"
        )

    def test_notice_under_the_contact_policy_then_nothing_once_paid(self):
        self.assertEqual(self.plan.state, "active")
        self.assertEqual(self.first.label, "1 of 3")
        # Sunday 29 March, 3 days before the first installment: planned, but
        # Sunday is outside the contact days.
        self._run(datetime(2026, 3, 29, 13))
        notice = self._reminders()
        self.assertEqual(len(notice), 1)
        self.assertEqual(notice.step_id.offset_days, -3)
        self.assertEqual(notice.plan_id, self.plan)
        self.assertEqual(notice.state, "planned")
        self.assertIn("Outside the contact hours", notice.reason)
        self.assertFalse(self._mails())
        # The covered invoices get no reminder of their own meanwhile.
        invoice_reminders = self.Reminder.search(
            [("partner_id", "=", self.customer.id), ("installment_id", "=", False)]
        )
        self.assertTrue(invoice_reminders)
        self.assertEqual(
            set(invoice_reminders.mapped("state")), {"skipped"}, "covered by the plan"
        )
        # Monday: sent, once, whatever the reruns.
        self._run(datetime(2026, 3, 30, 13))
        self._run(datetime(2026, 3, 30, 14))
        self.assertEqual(notice.state, "sent")
        mail = self._mails()
        self.assertEqual(len(mail), 1)
        self.assertIn("your installment of", mail.subject)
        self.assertIn(self.plan.name, mail.body_html)
        self.assertIn("1 of 3", mail.body_html)
        self.assertIn("400.00", mail.body_html)
        self.assertIn(
            f"/my/payment_plans/{self.plan.id}?access_token={self.plan.access_token}",
            mail.body_html,
        )
        self.assertIn(
            "Collection reminder (Email)",
            " ".join(self.plan.message_ids.mapped("body")),
            "logged on the plan",
        )
        self.assertEqual(len(self._reminders()), 1)
        # Paid the day before its date: no due-date reminder for it.
        self._cp_pay(self.invoices[0], amount=400, payment_date=date(2026, 3, 31))
        self._run(datetime(2026, 4, 1, 13))
        self.assertEqual(self.first.paid_amount, 400)
        self.assertEqual(self.first.state, "paid")
        self.assertEqual(len(self._reminders()), 1)
        self.assertEqual(len(self._mails()), 1)

    def test_payment_after_planning_cancels_the_reminder(self):
        # Planned at night (outside the contact hours), paid before the morning.
        self._run(datetime(2026, 3, 31, 2))
        notice = self._reminders()
        self.assertEqual(notice.state, "planned")
        self._cp_pay(self.invoices[0], amount=500, payment_date=date(2026, 3, 31))
        self._run(datetime(2026, 3, 31, 13))
        self.assertEqual(notice.state, "cancelled")
        self.assertEqual(notice.reason, "Installment paid before sending")
        self.assertFalse(self._mails())

    def test_late_installment_then_broken_plan_cancels_what_is_left(self):
        # Five days late: only the latest step reached (3 days late) goes out.
        self._run(datetime(2026, 4, 6, 13))
        late = self._reminders()
        self.assertEqual(late.mapped("step_id.offset_days"), [3])
        self.assertEqual(late.state, "sent")
        self.assertIn("is late", self._mails().subject)
        # The call step, planned at night and deferred to the morning.
        self._run(datetime(2026, 4, 8, 2))
        call = self._reminders() - late
        self.assertEqual(call.channel, "call")
        self.assertEqual(call.state, "planned")
        # Unpaid past the policy's 10 days: the plan breaks before the morning.
        with freeze_time(datetime(2026, 4, 12, 12)):
            self.env["collection.promise"]._cron_check_commitments()
        self.assertEqual(self.plan.state, "broken")
        self._run(datetime(2026, 4, 13, 13))
        self.assertEqual(call.state, "cancelled")
        self.assertEqual(call.reason, "The payment plan is no longer active")
        self.assertFalse(self._reminders(self.plan.installment_ids[1]))

    def test_exactly_once_is_a_database_constraint(self):
        self._run(datetime(2026, 3, 30, 13))
        notice = self._reminders()
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(IntegrityError),
            self.env.cr.savepoint(),
        ):
            notice.sudo().copy({"installment_id": notice.installment_id.id})
            self.env.flush_all()

    def test_fallback_channel_keeps_the_exactly_once_key(self):
        # The installment's date: its SMS goes by email (no mobile number), and
        # the key stays on the planned SMS, so that a planner that began before
        # it was sent cannot plan that SMS again.
        self._run(datetime(2026, 4, 1, 13))
        reminder = self._reminders()
        self.assertEqual(
            (reminder.planned_channel, reminder.channel, reminder.state),
            ("sms", "email", "sent"),
        )
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(IntegrityError),
            self.env.cr.savepoint(),
        ):
            reminder.sudo().copy(
                {"installment_id": reminder.installment_id.id, "channel": "sms"}
            )
            self.env.flush_all()

    def test_only_the_companys_installment_strategy_and_none_without_it(self):
        self.strategy.active = False
        self._run(datetime(2026, 3, 30, 13))
        self.assertFalse(self._reminders())
