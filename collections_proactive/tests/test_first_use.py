from datetime import date, datetime, timedelta

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import Command
from odoo.tests import Form, tagged
from odoo.tools import SQL, format_date, mute_logger

from ..models.res_company import CONTACT_PRESET_VALUES
from .common import CollectionsCommon

# Friday 2026-03-20: the due date; the 21st the day after (Santiago is UTC-3).
DUE = date(2026, 3, 20)
NOW = datetime(2026, 3, 21, 13)


@tagged("post_install", "-at_install")
class TestContactPreset(CollectionsCommon):
    """The contact-policy preset holds, whatever the client sends."""

    def setUp(self):
        super().setUp()
        # The test company has cash-basis taxes: Odoo's settings screen warns
        # unless cash basis is on.
        self.company.tax_exigibility = True

    def _save_settings(self, **values):
        # Saved through a Form, as the web client does: fields read-only in the
        # view (the limits of a preset) are not sent.
        with Form(self.env["res.config.settings"].with_company(self.company)) as form:
            for name, value in values.items():
                setattr(form, name, value)

    def _limits(self):
        return {name: self.company[name] for name in CONTACT_PRESET_VALUES["chile"]}

    def test_preset_saved_from_settings(self):
        self._save_settings(collection_contact_preset="relaxed")
        self.assertEqual(self.company.collection_contact_preset, "relaxed")
        self.assertEqual(self._limits(), CONTACT_PRESET_VALUES["relaxed"])
        self._save_settings(collection_contact_preset="chile")
        self.assertEqual(self._limits(), CONTACT_PRESET_VALUES["chile"])

    def test_custom_back_to_chile_drops_custom_limits(self):
        self._save_settings(
            collection_contact_preset="custom",
            collection_max_written_per_week=9,
            collection_min_days_between_written=0,
        )
        self.assertEqual(self.company.collection_max_written_per_week, 9)
        self._save_settings(collection_contact_preset="chile")
        self.assertEqual(self._limits(), CONTACT_PRESET_VALUES["chile"])

    def test_a_preset_cannot_hold_other_values(self):
        self.company.collection_contact_preset = "chile"
        self.company.write({"collection_max_written_per_week": 7})
        self.assertEqual(self.company.collection_max_written_per_week, 2)
        company = self.env["res.company"].create(
            {"name": "Preset Co", "collection_max_calls_per_week": 5}
        )
        self.assertEqual(company.collection_contact_preset, "chile")
        self.assertEqual(company.collection_max_calls_per_week, 1)


@tagged("post_install", "-at_install")
class TestNextAgreesWithEngine(CollectionsCommon):
    """Every screen that says "next" says what the engine will do."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.Reminder = cls.env["collection.reminder"]
        cls.Case = cls.env["collection.case"]
        cls.company.partner_id.tz = "America/Santiago"
        cls.customer = cls._cp_customer("Cliente Siguiente", tz="America/Santiago")
        cls.invoice = cls._cp_invoice(cls.customer, 1000, date(2026, 2, 18), DUE)

    def _sync(self, when):
        with freeze_time(when):
            self.Case._sync_cases(self.company)
        return self.Case.search(
            [("partner_id", "=", self.customer.id), ("state", "=", "open")]
        )

    def _next(self, when):
        self.invoice.invalidate_recordset(["collection_next_step"])
        with freeze_time(when):
            return self.invoice.collection_next_step

    def _run(self, when):
        with freeze_time(when):
            self.Reminder._cron_send_reminders()
        return self.Reminder.search([("partner_id", "=", self.customer.id)])

    def test_overdue_next_step_on_case_and_invoice(self):
        self._run(datetime(2026, 3, 17, 13))  # the notice before the due date
        case = self._sync(NOW)
        self.assertEqual(case.next_step_id.offset_days, 5)
        self.assertEqual(case.next_step_date, DUE + timedelta(days=5))
        self.assertIn(format_date(self.env, DUE + timedelta(days=5)), self._next(NOW))

    def test_disputed_invoice_has_no_next_reminder(self):
        self.invoice.collection_followup_hold = "dispute"
        case = self._sync(NOW)
        self.assertFalse(case.next_step_id)
        self.assertFalse(case.next_action_date)
        self.assertEqual(self._next(NOW), "On hold: no reminder")
        # And the engine agrees: nothing goes out at the step's date.
        reminders = self._run(datetime(2026, 3, 25, 13))
        self.assertFalse(reminders.filtered(lambda r: r.state == "sent"))

    def test_paused_case_next_action_after_the_pause(self):
        self._run(datetime(2026, 3, 17, 13))
        case = self._sync(NOW)
        case.paused_until = date(2026, 4, 2)
        case = self._sync(NOW)
        self.assertEqual(case.next_step_date, date(2026, 4, 2))
        self.assertEqual(case.next_action_date, date(2026, 4, 2))
        self.assertIn(format_date(self.env, date(2026, 4, 2)), self._next(NOW))
        self.assertIn("paused", self._next(NOW))
        # The engine waits too: planned on the 25th, not sent before the 2nd.
        reminder = self._run(datetime(2026, 3, 25, 13)).filtered(
            lambda r: r.step_id.offset_days == 5
        )
        self.assertEqual(reminder.state, "planned")
        self.assertGreaterEqual(reminder.planned_date.date(), date(2026, 4, 2))

    def test_promise_replaces_the_next_reminder(self):
        self._sync(NOW)
        with freeze_time(NOW):
            self.env["collection.promise"].create(
                {
                    "partner_id": self.customer.id,
                    "invoice_ids": [Command.set(self.invoice.ids)],
                    "amount": 1000,
                    "promised_date": date(2026, 3, 28),
                }
            )
        case = self._sync(NOW)
        self.assertFalse(case.next_step_id)
        self.assertEqual(case.next_check_date, date(2026, 3, 28))
        self.assertEqual(case.next_action_date, date(2026, 3, 28))
        self.assertIn("Promised for", self._next(NOW))

    def test_planned_reminder_refreshed_when_a_hold_comes(self):
        # Deferred on a Sunday (outside the contact days), the reminder waits.
        reminder = self._run(datetime(2026, 3, 29, 13))
        self.assertEqual(reminder.state, "planned")
        self.assertIn("deferred", reminder.reason)
        self.invoice.collection_followup_hold = "dispute"
        self.assertEqual(reminder.state, "skipped")
        self.assertEqual(reminder.reason, "Follow-up put on hold")


@tagged("post_install", "-at_install")
class TestSendNowPreview(CollectionsCommon):
    """*Send Reminder Now* shows what is planned, what waits and why, and sends
    only what the contact policy allows."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.Reminder = cls.env["collection.reminder"]
        cls.company.partner_id.tz = "America/Santiago"
        cls.customer = cls._cp_customer("Cliente Domingo", tz="America/Santiago")
        cls.invoice = cls._cp_invoice(cls.customer, 1000, date(2026, 2, 18), DUE)

    def _preview(self, user, when):
        with freeze_time(when):
            action = self.customer.with_user(user).action_collection_preview_send()
            return (
                self.env["collection.send.wizard"]
                .with_user(user)
                .browse(action["res_id"])
            )

    def _planned(self):
        with freeze_time(datetime(2026, 3, 29, 13)):  # a Sunday
            self.Reminder._cron_send_reminders()
        return self.Reminder.search([("partner_id", "=", self.customer.id)])

    def test_sunday_preview_shows_the_deferred_reminder_and_the_rule(self):
        reminder = self._planned()
        self.assertEqual(reminder.state, "planned")
        wizard = self._preview(self.collector, datetime(2026, 3, 29, 14))
        self.assertEqual(len(wizard.line_ids), 1)
        line = wizard.line_ids
        self.assertIn("Outside the contact hours", line.verdict)
        self.assertIn(
            f"deferred to {format_date(self.env, date(2026, 3, 30))} 08:00",
            line.verdict,
        )
        self.assertFalse(wizard.can_send)
        self.assertEqual(reminder.state, "planned", "a preview changes nothing")

    def test_manager_sends_early_within_the_policy_collector_is_told(self):
        reminder = self._planned()
        # Planned for later than now (a retry, a deferral that no longer holds).
        reminder.sudo().planned_date = datetime(2026, 4, 3, 12)
        monday = datetime(2026, 3, 30, 14)  # 11:00 in Santiago
        wizard = self._preview(self.collector, monday)
        self.assertIn("a collections manager may send it now", wizard.line_ids.verdict)
        self.assertFalse(wizard.can_send)
        with freeze_time(monday):
            result = self.customer.with_user(
                self.collector
            ).action_collection_send_now()
        self.assertEqual(reminder.state, "planned")
        self.assertIn("1 more planned for later", result["params"]["message"])
        wizard = self._preview(self.collections_manager, monday)
        self.assertTrue(wizard.can_send)
        self.assertEqual(wizard.line_ids.verdict, "Goes out now")
        with freeze_time(monday):
            self.customer.with_user(
                self.collections_manager
            ).action_collection_send_now()
        self.assertEqual(reminder.state, "sent")

    def test_manager_never_sends_past_the_caps(self):
        reminder = self._planned()
        reminder.sudo().planned_date = datetime(2026, 4, 3, 12)
        # Two messages already this week: the Chile cap.
        for day in (24, 27):
            self.Reminder.sudo().create(
                {
                    "partner_id": self.customer.id,
                    "company_id": self.company.id,
                    "step_id": reminder.step_id.id,
                    "channel": "email",
                    "state": "sent",
                    "planned_date": datetime(2026, 3, day, 12),
                    "sent_date": datetime(2026, 3, day, 12),
                }
            )
        monday = datetime(2026, 3, 30, 14)
        wizard = self._preview(self.collections_manager, monday)
        line = wizard.line_ids
        self.assertFalse(wizard.can_send)
        self.assertIn("messages a week", line.verdict)
        with freeze_time(monday):
            self.customer.with_user(
                self.collections_manager
            ).action_collection_send_now()
        self.assertEqual(reminder.state, "planned")


@tagged("post_install", "-at_install")
class TestSmallFirstUseFixes(CollectionsCommon):
    def test_assignment_rule_without_band_reads_all_bands(self):
        Rule = self.env["collection.assignment.rule"].with_user(
            self.collections_manager
        )
        with Form(
            Rule, view="collections_proactive.collection_assignment_rule_view_list"
        ) as form:
            self.assertEqual(form.applies_to, "all")
            form.user_ids.add(self.collector)
        rule = form.record
        self.assertFalse(rule.risk_band)
        labels = dict(rule._fields["applies_to"]._description_selection(self.env))
        self.assertEqual(labels[rule.applies_to], "All bands")
        rule.applies_to = "high"
        self.assertEqual(rule.risk_band, "high")

    def test_invoice_form_sends_reminder_now(self):
        customer = self._cp_customer("Cliente Factura")
        invoice = self._cp_invoice(customer, 100, date(2026, 1, 1), date(2026, 2, 1))
        action = invoice.with_user(self.collector).action_collection_preview_send()
        self.assertEqual(action["res_model"], "collection.send.wizard")
        wizard = self.env["collection.send.wizard"].browse(action["res_id"])
        self.assertEqual(wizard.partner_id, customer)


@tagged("post_install", "-at_install")
class TestReceivableLineIsTheUnit(CollectionsCommon):
    """An invoice with several due dates is followed up on each of them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.Reminder = cls.env["collection.reminder"]
        cls.company.partner_id.tz = "America/Santiago"
        cls.term = cls.env["account.payment.term"].create(
            {
                "name": "50% at 15 days, 50% at 75 days",
                "line_ids": [
                    Command.create(
                        {"value": "percent", "value_amount": 50, "nb_days": 15}
                    ),
                    Command.create(
                        {"value": "percent", "value_amount": 50, "nb_days": 75}
                    ),
                ],
            }
        )
        cls.customer = cls._cp_customer("Cliente Cuotas", tz="America/Santiago")
        cls.invoice = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": cls.customer.id,
                "invoice_date": date(2026, 3, 2),
                "invoice_payment_term_id": cls.term.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Goods",
                            "quantity": 1,
                            "price_unit": 1000,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        cls.invoice.action_post()
        cls.first, cls.second = cls.invoice.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        ).sorted("date_maturity")

    def _run(self, when):
        with freeze_time(when):
            self.Reminder._cron_send_reminders()
        return self.Reminder.search([("partner_id", "=", self.customer.id)])

    def test_each_due_date_is_reminded_on_its_own(self):
        # Odoo's due date of the invoice is the last one; the first half falls
        # due on the 17th of March.
        self.assertEqual(self.invoice.invoice_date_due, date(2026, 5, 16))
        self.assertEqual(self.first.date_maturity, date(2026, 3, 17))
        # The low-risk ladder: a notice 3 days before, a reminder 5 days after.
        notice = self._run(datetime(2026, 3, 14, 13))
        self.assertEqual(len(notice), 1)
        self.assertEqual(notice.state, "sent")
        self.assertEqual(notice.line_ids.move_line_id, self.first)
        self.assertEqual(notice.amount_total, 500)
        body = str(
            self.env["mail.mail"]
            .search([("recipient_ids", "in", self.customer.ids)], limit=1)
            .body_html
        )
        self.assertIn("installment 1 of 2", body)
        self.assertIn(format_date(self.env, self.first.date_maturity), body)
        # The first half overdue: its reminder goes, the second half waits.
        reminders = self._run(datetime(2026, 3, 23, 13))
        overdue = reminders - notice
        self.assertEqual(overdue.line_ids.move_line_id, self.first)
        case = self.env["collection.case"].search(
            [("partner_id", "=", self.customer.id), ("state", "=", "open")]
        )
        self.assertEqual(case.amount_overdue, 500)
        self.assertEqual(case.amount_due, 1000)
        # Run again: nothing twice.
        self.assertEqual(self._run(datetime(2026, 3, 23, 15)), reminders)
        # The second half's notice before its own date.
        later = self._run(datetime(2026, 5, 13, 13)) - reminders
        self.assertEqual(later.line_ids.move_line_id, self.second)

    def test_exactly_once_key_is_the_line(self):
        self._run(datetime(2026, 3, 14, 13))
        line = self.Reminder.search([("partner_id", "=", self.customer.id)]).line_ids
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            line.sudo().copy({"reminder_id": line.reminder_id.id})
            self.env.flush_all()

    def test_credit_note_of_the_same_amount_owes_nothing_hears_nothing(self):
        refund = self._cp_invoice(
            self.customer, 1000, date(2026, 3, 5), move_type="out_refund"
        )
        self.assertEqual(refund.state, "posted")
        reminders = self._run(datetime(2026, 3, 14, 13))
        self.assertTrue(reminders)
        self.assertFalse(reminders.filtered(lambda r: r.state == "sent"))
        self.assertIn("credits cover", reminders.reason)
        # And the invoice says so: no next reminder.
        self.invoice.invalidate_recordset(["collection_next_step"])
        with freeze_time(datetime(2026, 3, 14, 13)):
            self.assertIn("credits cover", self.invoice.collection_next_step)
        self.env["collection.case"]._sync_cases(self.company)
        self.assertFalse(
            self.env["collection.case"].search(
                [("partner_id", "=", self.customer.id), ("state", "=", "open")]
            )
        )

    def test_history_of_invoice_keyed_reminders_gets_their_lines(self):
        """An update from the version keyed by invoice: each old row takes the
        invoice's last receivable line, unless another row holds that key."""
        reminders = self._run(datetime(2026, 5, 13, 13))  # second half's notice
        planned = reminders.line_ids.filtered(
            lambda line: line.move_line_id == self.second
        )
        self.assertEqual(len(planned), 1)
        reminder = planned.reminder_id
        Line = self.env["collection.reminder.line"].sudo()
        values = {
            "reminder_id": reminder.id,
            "move_id": self.invoice.id,
            "step_id": planned.step_id.id,
            "channel": planned.channel,
        }
        clash = Line.create(values)  # the same key as the row planned above
        other_step = planned.step_id.strategy_id.step_ids - planned.step_id
        old = Line.create({**values, "step_id": other_step[:1].id})
        Line.flush_model()
        Line.init()
        Line.invalidate_model()
        self.assertEqual(old.move_line_id, self.second)
        self.assertFalse(clash.move_line_id, "left as history, the key is taken")

    def test_kpis_count_each_amount_due_in_its_own_month(self):
        """Half of the invoice fell due in March, the other half in May: March's
        amount due is the first half, May's the second, and only what was due
        by the month's end counts as overdue."""
        self._cp_pay(self.invoice, amount=500, payment_date=date(2026, 3, 10))
        self.env.flush_all()
        with freeze_time(date(2026, 6, 30)):
            Kpi = self.env["collection.kpi.report"]
            Kpi.init()
            rows = {
                row.date: row
                for row in Kpi.search([("company_id", "=", self.company.id)])
            }
        march, may = rows[date(2026, 3, 1)], rows[date(2026, 5, 1)]
        self.assertEqual(march.due_amount, 500)
        self.assertEqual(march.paid_by_due, 500, "the first half, paid on the 10th")
        self.assertEqual(march.ar_end, 500)
        self.assertEqual(march.ar_current, 500, "the second half is not due yet")
        self.assertEqual(may.due_amount, 500)
        self.assertEqual(may.paid_by_due, 0)

    def test_open_lines_read_through_their_index(self):
        """The engine's SQL of the open receivable lines is one PostgreSQL can
        answer from the partial index of the open lines: if the two drift
        apart, every run reads the whole ledger again."""
        self.env.flush_all()
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.addCleanup(self.env.cr.execute, "RESET enable_seqscan")
        self.env.cr.execute(
            SQL(
                """EXPLAIN SELECT l.id FROM account_move_line l
                    WHERE l.company_id = %s AND %s""",
                self.company.id,
                self.env["account.move.line"]._collection_open_sql(),
            )
        )
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.assertIn("account_move_line_collection_open_index", plan)

    def test_one_definition_of_open(self):
        """The invoice is open while one of its amounts due is, whichever way
        it is asked: the method, the search and the field."""
        Move = self.env["account.move"]
        self.assertEqual(self.invoice._collection_open(), self.invoice)
        self.assertIn(self.invoice, Move.search([("collection_open", "=", True)]))
        self._cp_pay(self.invoice, amount=1000, payment_date=date(2026, 3, 10))
        self.invoice.invalidate_recordset(["collection_open"])
        self.assertFalse(self.invoice.collection_open)
        self.assertFalse(self.invoice._collection_open())
        self.assertNotIn(self.invoice, Move.search([("collection_open", "=", True)]))
        self.assertIn(self.invoice, Move.search([("collection_open", "!=", True)]))
        # A credit note not yet used is open too (it offsets what is owed), but
        # it is nothing to collect.
        refund = self._cp_invoice(
            self.customer, 200, date(2026, 3, 5), move_type="out_refund"
        )
        self.assertTrue(refund.collection_open)
        self.assertFalse(refund._collection_open())
