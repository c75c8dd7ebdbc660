from datetime import date, datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import Command
from odoo.tests import tagged
from odoo.tools import format_amount, format_date, html2plaintext, mute_logger

from ..models.collection_autopay import Charge
from .common import CollectionsCommon, PortalCommon

# Santiago is UTC-3 in April 2026: 13:00 UTC is 10:00 there.
ACCEPTED_ON = datetime(2026, 4, 1, 13)
DUE = date(2026, 4, 10)
DUE_LATER = date(2026, 4, 20)


def _at(day, hour=13):
    return datetime(day.year, day.month, day.day, hour)


@tagged("post_install", "-at_install")
class TestAutopay(CollectionsCommon):
    """A customer with an active mandate is told a few days before each due
    date, then charged on it in its time zone, once; a refused charge is
    retried as the company says, then left to the reminders and the collector."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.Autopay = cls.env["collection.autopay"]
        cls.Transaction = cls.env["payment.transaction"].sudo()
        cls.company.partner_id.tz = "America/Santiago"
        cls.company.write(
            {
                "collection_autopay_notice_days": 3,
                "collection_autopay_retry_count": 1,
                "collection_autopay_retry_days": 3,
            }
        )
        cls.customer = cls._cp_customer(
            "Cliente Autopago", tz="America/Santiago", email="pagos@autopago.example"
        )
        cls.provider = cls.env.ref("payment.payment_provider_demo").sudo()
        cls.provider.write({"company_id": cls.company.id, "state": "test"})
        cls.token = cls._token(cls.customer, "done")
        cls.invoice = cls._cp_invoice(cls.customer, 900, date(2026, 3, 10), DUE)
        cls.later = cls._cp_invoice(cls.customer, 300, date(2026, 3, 20), DUE_LATER)
        cls.line = cls._receivable(cls.invoice)
        cls.later_line = cls._receivable(cls.later)
        with freeze_time(ACCEPTED_ON):
            cls.autopay = cls.Autopay.create(
                {"partner_id": cls.customer.id, "token_id": cls.token.id}
            )

    @classmethod
    def _token(cls, partner, simulated_state):
        return (
            cls.env["payment.token"]
            .sudo()
            .create(
                {
                    "provider_id": cls.provider.id,
                    "payment_method_id": cls.provider.payment_method_ids[:1].id,
                    "partner_id": partner.id,
                    "payment_details": "4242",
                    "provider_ref": "demo",
                    "demo_simulated_state": simulated_state,
                }
            )
        )

    @staticmethod
    def _receivable(invoice):
        return invoice.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )

    def _run(self, when):
        with freeze_time(when):
            return self.Autopay._cron_autopay_invoices()

    def _charges(self, line=None):
        return self.Transaction.search(
            [("collection_move_line_id", "=", (line or self.line).id)],
            order="collection_attempt",
        )

    def _notices(self):
        return self.env["mail.mail"].search(
            [("model", "=", "collection.autopay.notice")], order="id"
        )

    def _notes(self):
        return " ".join(
            html2plaintext(body) for body in self.autopay.message_ids.mapped("body")
        )

    def test_notice_then_charge_on_the_due_date_exactly_once(self):
        self.assertEqual(self.autopay.start_date, date(2026, 4, 1))
        self.assertEqual(self.autopay.accepted_user_id, self.env.user)
        self.assertEqual(self.autopay.accepted_channel, "back_office")
        # Four days before: too early to tell.
        self.assertEqual(self._run(_at(date(2026, 4, 6)))["noticed"], 0)
        # Three days before: the notice, once.
        self.assertEqual(
            self._run(_at(date(2026, 4, 7))),
            {"noticed": 1, "charged": 0, "refused": 0, "pending": 0},
        )
        self.assertEqual(self._run(_at(date(2026, 4, 8)))["noticed"], 0)
        mail = self._notices()
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertIn(format_amount(self.env, 900, self.currency), mail.subject)
        self.assertIn(self.invoice.name, mail.body_html)
        self.assertIn("/my/autopay", mail.body_html)
        self.assertFalse(self._charges(), "a notice is no charge")
        # 10 April 02:00 UTC is still 9 April in Santiago.
        self._run(datetime(2026, 4, 10, 2))
        self.assertFalse(self._charges())
        # On the due date, there: charged once, the invoice paid.
        self.assertEqual(
            self._run(_at(DUE)),
            {"noticed": 0, "charged": 1, "refused": 0, "pending": 0},
        )
        tx = self._charges()
        self.assertEqual((tx.state, tx.amount, tx.collection_attempt), ("done", 900, 1))
        self.assertEqual(
            (tx.token_id, tx.operation, tx.invoice_ids),
            (self.token, "offline", self.invoice),
        )
        self.assertEqual(tx.collection_autopay_id, self.autopay)
        self.assertEqual(self.invoice.payment_state, "paid")
        self.assertIn(f"{self.invoice.name} due 2026-04-10", self._notes())
        self.assertIn(f"charged to {self.token.display_name}", self._notes())
        # Reruns, the same day and after, charge nothing more; nor a worker
        # that listed the line before the charge was committed.
        self._run(_at(DUE))
        self._run(_at(DUE + timedelta(days=5)))
        with freeze_time(_at(DUE)):
            self.assertIsNone(self.autopay._debit(Charge(self.line, 1)))
        self.assertEqual(self._charges(), tx)
        # The next invoice: told of, then charged on its own date.
        self.assertEqual(self._run(_at(DUE_LATER))["charged"], 1)
        self.assertEqual(self._charges(self.later_line).amount, 300)
        self.assertEqual(len(self._notices()), 2)

    def test_committed_before_the_provider_and_safe_after_a_crash(self):
        self._run(_at(date(2026, 4, 7)))
        events = []
        send = type(self.Transaction)._send_payment_request

        def _send_payment_request(tx):
            events.append(("send", tx.reference))
            return send(tx)

        with (
            patch.object(
                type(self.Autopay),
                "_debit_commit",
                lambda autopay: events.append(("commit", None)),
            ),
            patch.object(
                type(self.Transaction), "_send_payment_request", _send_payment_request
            ),
        ):
            self._run(_at(DUE))
        tx = self._charges()
        self.assertEqual(
            events[:3],
            [("commit", None), ("send", tx.reference), ("commit", None)],
            "the transaction is committed before the provider is asked, and its "
            "answer right after",
        )
        # A crash between the commit and the provider: the transaction is there,
        # draft. Nothing charges that line again, whatever the runs.
        other = self._cp_invoice(self.customer, 120, date(2026, 3, 25), DUE)
        line = self._receivable(other)
        with freeze_time(_at(DUE)):
            self.env["collection.autopay.notice"].sudo().create(
                {
                    "autopay_id": self.autopay.id,
                    "move_line_ids": [Command.set(line.ids)],
                }
            )
            crashed = self.autopay._debit_transaction(Charge(line, 1))
        self.assertEqual(crashed.state, "draft")
        with patch.object(type(self.Transaction), "_send_payment_request") as provider:
            self._run(_at(DUE))
            self._run(_at(DUE + timedelta(days=4)))
            provider.assert_not_called()
        self.assertEqual(self._charges(line), crashed)

    def test_paused_or_revoked_is_never_charged(self):
        self._run(_at(date(2026, 4, 7)))
        self.autopay.action_pause()
        self.assertEqual(self._run(_at(DUE))["charged"], 0)
        with freeze_time(_at(DUE)):
            self.assertIsNone(self.autopay._debit(Charge(self.line, 1)))
            self.assertFalse(self.Autopay._covered_line_ids(self.company))
        self.assertFalse(self._charges())
        # Resumed after the due date: what fell due while paused is reminded
        # as usual, the later invoice charged after its notice.
        with freeze_time(_at(date(2026, 4, 12))):
            self.autopay.action_resume()
            self.assertEqual(self.autopay.start_date, date(2026, 4, 12))
            self.assertEqual(
                self.Autopay._covered_line_ids(self.company), {self.later_line.id}
            )
        self._run(_at(date(2026, 4, 17)))
        self.autopay.action_revoke()
        self.assertEqual(self._run(_at(DUE_LATER))["charged"], 0)
        with freeze_time(_at(DUE_LATER)):
            self.assertIsNone(self.autopay._debit(Charge(self.later_line, 1)))
            self.assertFalse(self.Autopay._covered_line_ids(self.company))
        self.assertFalse(self._charges() | self._charges(self.later_line))

    def test_cap_and_lines_paid_or_planned_are_not_charged(self):
        self.autopay.max_amount = 500
        third = self._cp_invoice(self.customer, 200, date(2026, 3, 20), DUE_LATER)
        with freeze_time(_at(DUE)):
            self.assertEqual(
                self.Autopay._covered_line_ids(self.company),
                {self.later_line.id, self._receivable(third).id},
                "900 is above the cap of 500",
            )
        # The third is paid before its date; the later one goes in a plan.
        self._cp_pay(third, payment_date=date(2026, 4, 15))
        plan = self._cp_accepted_plan(
            self.customer, self.later, date(2026, 5, 1), datetime(2026, 4, 14, 12)
        )
        self.assertEqual(plan.state, "active")
        counts = self._run(_at(DUE_LATER))
        self.assertEqual((counts["noticed"], counts["charged"]), (0, 0))
        self.assertFalse(
            self.Transaction.search([("collection_autopay_id", "=", self.autopay.id)])
        )

    def test_refused_then_retried_then_left_to_the_collector(self):
        self.autopay.token_id = self._token(self.customer, "error")
        self.customer.with_company(self.company).collection_user_id = self.collector
        self._run(_at(date(2026, 4, 7)))
        self.assertEqual(self._run(_at(DUE))["refused"], 1)
        first = self._charges()
        self.assertEqual((first.state, first.collection_attempt), ("error", 1))
        self.assertIn("It is tried again in 3 days", self._notes())
        with freeze_time(_at(DUE)):
            self.assertIn(
                self.line.id,
                self.Autopay._covered_line_ids(self.company),
                "between the attempts, the debit still has the line",
            )
        # Two days later: not yet.
        self._run(_at(DUE + timedelta(days=2)))
        self.assertEqual(len(self._charges()), 1)
        # Three days later: the retry, refused too, is the last one.
        self.assertEqual(self._run(_at(DUE + timedelta(days=3)))["refused"], 1)
        retry = self._charges()[1:]
        self.assertEqual(retry.collection_attempt, 2)
        self.assertIn("It is not tried again; the reminders resume", self._notes())
        activity = self.customer.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.collector)
        self.assertEqual(
            activity.activity_type_id, self.env.ref("mail.mail_activity_data_todo")
        )
        self.assertIn(self.invoice.name, activity.summary)
        with freeze_time(_at(DUE + timedelta(days=3))):
            self.assertNotIn(
                self.line.id,
                self.Autopay._covered_line_ids(self.company),
                "the reminders have it back",
            )
        self._run(_at(DUE + timedelta(days=6)))
        self._run(_at(DUE + timedelta(days=9)))
        self.assertEqual(len(self._charges()), 2, "never a third attempt")

    def test_notice_in_the_customers_language(self):
        self.env["res.lang"]._activate_lang("es_CL")
        self.env["ir.module.module"]._load_module_terms(
            ["collections_proactive"], ["es_CL"]
        )
        self.customer.lang = "es_CL"
        template = self.env.ref("collections_proactive.mail_template_autopay_notice")
        # The translation of the subject, as the Spanish catalogue gives it.
        template.with_context(lang="es_CL").subject = (
            "{{ object.company_id.name }}: débito automático de "
            "{{ format_amount(object.amount_total, object.currency_id) }} el "
            "{{ format_date(object.debit_date) }}"
        )
        self._run(_at(date(2026, 4, 7)))
        mail = self._notices()
        spanish = self.env(context={"lang": "es_CL"})
        self.assertEqual(
            mail.subject,
            f"{self.company.name}: débito automático de "
            f"{format_amount(spanish, 900, self.currency)} el "
            f"{format_date(spanish, DUE)}",
        )
        self.assertIn(format_date(spanish, DUE), mail.body_html)

    def test_exactly_once_is_in_the_database(self):
        self._run(_at(date(2026, 4, 7)))
        self._run(_at(DUE))
        tx = self._charges()
        Notice = self.env["collection.autopay.notice"].sudo()
        # A worker that listed the line before another told of it: nothing sent.
        with freeze_time(_at(DUE)):
            self.assertFalse(self.autopay._send_notice(self.line.ids, _at(DUE)))
        self.assertEqual(len(self._notices()), 1)
        with mute_logger("odoo.sql_db"):
            with self.assertRaises(IntegrityError), self.env.cr.savepoint():
                self.Transaction.create(
                    {
                        "provider_id": self.provider.id,
                        "payment_method_id": tx.payment_method_id.id,
                        "reference": f"{tx.reference}-again",
                        "amount": 900,
                        "currency_id": tx.currency_id.id,
                        "partner_id": self.customer.id,
                        "collection_move_line_id": self.line.id,
                        "collection_attempt": 1,
                    }
                )
                self.env.flush_all()
            with self.assertRaises(IntegrityError), self.env.cr.savepoint():
                notice = Notice.create({"autopay_id": self.autopay.id})
                self.env.flush_all()
                self.env.cr.execute(
                    "INSERT INTO collection_autopay_notice_line_rel"
                    " (notice_id, move_line_id) VALUES (%s, %s)",
                    (notice.id, self.line.id),
                )
            with self.assertRaises(IntegrityError), self.env.cr.savepoint():
                self.Autopay.create(
                    {"partner_id": self.customer.id, "token_id": self.token.id}
                )
                self.env.flush_all()
        # Once revoked, a new mandate may be given.
        self.autopay.action_revoke()
        self.assertTrue(
            self.Autopay.create(
                {"partner_id": self.customer.id, "token_id": self.token.id}
            )
        )

    def test_reminder_emails_invite_to_autopay(self):
        """The shipped reminder emails invite a customer without a mandate in
        force, not one that has it."""
        template = self.env.ref("collections_proactive.mail_template_reminder_overdue")
        step = self.env["collection.strategy.step"].search(
            [("company_id", "=", self.company.id), ("offset_days", ">", 0)], limit=1
        )
        other = self._cp_customer("Cliente Sin Autopago")
        reminders = (
            self.env["collection.reminder"]
            .sudo()
            .create(
                [
                    {
                        "partner_id": partner.id,
                        "company_id": self.company.id,
                        "step_id": step.id,
                        "channel": "email",
                        "planned_date": datetime(2026, 3, 25, 12),
                    }
                    for partner in (other, self.customer)
                ]
            )
        )
        bodies = template._render_field("body_html", reminders.ids)
        self.assertIn("/my/autopay", bodies[reminders[0].id])
        self.assertNotIn("/my/autopay", bodies[reminders[1].id], "already on")


@tagged("post_install", "-at_install")
class TestAutopayPortal(PortalCommon):
    """The customer turns automatic debit on with its own saved payment method,
    sees what will be charged, pauses, resumes and revokes it; nobody else can."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        provider = cls.env.ref("payment.payment_provider_demo").sudo()
        provider.write({"state": "test", "company_id": cls.company.id})
        method = cls.env.ref("payment_demo.payment_method_demo")

        def token(partner):
            return (
                cls.env["payment.token"]
                .sudo()
                .create(
                    {
                        "provider_id": provider.id,
                        "payment_method_id": method.id,
                        "partner_id": partner.id,
                        "payment_details": "4242",
                        "provider_ref": "demo",
                    }
                )
            )

        cls.own_token = token(cls.portal_user.partner_id)
        cls.foreign_token = token(cls.other)
        cls.Autopay = cls.env["collection.autopay"]

    def _mandates(self, partner=None):
        return self.Autopay.search([("partner_id", "=", (partner or self.customer).id)])

    def _enable(self, **data):
        return self._post(
            "/my/autopay/enable",
            {"token_id": self.own_token.id, "accept": "1", **data},
        )

    def test_turn_on_see_the_coming_debits_pause_resume_revoke(self):
        self.authenticate("cp_portal", "cp_portal")
        page = self.url_open("/my/autopay")
        self.assertEqual(page.status_code, 200)
        self.assertIn("o_collections_autopay_form", page.text)
        self.assertIn(self.own_token.display_name, page.text)
        self.assertNotIn(f'value="{self.foreign_token.id}"', page.text)
        # Two clicks: one mandate.
        self.assertEqual(self._enable(max_amount="1000").status_code, 200)
        response = self._enable(max_amount="1000")
        self.assertEqual(response.status_code, 200)
        autopay = self._mandates()
        self.assertEqual(len(autopay), 1)
        self.assertEqual(
            (autopay.state, autopay.token_id, autopay.max_amount),
            ("active", self.own_token, 1000),
        )
        self.assertEqual(autopay.accepted_user_id, self.portal_user)
        self.assertEqual(autopay.accepted_channel, "portal")
        self.assertTrue(autopay.accepted_ip)
        self.assertEqual(autopay.start_date, self.today)
        # What falls due from today is a coming debit; the overdue ones are not.
        self.assertIn("Automatic debit is on.", response.text)
        self.assertIn("o_collections_autopay_debit", response.text)
        debits = response.text.split("Coming debits")[1].split("</table>")[0]
        self.assertIn(self.soon.name, debits)
        for invoice in self.overdue:
            self.assertNotIn(invoice.name, debits)
        # Pause, resume, revoke.
        url = f"/my/autopay/{autopay.id}"
        self.assertEqual(self._post(f"{url}/pause", {}).status_code, 200)
        self.assertEqual(autopay.state, "paused")
        self.assertEqual(self._post(f"{url}/pause", {}).status_code, 409)
        self.assertEqual(self._post(f"{url}/resume", {}).status_code, 200)
        self.assertEqual(autopay.state, "active")
        self.assertEqual(self._post(f"{url}/revoke", {}).status_code, 200)
        self.assertEqual(autopay.state, "revoked")
        self.assertEqual(self._post(f"{url}/revoke", {}).status_code, 409)
        self.assertEqual(self._post(f"{url}/resume", {}).status_code, 409)
        # Turned on again: a new mandate, the revoked one kept as it was.
        self._enable()
        self.assertEqual(len(self._mandates()), 2)
        self.assertEqual(self._mandates().mapped("state"), ["active", "revoked"])

    def test_tour_turn_on_pause_resume_stop(self):
        """The page as the customer clicks it: a mandate after each click, in
        the state the page says."""
        self.start_tour(
            "/my/autopay", "collections_proactive_autopay_tour", login="cp_portal"
        )
        autopay = self._mandates()
        self.assertEqual(len(autopay), 1, "one mandate through all the clicks")
        self.assertEqual(
            (autopay.state, autopay.token_id, autopay.max_amount),
            ("revoked", self.own_token, 1000),
        )
        self.assertEqual(autopay.accepted_user_id, self.portal_user)
        self.assertEqual(autopay.accepted_channel, "portal")
        tracked = autopay.message_ids.tracking_value_ids.filtered(
            lambda value: value.field_id.name == "state"
        )
        self.assertEqual(
            sorted(tracked.mapped("new_value_char")),
            sorted(["Paused", "Active", "Revoked"]),
        )

    def test_someone_elses_mandate_is_a_404(self):
        autopay = self.Autopay.create(
            {"partner_id": self.customer.id, "token_id": self.own_token.id}
        )
        self.authenticate("cp_portal_other", "cp_portal_other")
        for action in ("pause", "revoke"):
            response = self._post(f"/my/autopay/{autopay.id}/{action}", {})
            self.assertEqual(response.status_code, 404)
        self.assertEqual(autopay.state, "active")
        self.assertNotIn(
            self.own_token.display_name + "</h5>",
            self.url_open("/my/autopay").text,
        )
        for wrong in (str(autopay.id + 1000), "99999999999"):
            self.assertEqual(
                self._post(f"/my/autopay/{wrong}/pause", {}).status_code, 404
            )
        self.assertEqual(
            self._post(f"/my/autopay/{autopay.id}/delete", {}).status_code, 404
        )

    def test_bad_input_is_a_4xx_page_never_a_500(self):
        self.authenticate("cp_portal", "cp_portal")
        for data, status in (
            ({"token_id": "abc"}, 400),
            ({"token_id": ""}, 400),
            ({"token_id": "-3"}, 400),
            ({"token_id": "99999999999999"}, 400),
            ({"token_id": self.foreign_token.id}, 403),
            ({"max_amount": "ten"}, 400),
            ({"max_amount": "-5"}, 400),
            ({"max_amount": "nan"}, 400),
            ({"max_amount": "1e400"}, 400),
            ({"accept": ""}, 400),
        ):
            with self.subTest(data=data):
                response = self._enable(**data)
                self.assertEqual(response.status_code, status)
                self.assertIn("o_collections_error", response.text)
        self.assertFalse(self._mandates())
        # A foreign token's customer has nothing either.
        self.assertFalse(self._mandates(self.other))

    def test_invoice_page_invites_to_autopay(self):
        self.authenticate("cp_portal", "cp_portal")
        url = self.soon.get_portal_url()
        self.assertIn("o_collections_autopay_invite", self.url_open(url).text)
        self.assertIn("/my/autopay", self.url_open("/my").text)
        self._enable()
        self.assertNotIn("o_collections_autopay_invite", self.url_open(url).text)
