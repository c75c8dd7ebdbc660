"""The WhatsApp channel against a local fake of Meta's Cloud API
(``whatsapp_fake.FakeMeta``): sending once, the fallbacks, the webhook."""

import json
import time
from datetime import date, datetime, timedelta

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.sms.tests.common import SMSCase

from ..tools import whatsapp_api
from .common import CollectionsCommon
from .whatsapp_fake import FakeMeta, notification

DUE = date(2026, 3, 20)
# Tuesday 17 March 2026, 10:00 in Santiago: the low-risk notice's day.
NOTICE_DAY = datetime(2026, 3, 17, 13, 0)
PHONE_ID = "106540352242922"
TOKEN = "EAAG-test-token"
SECRET = "app-secret-for-tests"
VERIFY = "verify-me-please"
NUMBER = "56955551111"


class WhatsappCommon(CollectionsCommon):
    """A company with WhatsApp configured against the fake Meta, a customer
    who accepted WhatsApp, and the low-risk notice step sent by WhatsApp."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Reminder = cls.env["collection.reminder"]
        cls.Message = cls.env["collection.whatsapp.message"]
        cls.company.partner_id.tz = "America/Santiago"
        cls.env["res.lang"]._activate_lang("es_CL")
        cls.templates = cls.env["collection.whatsapp.template"].search([])
        cls.fake = FakeMeta(
            PHONE_ID,
            TOKEN,
            {
                (template.name, template.language_code): len(template._parameter_keys())
                for template in cls.templates
            },
        ).start()
        cls.addClassCleanup(cls.fake.stop)
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("collections_proactive.whatsapp_base_url", cls.fake.base_url)
        params.set_param("collections_proactive.whatsapp_api_version", "v21.0")
        cls.company.sudo().write(
            {
                "collection_whatsapp_phone_number_id": PHONE_ID,
                "collection_whatsapp_token": TOKEN,
                "collection_whatsapp_app_secret": SECRET,
                "collection_whatsapp_verify_token": VERIFY,
            }
        )
        low = cls.env["collection.strategy"].search(
            [("company_id", "=", cls.company.id), ("band_low", "=", True)]
        )
        cls.notice_step = low.step_ids.filtered(lambda step: step.kind == "notice")
        cls.notice_step.sudo().write(
            {
                "whatsapp_template_id": cls.env.ref(
                    "collections_proactive.collection_whatsapp_template_notice_en"
                ).id,
                "mail_template_id": False,
                "sms_template_id": False,
            }
        )
        cls.customer = cls._cp_customer(
            "Cliente Uno",
            tz="America/Santiago",
            mobile="+56 9 5555 1111",
            email="pagos@cliente-uno.example.com",
            lang="es_CL",
            collection_whatsapp_optin=True,
        )
        cls.invoice = cls._cp_invoice(cls.customer, 1000, date(2026, 2, 18), DUE)

    def setUp(self):
        super().setUp()
        self.fake.requests.clear()
        self.fake.sent.clear()
        self.fake.queue.clear()
        self.fake.not_on_whatsapp.clear()

    def _send_reminders(self, when=NOTICE_DAY):
        with freeze_time(when):
            return self.Reminder._cron_send_reminders()

    def _send_whatsapp(self, when=NOTICE_DAY):
        with freeze_time(when):
            return self.Message._cron_send_whatsapp()

    def _reminder(self):
        return self.Reminder.search([("partner_id", "=", self.customer.id)])


@tagged("post_install", "-at_install")
class TestWhatsapp(WhatsappCommon, SMSCase):
    def test_sent_once_as_meta_documents(self):
        self._send_reminders()
        reminder = self._reminder()
        self.assertEqual(reminder.state, "sent")
        self.assertEqual(reminder.channel, "whatsapp", reminder.reason)
        message = reminder.whatsapp_message_ids
        self.assertEqual(message.state, "outgoing", "queued with the reminder")
        self.assertEqual(message.number, NUMBER)
        self.assertFalse(self.fake.requests, "sent by the queue, not in the run")
        # Logged in the customer's chatter with the text it carries.
        self.assertEqual(reminder.message_id, message.mail_message_id)
        self.assertEqual(reminder.message_id.res_id, self.customer.id)
        self.assertIn("Cliente Uno", reminder.message_id.body)
        self.assertIn("BAJA", reminder.message_id.body, "the Spanish version")

        self._send_whatsapp()
        self.assertEqual(len(self.fake.requests), 1)
        path, headers, body = self.fake.requests[0]
        self.assertEqual(path, f"/v21.0/{PHONE_ID}/messages")
        self.assertEqual(headers["Authorization"], f"Bearer {TOKEN}")
        self.assertIn("application/json", headers["Content-Type"])
        payload = json.loads(body)
        self.assertEqual(payload["messaging_product"], "whatsapp")
        self.assertEqual(payload["recipient_type"], "individual")
        self.assertEqual(payload["to"], NUMBER)
        self.assertEqual(payload["type"], "template")
        template = payload["template"]
        self.assertEqual(template["name"], "collections_notice")
        self.assertEqual(template["language"], {"code": "es"})
        texts = [p["text"] for p in template["components"][0]["parameters"]]
        self.assertEqual(len(texts), 4)
        self.assertEqual(texts[0], "Cliente Uno")
        self.assertIn("1.000", texts[1])
        self.assertIn("/collections/invoice/", texts[3], "the signed pay link")
        self.assertEqual(message.state, "sent")
        self.assertEqual(message.wamid, self.fake.sent[0][0])

        # Re-runs of both queues send nothing more.
        self._send_reminders()
        self._send_whatsapp(NOTICE_DAY + timedelta(hours=2))
        self.assertEqual(len(self.fake.requests), 1)
        self.assertEqual(self._reminder(), reminder)
        # The database refuses a second message for the reminder.
        with (
            self.assertRaises(IntegrityError),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            message.sudo().copy({"wamid": False})

    def test_english_customer_gets_english_template(self):
        self.customer.lang = "en_US"
        self._send_reminders()
        self._send_whatsapp()
        payload = json.loads(self.fake.requests[0][2])
        self.assertEqual(payload["template"]["language"], {"code": "en"})

    def test_not_configured_falls_back_to_sms(self):
        self.company.collection_whatsapp_token = False
        with self.mockSMSGateway():
            self._send_reminders()
            reminder = self._reminder()
            self.assertEqual(reminder.channel, "sms")
            self.assertEqual(reminder.planned_channel, "whatsapp")
            self.assertEqual(
                reminder.reason, "WhatsApp is not configured: sent by SMS instead"
            )
            self.env["sms.sms"].sudo().search([("state", "=", "outgoing")]).send()
        self.assertEqual(len(self._sms), 1)
        self.assertFalse(self.Message.search([]))

    def test_opted_out_or_not_opted_in_falls_back(self):
        self.customer.collection_no_whatsapp = True
        self._send_reminders()
        self.assertEqual(self._reminder().channel, "sms")
        self.assertIn("has not accepted WhatsApp", self._reminder().reason)

    def test_no_mobile_falls_back_to_email(self):
        other = self._cp_customer(
            "Sin Movil", tz="America/Santiago", collection_whatsapp_optin=True
        )
        self._cp_invoice(other, 500, date(2026, 2, 18), DUE)
        self._send_reminders()
        reminder = self.Reminder.search([("partner_id", "=", other.id)])
        self.assertEqual(reminder.channel, "email")
        self.assertIn("No international mobile number", reminder.reason)

    def test_opt_in_date(self):
        self.assertTrue(self.customer.collection_whatsapp_optin_date)
        self.customer.collection_whatsapp_optin = False
        self.assertFalse(self.customer.collection_whatsapp_optin_date)

    def test_not_on_whatsapp_falls_back_once_to_sms(self):
        self.fake.not_on_whatsapp.add(NUMBER)
        with self.mockSMSGateway():
            self._send_reminders()
            self._send_whatsapp()
            reminder = self._reminder()
            message = reminder.whatsapp_message_ids
            self.assertEqual(message.state, "failed")
            self.assertEqual(message.error_code, 131026)
            self.assertIn("HTTP 400", message.failure_reason)
            self.assertIn("Message undeliverable", message.failure_reason)
            self.assertTrue(self.customer.collection_whatsapp_unreachable)
            self.assertEqual(reminder.state, "planned")
            self.assertTrue(reminder.whatsapp_failed)
            # The next run sends it by SMS, once.
            self._send_reminders(NOTICE_DAY + timedelta(minutes=5))
            self.assertEqual(reminder.state, "sent")
            self.assertEqual(reminder.channel, "sms")
            self.assertIn("WhatsApp could not deliver it", reminder.reason)
            # A late failure report, another run: nothing more.
            message._fall_back()
            self._send_reminders(NOTICE_DAY + timedelta(minutes=10))
            self._send_whatsapp(NOTICE_DAY + timedelta(minutes=10))
            self.env["sms.sms"].sudo().search([("state", "=", "outgoing")]).send()
        self.assertEqual(len(self._sms), 1)
        self.assertEqual(len(self.fake.requests), 1)
        self.assertEqual(self.Message.search_count([]), 1)

    def test_transient_error_retried_then_sent(self):
        self.fake.queue.append(
            (500, {"error": {"message": "Service temporarily unavailable", "code": 2}})
        )
        self._send_reminders()
        self._send_whatsapp()
        message = self._reminder().whatsapp_message_ids
        self.assertEqual(message.state, "outgoing")
        self.assertIn("Service temporarily unavailable", message.failure_reason)
        self.assertGreater(message.next_try, NOTICE_DAY)
        self._send_whatsapp(NOTICE_DAY + timedelta(minutes=5))
        self.assertEqual(len(self.fake.requests), 1, "not before its next try")
        self._send_whatsapp(NOTICE_DAY + timedelta(hours=1))
        self.assertEqual(message.state, "sent")
        self.assertFalse(message.failure_reason)
        self.assertEqual(len(self.fake.requests), 2)

    def test_bad_token_fails_in_words_and_falls_back(self):
        self.company.collection_whatsapp_token = "expired"
        self._send_reminders()
        self._send_whatsapp()
        message = self._reminder().whatsapp_message_ids
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, 190)
        self.assertIn("HTTP 401", message.failure_reason)
        self.assertIn("Error validating access token", message.failure_reason)
        self.assertTrue(self._reminder().whatsapp_failed)

    def test_unreachable_server_retried(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "collections_proactive.whatsapp_base_url", "http://127.0.0.1:9"
        )
        self._send_reminders()
        self._send_whatsapp()
        message = self._reminder().whatsapp_message_ids
        self.assertEqual(message.state, "outgoing")
        self.assertIn("could not be reached", message.failure_reason)

    def test_opted_out_after_queueing_is_not_sent(self):
        self._send_reminders()
        self.customer.collection_no_whatsapp = True
        self._send_whatsapp()
        self.assertFalse(self.fake.requests)
        message = self._reminder().whatsapp_message_ids
        self.assertEqual(message.state, "failed")
        self.assertTrue(self._reminder().whatsapp_failed)

    def test_interrupted_send_is_never_sent_again(self):
        self._send_reminders()
        message = self._reminder().whatsapp_message_ids
        # A crash after "sending" was committed, before Meta's answer was.
        message.sudo().write({"state": "sending"})
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE collection_whatsapp_message SET write_date = %s WHERE id = %s",
            (NOTICE_DAY - timedelta(hours=1), message.id),
        )
        message.invalidate_recordset()
        self._send_whatsapp()
        self.assertFalse(self.fake.requests)
        self.assertEqual(message.state, "failed")
        self.assertIn("Interrupted while sending", message.failure_reason)
        self.assertEqual(self._reminder().state, "sent", "no fallback: it may be out")

    def test_counted_as_written_contact(self):
        self._send_reminders()
        reminder = self._reminder()
        later = NOTICE_DAY + timedelta(days=1)
        sent = reminder._recent_contacts(later)[self.customer.id, self.company.id]
        self.assertEqual(len(sent["whatsapp"]), 1)
        defer = reminder._policy_defer("email", later, sent, {})
        self.assertTrue(defer)
        self.assertIn("since the last message", defer[1])

    def test_secrets_not_readable_by_a_collector(self):
        company = self.company.with_user(self.collector)
        self.assertEqual(
            company.collection_whatsapp_phone_number_id, PHONE_ID, "not a secret"
        )
        for field in (
            "collection_whatsapp_token",
            "collection_whatsapp_app_secret",
            "collection_whatsapp_verify_token",
        ):
            with self.assertRaises(AccessError):
                company.read([field])
        self.assertEqual(
            self.company.with_user(self.collections_manager).collection_whatsapp_token,
            TOKEN,
        )

    def test_template_checks(self):
        Template = self.env["collection.whatsapp.template"].with_user(
            self.collections_manager
        )
        base = {"name": "x_ok", "language_code": "es", "parameters": "customer"}
        for values, words in (
            ({"name": "Bad Name!", "body": "{{1}}"}, "not one Meta accepts"),
            ({"language_code": "spanish", "body": "{{1}}"}, "not one of Meta's"),
            ({"parameters": "customer,iban", "body": "{{1}} {{2}}"}, "unknown"),
            ({"body": "Hola {{1}} {{2}}"}, "placeholders"),
            ({"body": "Hola"}, "placeholders"),
        ):
            with (
                self.assertRaisesRegex(ValidationError, words),
                self.env.cr.savepoint(),
            ):
                Template.create({**base, **values})
        Template.create({**base, "body": "Hola {{1}}"})

    def test_phone_number_id_checks(self):
        with self.assertRaisesRegex(ValidationError, "digits only"):
            self.company.collection_whatsapp_phone_number_id = "+56 9 5555"

    def test_step_with_only_whatsapp_is_an_action(self):
        self.assertEqual(self.notice_step._channels(), ["whatsapp"])
        with self.assertRaisesRegex(ValidationError, "does nothing"):
            self.notice_step.sudo().whatsapp_template_id = False

    def test_api_error_words(self):
        error = whatsapp_api.error_of(
            400,
            {
                "error": {
                    "message": "(#131047) Re-engagement message",
                    "type": "OAuthException",
                    "code": 131047,
                    "error_data": {"details": "More than 24 hours have passed"},
                }
            },
        )
        self.assertFalse(error.transient)
        self.assertEqual(error.code, 131047)
        self.assertIn("More than 24 hours", error.text)
        self.assertTrue(whatsapp_api.error_of(429, None).transient)
        self.assertTrue(
            whatsapp_api.error_of(400, {"error": {"code": 130429}}).transient
        )


@tagged("post_install", "-at_install")
class TestWhatsappWebhook(WhatsappCommon, HttpCase):
    URL = "/collections/whatsapp/webhook"

    def setUp(self):
        super().setUp()
        self._send_reminders()
        self._send_whatsapp()
        self.message = self._reminder().whatsapp_message_ids
        self.assertEqual(self.message.state, "sent")

    def _payload(self, statuses=(), messages=(), phone_id=PHONE_ID):
        return notification(phone_id, statuses, messages)

    def _status(self, status, stamp=None, **extra):
        return {
            "id": self.message.wamid,
            "status": status,
            "timestamp": stamp
            if isinstance(stamp, str)
            else str(int(stamp or time.time())),
            "recipient_id": NUMBER,
            **extra,
        }

    def _post(self, payload, secret=SECRET, signature=None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature is None and secret:
            signature = whatsapp_api.signature(secret, body)
        if signature:
            headers["X-Hub-Signature-256"] = signature
        return self.url_open(self.URL, data=body, headers=headers)

    def test_verification(self):
        # The address the settings give to copy into Meta's app is this one.
        # (Accounting's own onchange may warn about the taxes of the test data.)
        with mute_logger("odoo.tests.form.onchange"):
            url = Form(self.env["res.config.settings"]).collection_whatsapp_webhook_url
        self.assertEqual(url, self.company.get_base_url() + self.URL)
        ok = self.url_open(
            url.removeprefix(self.base_url())
            + f"?hub.mode=subscribe&hub.verify_token={VERIFY}"
            "&hub.challenge=1158201444"
        )
        self.assertEqual(ok.status_code, 200)
        self.assertEqual(ok.text, "1158201444")
        for query in (
            "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
            f"hub.mode=unsubscribe&hub.verify_token={VERIFY}&hub.challenge=1",
            f"hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=<b>",
            "",
        ):
            self.assertEqual(self.url_open(f"{self.URL}?{query}").status_code, 403)

    def test_statuses_delivered_then_read(self):
        response = self._post(self._payload([self._status("delivered")]))
        self.assertEqual(response.status_code, 200)
        self.message.invalidate_recordset()
        self.assertEqual(self.message.state, "delivered")
        self._post(self._payload([self._status("read", time.time() + 1)]))
        self.message.invalidate_recordset()
        self.assertEqual(self.message.state, "read")
        # A late "delivered" does not undo "read".
        self._post(self._payload([self._status("delivered", time.time() + 2)]))
        self.message.invalidate_recordset()
        self.assertEqual(self.message.state, "read")

    def test_unsigned_or_wrongly_signed_is_refused(self):
        payload = self._payload([self._status("delivered")])
        self.assertEqual(self._post(payload, secret=None).status_code, 403)
        self.assertEqual(self._post(payload, secret="not-the-secret").status_code, 403)
        self.assertEqual(
            self._post(payload, signature="sha256=" + "0" * 64).status_code, 403
        )
        self.assertEqual(self._post(payload, signature="md5=x").status_code, 403)
        # Signed by this company for another company's number: not applied.
        other = self._payload([self._status("delivered")], phone_id="999")
        self.assertEqual(self._post(other).status_code, 403)
        self.message.invalidate_recordset()
        self.assertEqual(self.message.state, "sent")

    def test_other_company_cannot_touch_these_messages(self):
        other = (
            self.env["res.company"]
            .sudo()
            .create(
                {
                    "name": "Otra Empresa",
                    "collection_whatsapp_phone_number_id": "222333444",
                    "collection_whatsapp_token": "other-token",
                    "collection_whatsapp_app_secret": "other-secret",
                }
            )
        )
        # Signed by the other company for its own number, about this
        # company's message: accepted, but applied to its records only.
        theirs = self._payload([self._status("read")], phone_id="222333444")
        self.assertEqual(self._post(theirs, secret="other-secret").status_code, 200)
        # Signed by the other company for this company's number: refused.
        ours = self._payload([self._status("read", time.time() + 1)])
        self.assertEqual(self._post(ours, secret="other-secret").status_code, 403)
        self.message.invalidate_recordset()
        self.assertEqual(self.message.state, "sent")
        with self.assertRaisesRegex(ValidationError, "Another company"):
            other.collection_whatsapp_phone_number_id = PHONE_ID

    def test_replay_is_refused(self):
        stamp = int(time.time())
        payload = self._payload([self._status("failed", stamp)])
        self.assertEqual(self._post(payload).status_code, 200)
        self.assertEqual(self._post(payload).status_code, 409)
        # Too old to be a live notification (its digest may be pruned).
        old = self._payload([self._status("delivered", stamp - 3 * 86400)])
        self.assertEqual(self._post(old).status_code, 409)

    def test_failed_status_falls_back_once(self):
        failed = self._status(
            "failed",
            errors=[
                {
                    "code": 131026,
                    "title": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."},
                }
            ],
        )
        self.assertEqual(self._post(self._payload([failed])).status_code, 200)
        self.message.invalidate_recordset()
        reminder = self._reminder()
        self.assertEqual(self.message.state, "failed")
        self.assertIn("Message Undeliverable", self.message.failure_reason)
        self.assertEqual(reminder.state, "planned")
        self.assertTrue(reminder.whatsapp_failed)
        self.assertTrue(self.customer.collection_whatsapp_unreachable)

    def test_stop_reply_opts_out(self):
        reply = {
            "from": NUMBER,
            "id": "wamid.inbound1",
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": "  Baja. "},
        }
        stranger = dict(reply, id="wamid.inbound2", **{"from": "56900000000"})
        response = self._post(self._payload(messages=[reply, stranger]))
        self.assertEqual(response.status_code, 200)
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.collection_no_whatsapp)
        self.assertIn(
            "replied Baja. on WhatsApp",
            self.customer.message_ids[:1].body,
        )

    def test_unsubscribe_link_stops_whatsapp(self):
        url = self.customer._collection_optout_url("whatsapp")
        self.assertIn("/collections/optout/whatsapp/", url)
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200)
        self.assertIn("WhatsApp", page.text)
        self.customer.invalidate_recordset()
        self.assertFalse(self.customer.collection_no_whatsapp, "a GET changes nothing")
        done = self.url_open(url, data={"confirm": "1"})
        self.assertEqual(done.status_code, 200)
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.collection_no_whatsapp)
        self.assertIn("by WhatsApp", self.customer.message_ids[:1].body)

    def test_garbage_is_never_a_server_error(self):
        for body in (
            b"",
            b"not json",
            b"[]",
            b'{"object": "whatsapp_business_account", "entry": "x"}',
            json.dumps(self._payload([{"id": 5, "status": None}])).encode(),
            json.dumps(self._payload([self._status("read", "soon")])).encode(),
        ):
            self.assertIn(self._post(body).status_code, (200, 403, 409), body)
