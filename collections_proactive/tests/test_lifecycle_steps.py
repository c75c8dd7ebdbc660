from datetime import date, datetime

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import CollectionsCommon


@tagged("post_install", "-at_install")
class TestLifecycleSteps(CollectionsCommon):
    """Steps counted from the invoice date (a welcome with the due dates) and
    from the payment (a thank-you), beside the due-date ladder."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.Reminder = cls.env["collection.reminder"]
        cls.company.partner_id.tz = "America/Santiago"
        strategies = cls.env["collection.strategy"].search(
            [("company_id", "=", cls.company.id)]
        )
        cls.low = strategies.filtered("band_low")
        cls.high = strategies.filtered("band_high")
        cls.customer = cls._cp_customer("Cliente Nuevo", tz="America/Santiago")
        cls.customer.with_company(cls.company).collection_risk_band = "high"
        cls.term = cls.env["account.payment.term"].create(
            {
                "name": "30/60/90",
                "line_ids": [
                    Command.create(
                        {"value": "percent", "value_amount": value, "nb_days": days}
                    )
                    for value, days in ((33, 30), (33, 60), (34, 90))
                ],
            }
        )

    def _invoice(self, partner, invoice_date, amount=900):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": invoice_date,
                "invoice_payment_term_id": self.term.id,
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
        move.action_post()
        return move

    def _run(self, when):
        with freeze_time(when):
            self.Reminder._cron_send_reminders()
        return self.Reminder.search([("partner_id", "=", self.customer.id)])

    def _mails(self, partner=None):
        return self.env["mail.mail"].search(
            [("recipient_ids", "in", (partner or self.customer).ids)], order="id"
        )

    def test_invoice_issued_lists_every_due_date_once(self):
        invoice = self._invoice(self.customer, date(2026, 3, 2))
        reminders = self._run(datetime(2026, 3, 2, 15))
        self.assertEqual(len(reminders), 1)
        self.assertEqual(reminders.kind, "issued")
        self.assertEqual(reminders.state, "sent")
        self.assertEqual(
            reminders.line_ids.move_line_id,
            invoice.line_ids.filtered(lambda line: line.display_type == "payment_term"),
            "one message for the three due dates",
        )
        body = str(self._mails().body_html)
        self.assertIn("installment 3 of 3", body)
        self.assertIn("/my/autopay", body, "the automatic debit invitation")
        self.assertNotIn("past their due date", body)
        # Run again, and the day after: nothing twice.
        self.assertEqual(self._run(datetime(2026, 3, 2, 18)), reminders)
        self.assertEqual(self._run(datetime(2026, 3, 3, 15)), reminders)

    def test_no_welcome_weeks_late(self):
        """An invoice issued before the step existed (an upgrade, a late run)
        gets no "invoice issued" message, only the due-date ladder."""
        self._invoice(self.customer, date(2026, 3, 2))
        self.assertFalse(self._run(datetime(2026, 3, 20, 15)))

    def test_low_risk_welcomes_new_customers_only(self):
        regular = self._cp_customer("Cliente Antiguo", tz="America/Santiago")
        newcomer = self._cp_customer("Cliente Reciente", tz="America/Santiago")
        for partner in regular | newcomer:
            partner.with_company(self.company).collection_risk_band = "low"
        old = self._cp_invoice(regular, 100, date(2025, 6, 1))
        self._cp_pay(old, payment_date=date(2025, 6, 1))
        self._invoice(regular, date(2026, 3, 2))
        self._invoice(newcomer, date(2026, 3, 2))
        with freeze_time(datetime(2026, 3, 2, 15)):
            self.Reminder._cron_send_reminders()
        self.assertFalse(self._mails(regular))
        self.assertEqual(len(self._mails(newcomer)), 1)

    def test_next_step_shows_the_welcome(self):
        invoice = self._invoice(self.customer, date(2026, 3, 2))
        with freeze_time(datetime(2026, 3, 2, 12)):
            invoice.invalidate_recordset(["collection_next_step"])
            self.assertIn("Invoice issued", invoice.collection_next_step)

    def test_thank_you_after_a_reminded_customer_pays(self):
        self.high.thank_you = True
        invoice = self._cp_invoice(
            self.customer, 500, date(2026, 2, 1), date(2026, 3, 1)
        )
        quiet = self._cp_customer("Cliente Puntual", tz="America/Santiago")
        quiet.with_company(self.company).collection_risk_band = "high"
        on_time = self._cp_invoice(quiet, 300, date(2026, 3, 5), date(2026, 4, 30))
        reminded = self._run(datetime(2026, 3, 9, 15))
        self.assertEqual(reminded.filtered(lambda r: r.state == "sent").kind, "overdue")
        self._cp_pay(invoice, payment_date=date(2026, 3, 10))
        self._cp_pay(on_time, payment_date=date(2026, 3, 10))
        # The step counts 1 day from the payment.
        self.assertEqual(self._run(datetime(2026, 3, 10, 15)), reminded)
        sent = self._run(datetime(2026, 3, 11, 15)) - reminded
        self.assertEqual(sent.kind, "thanks")
        self.assertEqual(sent.state, "sent")
        self.assertEqual(sent.amount_total, 500)
        mail = self._mails()[-1]
        self.assertIn("thank you for your payment", mail.subject)
        self.assertIn(invoice.name, str(mail.body_html))
        # Once, and never to a customer who was not reminded.
        self.assertEqual(self._run(datetime(2026, 3, 12, 15)) - reminded, sent)
        self.assertFalse(
            self.Reminder.search(
                [("partner_id", "=", quiet.id), ("kind", "=", "thanks")]
            )
        )

    def test_no_thanks_for_old_payments(self):
        """Switching the thank-you on does not thank a month of payments."""
        invoice = self._cp_invoice(
            self.customer, 500, date(2026, 1, 1), date(2026, 2, 1)
        )
        reminded = self._run(datetime(2026, 2, 9, 15))
        self.assertTrue(reminded)
        self._cp_pay(invoice, payment_date=date(2026, 2, 10))
        self.high.thank_you = True
        self.assertEqual(self._run(datetime(2026, 3, 20, 15)), reminded)

    def test_steps_counted_from_invoice_or_payment_are_checked(self):
        with self.assertRaises(ValidationError):
            self.env["collection.strategy.step"].create(
                {
                    "strategy_id": self.low.id,
                    "name": "Before the invoice",
                    "offset_from": "invoice",
                    "offset_days": -2,
                    "mail_template_id": self.env.ref(
                        "collections_proactive.mail_template_reminder_issued"
                    ).id,
                }
            )
        with self.assertRaises(ValidationError):
            self.env["collection.strategy.step"].create(
                {
                    "strategy_id": self.low.id,
                    "name": "Call to thank",
                    "offset_from": "paid",
                    "offset_days": 2,
                    "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                }
            )

    def test_manager_switches_the_thank_you_on_in_the_form(self):
        self.assertFalse(self.low.thank_you, "shipped switched off")
        with Form(self.low) as strategy:
            strategy.thank_you = True
        self.assertIn("thanks", self.low.step_ids.mapped("kind"))
        with Form(self.low) as strategy:
            strategy.thank_you = False
        self.assertNotIn("thanks", self.low.step_ids.mapped("kind"))
        # A strategy made from scratch gets one.
        strategy = self.env["collection.strategy"].create(
            {"name": "A medida", "company_id": self.company.id}
        )
        strategy.thank_you = True
        self.assertEqual(strategy.step_ids.kind, "thanks")
