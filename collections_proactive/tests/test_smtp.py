import socket
from collections import Counter
from datetime import date, datetime
from email import message_from_bytes, policy
from unittest import skipUnless
from unittest.mock import patch

from freezegun import freeze_time

from odoo import modules
from odoo.tests import tagged

from .common import CollectionsCommon

try:
    from aiosmtpd.controller import Controller
except ImportError:  # a development dependency only
    Controller = None


class Sink:
    """What the SMTP server received: ``(recipients, parsed message)``."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (
                envelope.rcpt_tos,
                message_from_bytes(envelope.content, policy=policy.SMTP),
            )
        )
        return "250 Message accepted"


@skipUnless(Controller, "aiosmtpd is not installed")
@tagged("post_install", "-at_install")
class TestRealSmtp(CollectionsCommon):
    """Reminders through a real SMTP server on localhost: what arrives, then the
    server stopped and started again. Odoo's test mode never opens an SMTP
    connection; it is lifted only while the mail queue runs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("es_CL")
        cls.env["ir.module.module"]._load_module_terms(
            ["collections_proactive"], ["es_CL"]
        )
        # The emails as the module ships them, in both languages (a database
        # updated from an older version may hold older copies).
        for kind in ("notice", "due", "overdue"):
            cls.env.ref(
                f"collections_proactive.mail_template_reminder_{kind}"
            ).reset_template()
        cls.company.partner_id.tz = "America/Santiago"
        cls.company.email = "billing@smtp.example.com"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            cls.port = probe.getsockname()[1]
        cls.env["ir.mail_server"].create(
            {
                "name": "Local SMTP",
                "smtp_host": "127.0.0.1",
                "smtp_port": cls.port,
                "smtp_encryption": "none",
            }
        )
        # Due dates: a notice on Tuesday 17 March, an overdue reminder that day,
        # a notice on Friday 20th.
        customers = {
            "en": ("Cliente Inglés", "en_US", date(2026, 3, 20)),
            "es": ("Cliente Chileno", "es_CL", date(2026, 3, 12)),
            "late": ("Cliente Tardío", "en_US", date(2026, 3, 23)),
        }
        cls.customer, cls.invoice = {}, {}
        for key, (name, lang, due) in customers.items():
            cls.customer[key] = cls._cp_customer(
                name, lang=lang, tz="America/Santiago", email=f"{key}@smtp.example.com"
            )
            cls.invoice[key] = cls._cp_invoice(
                cls.customer[key], 1000, date(2026, 2, 1), due
            )
        overdue_steps = (
            cls.env["collection.strategy.step"]
            .sudo()
            .search([("company_id", "=", cls.company.id), ("kind", "=", "overdue")])
        )
        overdue_steps.attach_invoices = True

    def setUp(self):
        super().setUp()
        self.sink = Sink()
        self.server = None
        self._start_server()
        self.addCleanup(self._stop_server)

    def _start_server(self):
        self.server = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.server.start()

    def _stop_server(self):
        if self.server:
            self.server.stop()
            self.server = None

    def _run(self, when):
        """The reminder cron, then the mail queue as its cron runs it, over SMTP."""
        with freeze_time(when):
            self.env["collection.reminder"]._cron_send_reminders()
            with patch.object(modules.module, "current_test", None):
                self.env["mail.mail"].process_email_queue()

    def _received(self, key):
        email = self.customer[key].email
        return [message for rcpt, message in self.sink.messages if email in rcpt]

    def _check_message(self, key, subject, optout):
        """The one message the customer received: its subject and opt-out line in
        the customer's language, its invoice's signed link."""
        [message] = self._received(key)
        invoice = self.invoice[key]
        self.assertIn(subject, message["Subject"])
        body = message.get_body(("html",)).get_content()
        self.assertIn(
            f"/collections/invoice/{invoice.id}/{invoice._collection_link_signature()}",
            body,
        )
        self.assertIn("/collections/optout/email/", body)
        self.assertIn(optout, body)
        return message

    def _reminder(self, key):
        return self.env["collection.reminder"].search(
            [("partner_id", "=", self.customer[key].id)]
        )

    def test_reminders_arrive_then_the_server_goes_down_and_comes_back(self):
        # Tuesday 17 March, 10:00 in Santiago: a notice in English, an overdue
        # reminder in Spanish with the invoice's PDF.
        self._run(datetime(2026, 3, 17, 13))
        english = self._check_message(
            "en", ": upcoming due date", "Stop payment reminder emails"
        )
        self.assertFalse(list(english.iter_attachments()))
        spanish = self._check_message(
            "es",
            ": facturas vencidas",
            "Dejar de recibir correos de recordatorio de pago",
        )
        invoice = self.invoice["es"]
        [pdf] = spanish.iter_attachments()
        self.assertEqual(pdf.get_content_type(), "application/pdf")
        self.assertTrue(pdf.get_filename().endswith(".pdf"))
        # Odoo's test mode renders reports as HTML, not through wkhtmltopdf.
        self.assertIn(invoice.name.encode(), pdf.get_content())
        self.assertFalse(self._received("late"))

        # Friday 20th, the server down: the notice is failed with the reason.
        self._stop_server()
        self._run(datetime(2026, 3, 20, 13))
        reminder = self._reminder("late")
        self.assertEqual(reminder.state, "failed")
        self.assertTrue(reminder.delivery_failed)
        self.assertTrue(reminder.reason)
        self.assertFalse(self._received("late"))

        # Monday 23rd, the server back: sent once more, and once only.
        self._start_server()
        self._run(datetime(2026, 3, 23, 13))
        self._run(datetime(2026, 3, 23, 14))
        self.assertEqual(reminder.state, "sent")
        self.assertFalse(reminder.delivery_failed)
        self.assertEqual(len(self._received("late")), 1)
        received = Counter(
            (tuple(rcpt), message["Subject"]) for rcpt, message in self.sink.messages
        )
        self.assertEqual(len(received), 3)
        self.assertEqual(
            set(received.values()), {1}, "each customer receives each reminder once"
        )
