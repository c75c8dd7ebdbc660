from datetime import date, datetime

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import format_date, mute_logger

from odoo.addons.sms.tests.common import SMSCase

from .common import CollectionsCommon

# Friday 2026-03-20: the due date. Santiago is UTC-3 in March.
DUE = date(2026, 3, 20)


@tagged("post_install", "-at_install")
class TestReminders(CollectionsCommon, SMSCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Reminder = cls.env["collection.reminder"]
        # The emails as the module ships them (a database updated from an older
        # version may hold older copies: the templates are kept on update).
        for kind in ("issued", "notice", "due", "overdue"):
            cls.env.ref(
                f"collections_proactive.mail_template_reminder_{kind}"
            ).reset_template()
        cls.company.partner_id.tz = "America/Santiago"
        cls.strategies = cls.env["collection.strategy"].search(
            [("company_id", "=", cls.company.id)]
        )
        cls.low = cls.strategies.filtered("band_low")
        cls.high = cls.strategies.filtered("band_high")
        cls.customer = cls._cp_customer(
            "Cliente Uno",
            tz="America/Santiago",
            mobile="+56 9 5555 1111",
            email="pagos@cliente-uno.example.com",
        )
        cls.invoice = cls._cp_invoice(cls.customer, 1000, date(2026, 2, 18), DUE)

    def _run(self, when, **kwargs):
        with freeze_time(when):
            return self.Reminder._cron_send_reminders(**kwargs)

    def _mails(self, partner=None):
        partner = partner or self.customer
        return self.env["mail.mail"].search(
            [("recipient_ids", "in", partner.ids)], order="id"
        )

    def test_shipped_strategies(self):
        self.assertEqual(len(self.strategies), 5)
        installments = self.strategies.filtered(
            lambda s: s.applies_to == "installments"
        )
        self.assertEqual(installments.step_ids.mapped("offset_days"), [-3, 0, 3, 6])
        self.assertFalse(installments._bands())
        self.assertTrue(self.low.is_default)
        self.assertEqual(
            self.low.step_ids.mapped("kind"), ["issued", "notice", "overdue"]
        )
        self.assertEqual(self.low.step_ids.mapped("offset_days"), [0, -3, 5])
        self.assertTrue(self.low.step_ids[0].new_customers_only)
        self.assertFalse(self.high.step_ids[0].new_customers_only)
        # The thank-you ships switched off, one click away in every ladder.
        thanks = self.low.with_context(active_test=False).step_ids - self.low.step_ids
        self.assertEqual(thanks.kind, "thanks")
        self.assertFalse(thanks.active)
        high_steps = self.high.step_ids.filtered(lambda s: s.offset_from == "due")
        self.assertLess(high_steps[0].offset_days, -3, "high risk hears earlier")
        self.assertEqual(
            high_steps.filtered(lambda s: s.offset_days == 0)._channels(), ["sms"]
        )
        self.assertEqual(
            high_steps.filtered(lambda s: s.offset_days == 1)._channels(), ["call"]
        )

    def test_notice_on_exact_day_in_customer_time_zone(self):
        # 2026-03-17 00:30 UTC is still the 16th in Santiago: nothing yet.
        self._run(datetime(2026, 3, 17, 0, 30))
        self.assertFalse(self.Reminder.search([("partner_id", "=", self.customer.id)]))
        # Tuesday 17th, 10:00 in Santiago: the -3 notice goes.
        self._run(datetime(2026, 3, 17, 13, 0))
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(reminder), 1)
        self.assertEqual(reminder.state, "sent")
        self.assertEqual(reminder.kind, "notice")
        self.assertEqual(reminder.channel, "email")
        mail = self._mails()
        self.assertEqual(len(mail), 1)
        self.assertIn("upcoming due date", mail.subject)
        body = str(mail.body_html)
        self.assertIn(self.invoice.name, body)
        self.assertIn(
            self.invoice._collection_link_signature(),
            body,
            "the pay link is signed: it works without a login",
        )
        self.assertFalse(
            self.invoice.access_token, "the portal token is made when it is followed"
        )
        self.assertIn("/collections/optout/email/", body)
        self.assertNotIn("past their due date", body, "a notice is not a demand")
        self.assertIn(reminder.message_id, self.customer.message_ids)
        self.assertIn("Collection reminder", self.invoice.message_ids[0].body)

    def test_rewritten_template_of_portal_links_gets_the_tokens(self):
        """A notice template a company rewrote before the signed links, which
        still builds them from the portal URL: its invoices get their tokens
        when it is sent (in one statement), so that its links work."""
        template = self.env.ref("collections_proactive.mail_template_reminder_notice")
        template.body_html = str(template.body_html).replace(
            "object._collection_invoice_url(line.move_id)",
            "object.partner_id.get_base_url() + line.move_id.sudo().get_portal_url()",
        )
        self.assertIn("get_portal_url", str(template.body_html))
        self._run(datetime(2026, 3, 17, 13, 0))
        self.invoice.invalidate_recordset(["access_token"])
        self.assertTrue(self.invoice.access_token)
        body = str(self._mails().body_html)
        self.assertIn(
            f"/my/invoices/{self.invoice.id}?access_token={self.invoice.access_token}",
            body,
        )

    def test_cron_plans_once_per_run_not_on_each_call(self):
        other = self._cp_customer("Cliente Dos", tz="America/Santiago")
        self._cp_invoice(other, 500, date(2026, 2, 18), DUE)
        cron = self.env.ref("collections_proactive.ir_cron_send_reminders")

        def call():
            # As ir.cron runs a job: a progress record per call, then the method.
            job, progress = cron._add_progress()
            with freeze_time(datetime(2026, 3, 17, 13, 0)):
                job.env["collection.reminder"]._cron_send_reminders(batch_size=1)
            return progress

        first = call()
        self.assertEqual((first.done, first.remaining), (1, 1))
        late = self._cp_customer("Cliente Tres", tz="America/Santiago")
        self._cp_invoice(late, 300, date(2026, 2, 18), DUE)
        second = call()
        self.assertEqual((second.done, second.remaining), (1, 0))
        self.assertFalse(
            self.Reminder.search([("partner_id", "=", late.id)]),
            "a call continuing a run does not scan the ledger again",
        )
        third = call()
        self.assertEqual((third.done, third.remaining), (1, 0))
        self.assertEqual(
            self.Reminder.search([("partner_id", "=", late.id)]).state, "sent"
        )

    def test_paid_invoice_gets_nothing(self):
        self._cp_pay(self.invoice, payment_date=date(2026, 3, 10))
        self._run(datetime(2026, 3, 17, 13, 0))
        self.assertFalse(self.Reminder.search([("partner_id", "=", self.customer.id)]))

    def test_five_invoices_one_message_and_reruns_send_nothing_twice(self):
        invoices = self.invoice
        for amount in (200, 300, 400, 500):
            invoices |= self._cp_invoice(self.customer, amount, date(2026, 2, 18), DUE)
        self._run(datetime(2026, 3, 17, 13, 0))
        self._run(datetime(2026, 3, 17, 14, 0))
        self._run(datetime(2026, 3, 18, 13, 0))
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(reminder), 1)
        self.assertEqual(reminder.line_ids.move_id, invoices)
        self.assertEqual(reminder.amount_total, 2400)
        self.assertEqual(len(self._mails()), 1)
        for invoice in invoices:
            self.assertIn(invoice.name, str(self._mails().body_html))

    def test_database_refuses_a_step_twice(self):
        self._run(datetime(2026, 3, 17, 13, 0))
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(IntegrityError),
            self.cr.savepoint(),
        ):
            self.env["collection.reminder.line"].sudo().create(
                {
                    "reminder_id": reminder.id,
                    "move_id": self.invoice.id,
                    "move_line_id": reminder.line_ids.move_line_id.id,
                    "step_id": reminder.step_id.id,
                    "channel": "email",
                }
            )
        # A second planner racing the first creates nothing and raises nothing.
        again = self.env["collection.reminder.planner"]._insert_exactly_once(
            self.company,
            [
                (
                    self.customer.id,
                    reminder.step_id.id,
                    "email",
                    None,
                    [(reminder.line_ids.move_line_id.id, self.invoice.id, 1000.0)],
                )
            ],
            datetime(2026, 3, 17, 13, 0),
        )
        self.assertFalse(again)
        self.assertEqual(
            self.Reminder.search_count([("partner_id", "=", self.customer.id)]), 1
        )

    def test_crash_after_first_batch_then_rerun_sends_each_once(self):
        customers = self.customer
        for index in range(3):
            partner = self._cp_customer(f"Cliente {index}", tz="America/Santiago")
            self._cp_invoice(partner, 100, date(2026, 2, 18), DUE)
            customers |= partner
        self._run(datetime(2026, 3, 17, 13, 0), batch_size=2)
        sent = self.Reminder.search([("state", "=", "sent")])
        self.assertEqual(len(sent), 2)
        original = type(self.Reminder)._deliver

        def crash_after_delivering(reminders, channels):
            original(reminders, channels)
            raise KeyboardInterrupt("worker killed")

        # The worker dies in the middle of the second batch: its transaction is lost.
        with self.assertRaises(KeyboardInterrupt), self.cr.savepoint():
            type(self.Reminder)._deliver = crash_after_delivering
            try:
                self._run(datetime(2026, 3, 17, 13, 5), batch_size=2)
            finally:
                type(self.Reminder)._deliver = original
        self._run(datetime(2026, 3, 17, 13, 10), batch_size=2)
        self._run(datetime(2026, 3, 17, 13, 15), batch_size=2)
        reminders = self.Reminder.search([("partner_id", "in", customers.ids)])
        self.assertEqual(len(reminders), 4)
        self.assertEqual(set(reminders.mapped("state")), {"sent"})
        for partner in customers:
            self.assertEqual(len(self._mails(partner)), 1, partner.name)

    @mute_logger("odoo.addons.collections_proactive.models.collection_reminder")
    def test_failed_sends_are_retried_then_left_failed(self):
        self.company.collection_max_attempts = 2
        template = self.env.ref("collections_proactive.mail_template_reminder_notice")
        broken = template.body_html
        template.body_html = '<p t-out="object.no_such_field"/>'
        self._run(datetime(2026, 3, 17, 13, 0))
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminder.state, "planned")
        self.assertEqual(reminder.attempt_count, 1)
        self.assertIn("Attempt 1 failed, retrying", reminder.reason)
        self.assertEqual(reminder.planned_date, datetime(2026, 3, 17, 14, 0))
        self.assertFalse(self._mails(), "a failed attempt leaves nothing queued")
        self._run(datetime(2026, 3, 17, 14, 0))
        self.assertEqual(reminder.state, "failed")
        self.assertEqual(reminder.attempt_count, 2)
        self._run(datetime(2026, 3, 18, 14, 0))
        self.assertEqual(reminder.state, "failed", "left visible, not retried forever")
        # Once the template is fixed, a new step of the invoice goes out normally.
        template.body_html = broken
        self._run(datetime(2026, 3, 25, 13, 0))
        self.assertEqual(len(self._mails()), 1)

    def test_undelivered_email_fails_then_goes_out_once_more(self):
        self.company.collection_max_attempts = 2
        self._run(datetime(2026, 3, 17, 13, 0))
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        first = self._mails()
        self.assertEqual(reminder.state, "sent")
        # The mail server refuses it when the queue runs.
        first.write(
            {
                "state": "exception",
                "failure_type": "mail_smtp",
                "failure_reason": "Connection refused",
            }
        )
        self._run(datetime(2026, 3, 17, 13, 30))
        self.assertEqual(reminder.state, "failed")
        self.assertEqual(reminder.reason, "Delivery failed: Connection refused")
        self.assertEqual(first.state, "cancel", "nobody re-sends it by hand as well")
        # The next run after the retry delay sends one new message.
        self._run(datetime(2026, 3, 17, 14, 35))
        self._run(datetime(2026, 3, 17, 14, 40))
        self.assertEqual(reminder.state, "sent")
        self.assertEqual(reminder.attempt_count, 2)
        self.assertFalse(reminder.delivery_failed)
        mails = self._mails()
        self.assertEqual(len(mails), 2)
        self.assertEqual(mails.mapped("state"), ["cancel", "outgoing"])
        # Undelivered again with no attempt left: failed for good.
        (mails - first).write({"state": "exception", "failure_reason": "Timeout"})
        self._run(datetime(2026, 3, 17, 15, 0))
        self._run(datetime(2026, 3, 18, 15, 0))
        self.assertEqual(reminder.state, "failed")
        self.assertEqual(len(self._mails()), 2)

    @mute_logger("odoo.addons.collections_proactive.models.collection_reminder")
    def test_one_bad_reminder_fails_alone_in_its_batch(self):
        template = self.env.ref("collections_proactive.mail_template_reminder_notice")
        # Renders only for customers with a reference: Cliente Uno has none.
        template.body_html = '<p t-out="object.partner_id.ref.upper()"/>'
        other = self._cp_customer("Cliente Dos", tz="America/Santiago", ref="c2")
        self._cp_invoice(other, 500, date(2026, 2, 18), DUE)
        self._run(datetime(2026, 3, 17, 13, 0))
        good = self.Reminder.search([("partner_id", "=", other.id)])
        self.assertEqual(good.state, "sent")
        self.assertEqual(len(self._mails(other)), 1)
        self.assertIn("C2", str(self._mails(other).body_html))
        bad = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(bad.state, "planned")
        self.assertIn("Attempt 1 failed, retrying", bad.reason)
        self.assertFalse(self._mails(), "nothing half-queued for the failed one")

    def test_chile_preset_defers_sunday_and_enforces_cap_and_gap(self):
        self.assertEqual(self.company.collection_contact_preset, "chile")
        # Due Wednesday 25th: the notice (-3) falls on Sunday 22nd.
        invoice = self._cp_invoice(
            self.customer, 700, date(2026, 2, 23), date(2026, 3, 25)
        )
        self.invoice.button_draft()  # keep only the Sunday invoice
        self.invoice.button_cancel()
        self._run(datetime(2026, 3, 22, 13, 0))  # Sunday 10:00 local
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminder.state, "planned")
        self.assertEqual(
            reminder.planned_date, datetime(2026, 3, 23, 11, 0)
        )  # Mon 08:00
        self.assertIn("Outside the contact hours", reminder.reason)
        self.assertFalse(self._mails())
        self._run(datetime(2026, 3, 23, 11, 0))
        self.assertEqual(reminder.state, "sent")
        self.assertEqual(invoice.collection_reminder_count, 1)

        # Two written contacts already this week, the last one yesterday.
        other = self._cp_invoice(self.customer, 50, date(2026, 2, 1), date(2026, 3, 3))
        self._run(datetime(2026, 3, 24, 13, 0))  # Tuesday: overdue reminder of `other`
        late = self.Reminder.search(
            [("partner_id", "=", self.customer.id), ("line_ids.move_id", "=", other.id)]
        )
        self.assertEqual(late.state, "planned", "two days between messages")
        self.assertIn("Less than 2 days", late.reason)
        self.assertEqual(late.planned_date, datetime(2026, 3, 25, 11, 0))
        self._run(datetime(2026, 3, 25, 11, 0))
        self.assertEqual(late.state, "sent")
        # A third written message within 7 days: over the cap, deferred a week.
        third = self._cp_invoice(self.customer, 60, date(2026, 2, 1), date(2026, 3, 5))
        self._run(datetime(2026, 3, 28, 13, 0))
        cap = self.Reminder.search([("line_ids.move_id", "=", third.id)])
        self.assertEqual(cap.state, "planned")
        self.assertIn("At most 2 messages a week", cap.reason)
        self.assertEqual(cap.planned_date, datetime(2026, 3, 30, 11, 0))

    def test_chile_public_holidays_are_skipped(self):
        self.customer.country_id = self.env.ref("base.cl")
        self.invoice.button_draft()
        self.invoice.button_cancel()
        # Due Monday 2026-09-21: the notice falls on Friday 18th, a national holiday,
        # followed by another (19th) and a Sunday.
        self._cp_invoice(self.customer, 800, date(2026, 8, 22), date(2026, 9, 21))
        self._run(datetime(2026, 9, 18, 13, 0))
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminder.state, "planned")
        self.assertEqual(reminder.planned_date, datetime(2026, 9, 21, 11, 0))
        # Under the relaxed preset holidays are ordinary days.
        self.company.collection_skip_holidays = False
        self._run(datetime(2026, 9, 18, 13, 0))
        self.assertEqual(
            reminder.state, "planned", "still deferred: planned for Monday"
        )
        self._run(datetime(2026, 9, 21, 11, 0))
        self.assertEqual(reminder.state, "sent")

    def test_reminder_deferred_past_the_next_step_is_superseded(self):
        self.invoice.button_draft()
        self.invoice.button_cancel()
        # Due Wednesday 25th: the -3 notice falls on Sunday 22nd, deferred to Monday.
        invoice = self._cp_invoice(
            self.customer, 700, date(2026, 2, 23), date(2026, 3, 25)
        )
        self._run(datetime(2026, 3, 22, 13, 0))
        notice = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(notice.state, "planned")
        # Nobody ran the cron until Monday 30th, when the +5 overdue step is due:
        # the stale notice is not sent, the later step is.
        self._run(datetime(2026, 3, 30, 13, 0))
        self.assertEqual(notice.state, "cancelled")
        self.assertEqual(notice.reason, "Superseded by a later step")
        overdue = self.Reminder.search(
            [("line_ids.move_id", "=", invoice.id), ("id", "!=", notice.id)]
        )
        self.assertEqual(overdue.kind, "overdue")
        self.assertEqual(overdue.state, "sent")
        self.assertEqual(len(self._mails()), 1)

    def test_opted_out_email_falls_back_to_sms(self):
        self.customer.collection_no_email = True
        with self.mockSMSGateway():
            self._run(datetime(2026, 3, 17, 13, 0))
            reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
            self.assertEqual(reminder.state, "sent")
            self.assertEqual(reminder.channel, "sms")
            self.assertIn("sent by SMS instead", reminder.reason)
            # The invoice keeps the planned channel's key: a planner that began
            # before this was sent cannot plan the step by email again.
            self.assertEqual(reminder.planned_channel, "email")
            self.assertEqual(reminder.line_ids.channel, "email")
            with (
                self.assertRaises(IntegrityError),
                mute_logger("odoo.sql_db"),
                self.env.cr.savepoint(),
            ):
                self.env["collection.reminder.line"].sudo().create(
                    {
                        "reminder_id": reminder.id,
                        "move_id": reminder.line_ids.move_id.id,
                        "move_line_id": reminder.line_ids.move_line_id.id,
                        "step_id": reminder.step_id.id,
                        "channel": "email",
                    }
                )
            self.assertFalse(self._mails())
            self.env["sms.sms"].sudo().search([("state", "=", "outgoing")]).send()
        self.assertSMSIapSent(
            [self.customer._phone_format(number=self.customer.mobile)],
            content="/collections/optout/sms/",
        )

    def test_blacklisted_everywhere_is_skipped(self):
        self.env["mail.blacklist"]._add(self.customer.email)
        self.customer.collection_no_sms = True
        self._run(datetime(2026, 3, 17, 13, 0))
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminder.state, "skipped")
        self.assertIn("cannot be reached by email", reminder.reason)

    def test_disputed_and_no_follow_up_are_skipped_with_reason(self):
        self.invoice.write(
            {
                "collection_followup_hold": "dispute",
                "collection_followup_hold_reason": "x",
            }
        )
        other = self._cp_customer("Sin Seguimiento", tz="America/Santiago")
        other.write(
            {"collection_no_followup": True, "collection_no_followup_reason": "y"}
        )
        self._cp_invoice(other, 100, date(2026, 2, 18), DUE)
        self._run(datetime(2026, 3, 17, 13, 0))
        disputed = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(disputed.state, "skipped")
        self.assertEqual(disputed.reason, "Invoice on hold: Disputed")
        held = self.Reminder.search([("partner_id", "=", other.id)])
        self.assertEqual(held.state, "skipped")
        self.assertEqual(held.reason, "Customer marked no follow-up")
        self.assertFalse(self._mails() | self._mails(other))

    def test_high_risk_sms_on_due_date_and_call_next_day(self):
        self.customer.with_company(self.company).collection_strategy_id = self.high
        with self.mockSMSGateway():
            self._run(datetime(2026, 3, 13, 13, 0))  # -7: email and SMS notice
            self.env["sms.sms"].sudo().search([("state", "=", "outgoing")]).send()
            self._clear_sms_sent()
            self._run(datetime(2026, 3, 20, 13, 0))  # due date: SMS
            self.env["sms.sms"].sudo().search([("state", "=", "outgoing")]).send()
        self.assertSMSIapSent(
            [self.customer._phone_format(number=self.customer.mobile)],
            content="fall due today",
        )
        # Saturday 21st: the call activity, for the customer's collector (not
        # the salesperson, not the strategy's user), on the customer's case.
        self.high.with_user(self.collections_manager).user_id = self.collections_manager
        self.customer.user_id = self.collections_manager
        self.customer.with_company(self.company).collection_user_id = self.collector
        self._run(datetime(2026, 3, 21, 13, 0))
        call = self.Reminder.search(
            [("partner_id", "=", self.customer.id), ("channel", "=", "call")]
        )
        self.assertEqual(call.state, "sent")
        self.assertEqual(call.activity_id.user_id, self.collector)
        case = (
            self.env["collection.case"]
            .sudo()
            .search([("partner_id", "=", self.customer.id), ("state", "=", "open")])
        )
        self.assertEqual(call.activity_id.res_model, "collection.case")
        self.assertEqual(call.activity_id.res_id, case.id)
        self.assertIn(call.activity_id, case.activity_ids)
        self.assertLessEqual(case.next_action_date, call.activity_id.date_deadline)
        # In the collector's words and date format.
        self.assertIn(f"due {format_date(self.env, DUE)}", str(call.activity_id.note))

    def test_letter_step_attaches_a_pdf_to_the_customer(self):
        critical = self.strategies.filtered("band_critical")
        self.customer.with_company(self.company).collection_strategy_id = critical
        self._run(datetime(2026, 4, 9, 13, 0))  # Thursday, 20 days overdue
        letter = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(letter.channel, "letter")
        self.assertEqual(letter.state, "sent")
        self.assertEqual(letter.message_id.model, "res.partner")
        self.assertEqual(len(letter.message_id.attachment_ids), 1)
        self.assertIn(".pdf", letter.message_id.attachment_ids.name)
        self.assertFalse(self._mails(), "a letter is printed, not emailed")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "collections_proactive.collection_reminder_letter_report", letter.ids
            )[0]
            .decode()
        )
        self.assertIn(self.invoice.name, html)
        self.assertIn("past their due date", html)

    def test_spanish_customer_gets_spanish_text(self):
        self.env["res.lang"]._activate_lang("es_CL")
        self.env["ir.module.module"]._load_module_terms(
            ["collections_proactive"], ["es_CL"]
        )
        self.customer.lang = "es_CL"
        self._run(datetime(2026, 3, 17, 13, 0))
        mail = self._mails()
        self.assertIn("próximo vencimiento", mail.subject)
        self.assertIn("Ver y pagar", str(mail.body_html))

    def test_multi_company_isolation(self):
        other = self.setup_other_company(name="Otra Empresa")["company"]
        self._cp_invoice(self.customer, 999, date(2026, 2, 18), DUE, company=other)
        self._run(datetime(2026, 3, 17, 13, 0))
        reminders = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminders.company_id, self.company | other)
        for reminder in reminders:
            self.assertEqual(reminder.line_ids.move_id.company_id, reminder.company_id)
        mine = self.Reminder.with_user(self.collector).search(
            [("partner_id", "=", self.customer.id)]
        )
        self.assertEqual(mine.company_id, self.company)
        theirs = reminders.filtered(lambda r: r.company_id == other)
        with self.assertRaises(AccessError):
            theirs.with_user(self.collector).read(["state"])

    def test_collectors_read_but_cannot_rewrite_the_log(self):
        self._run(datetime(2026, 3, 17, 13, 0))
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminder.with_user(self.collector).state, "sent")
        with self.assertRaises(AccessError):
            reminder.with_user(self.collector).unlink()
        with self.assertRaises(AccessError):
            reminder.with_user(self.collections_manager).unlink()

    def test_send_now_uses_the_same_engine_and_policy(self):
        with freeze_time(datetime(2026, 3, 22, 13, 0)):  # Sunday
            result = self.customer.with_user(
                self.collector
            ).action_collection_send_now()
        self.assertIn("deferred", result["params"]["message"])
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminder.state, "planned")
        self.assertEqual(reminder.kind, "notice", "the +5 step is not due yet")

    def _preview(self):
        """The Send Now preview of the customer, as its collector opens it."""
        action = self.customer.with_user(
            self.collector
        ).action_collection_preview_send()
        return (
            self.env["collection.send.wizard"]
            .with_user(self.collector)
            .browse(action["res_id"])
        )

    def test_send_now_preview_changes_nothing(self):
        with freeze_time(datetime(2026, 3, 17, 13, 0)):  # Tuesday 10:00 local
            wizard = self._preview()
            self.assertEqual(len(wizard.line_ids), 1)
            self.assertEqual(wizard.line_ids.verdict, "Goes out now")
            self.assertIn(self.invoice.name, wizard.line_ids.invoices)
            self.assertIn("upcoming due date", wizard.preview_subject)
            self.assertIn("View and pay", wizard.preview_body)
            self.assertFalse(
                self.Reminder.search([("partner_id", "=", self.customer.id)]),
                "a preview plans and sends nothing",
            )
            self.assertFalse(self._mails())
            wizard.action_send()
        reminder = self.Reminder.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(reminder.state, "sent")
        self.assertEqual(len(self._mails()), 1)
        with freeze_time(datetime(2026, 3, 22, 13, 0)):  # Sunday: the policy speaks
            other = self._cp_invoice(
                self.customer, 10, date(2026, 2, 1), date(2026, 3, 3)
            )
            wizard = self._preview()
            line = wizard.line_ids.filtered(lambda line: line.invoices == other.name)
            self.assertIn(
                f"deferred to {format_date(self.env, date(2026, 3, 23))} 08:00",
                line.verdict,
            )
            # The first invoice's next step is shown as what comes next.
            line = wizard.line_ids - line
            self.assertEqual(line.invoices, self.invoice.name)
            self.assertIn(format_date(self.env, date(2026, 3, 25)), line.verdict)
            self.assertFalse(line.goes_out)

    def test_next_step_on_invoice(self):
        with freeze_time(datetime(2026, 3, 10, 13, 0)):
            self.assertIn(
                format_date(self.env, date(2026, 3, 17)),
                self.invoice.collection_next_step,
            )
        self._run(datetime(2026, 3, 17, 13, 0))
        self.invoice.invalidate_recordset(["collection_next_step"])
        with freeze_time(datetime(2026, 3, 18, 13, 0)):
            self.assertIn(
                format_date(self.env, date(2026, 3, 25)),
                self.invoice.collection_next_step,
            )

    def test_new_company_gets_strategies_unless_a_template_is_gone(self):
        company = self.env["res.company"].create({"name": "Con Estrategias"})
        self.assertEqual(
            self.env["collection.strategy"].search_count(
                [("company_id", "=", company.id)]
            ),
            5,
        )
        # A database that had the invoice ladders before installment strategies
        # existed gets its installment strategy, and nothing else, on update.
        Strategy = self.env["collection.strategy"].sudo()
        Strategy._installment_strategy(company).unlink()
        before = Strategy.search([("company_id", "=", company.id)])
        created = Strategy._create_default_strategies()
        self.assertEqual(created.company_id, company)
        self.assertEqual(created.applies_to, "installments")
        self.assertFalse(Strategy._create_default_strategies(), "once")
        self.assertEqual(
            Strategy.search([("company_id", "=", company.id)]) - created, before
        )
        with self.assertRaises(ValidationError):
            Strategy.create(
                {"name": "Otra", "company_id": company.id, "applies_to": "installments"}
            )
        self.env.ref("collections_proactive.sms_template_reminder_due").sudo().unlink()
        company = self.env["res.company"].create({"name": "Sin Plantilla"})
        self.assertFalse(
            self.env["collection.strategy"].search([("company_id", "=", company.id)])
        )

    def test_contact_policy_validation(self):
        with self.assertRaises(ValidationError):
            self.company.collection_contact_hour_to = 25
        with self.assertRaises(ValidationError):
            self.company.write(
                {
                    "collection_contact_weekday_from": "5",
                    "collection_contact_weekday_to": "1",
                }
            )

    def test_send_batch_queries_do_not_grow_with_the_batch(self):
        """Sending is set-based: more reminders, the same queries. Emails and SMS
        (the fallback of customers without an email) so both bulk paths count."""
        self.company.collection_contact_preset = "relaxed"
        customers = []
        for index in range(12):
            partner = self._cp_customer(
                f"Cliente Lote {index}",
                tz="America/Santiago",
                mobile=f"+56 9 5555 {index:04d}",
                email=bool(index % 3) and f"pagos{index}@cliente.example.com",
            )
            for amount in (100, 200):
                self._cp_invoice(partner, amount, date(2026, 2, 18), DUE)
            customers.append(partner)
        with freeze_time(datetime(2026, 3, 17, 13, 0)):
            planned = self.env["collection.reminder.planner"]._plan_reminders(
                companies=self.company
            )
            self.assertEqual(len(planned), 13, "one per customer, Cliente Uno too")
            counts = []
            # The first batch (an email and an SMS) fills Odoo's caches (views,
            # xml ids, parameters).
            for batch in (planned[:2], planned[2:5], planned[5:]):
                self.env.invalidate_all()
                before = self.cr.sql_log_count
                batch._send()
                self.env.flush_all()
                counts.append(self.cr.sql_log_count - before)
                self.assertEqual(set(batch.mapped("state")), {"sent"})
        self.assertEqual(counts[1], counts[2], "8 reminders cost what 3 cost")
        # 51: the portal tokens are written in a savepoint (another worker may
        # have given some of them meanwhile), the receivable account is read
        # once, the database tells which amounts due are still open for the
        # decision and for the messages (one query each: filtering the lines
        # in Python took longer), and the customers' automatic debit is read
        # once for the invitation.
        self.assertLessEqual(counts[2], 51)
        self.assertEqual(
            sorted(set(planned.mapped("channel"))), ["email", "sms"], "both paths"
        )
        for partner in customers:
            self.assertEqual(
                len(planned.filtered(lambda r, p=partner: r.partner_id == p)), 1
            )
