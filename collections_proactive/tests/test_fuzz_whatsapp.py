"""Fuzzing the WhatsApp channel (see fuzz_common.py): Meta's webhook (the
address check and the signed notifications) and the WhatsApp forms of the back
office (templates, company settings)."""

import json
import time
import unittest

from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..controllers.whatsapp import MAX_BODY
from ..tools import whatsapp_api
from .fuzz_common import (
    BACK_OFFICE_EXAMPLES,
    EXAMPLES,
    UNESCAPED,
    FuzzMixin,
    fuzz_settings,
    fuzz_strategies,
    given,
    st,
)
from .test_whatsapp import NUMBER, PHONE_ID, SECRET, VERIFY, WhatsappCommon
from .whatsapp_fake import notification

URL = "/collections/whatsapp/webhook"
# What the webhook may answer; anything else (a 500) is a bug.
ANSWERS = {200, 403, 409, 413}


@unittest.skipIf(st is None, "hypothesis is not installed")
@tagged("post_install", "-at_install")
class TestFuzzWhatsapp(FuzzMixin, WhatsappCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Long strings of 1,000 at most: nested in JSON (20 leaves), longer
        # ones make Hypothesis warn about the size of its examples' repr.
        cls.text, cls.hostile_text, cls.hostile_number = fuzz_strategies(longest=1000)
        # In a URL the server's request line holds 64 KiB (a 414 then).
        _text, cls.url_text, _number = fuzz_strategies(longest=1500)
        # What a form can store: PostgreSQL refuses NUL in any text column,
        # before the addon's checks (as in test_fuzz_back_office.py).
        cls.stored_text = cls.hostile_text.map(lambda text: text.replace("\x00", ""))
        cls.stored_number = cls.hostile_number.map(
            lambda text: text.replace("\x00", "")
        )
        json_leaf = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False),
            cls.hostile_text,
        )
        cls.json_value = st.recursive(
            json_leaf,
            lambda inner: st.one_of(
                st.lists(inner, max_size=4),
                st.dictionaries(cls.text, inner, max_size=4),
            ),
            max_leaves=20,
        )

    def setUp(self):
        super().setUp()
        self._send_reminders()
        self._send_whatsapp()
        self.message = self._reminder().whatsapp_message_ids
        self.assertEqual(self.message.state, "sent")

    def test_fuzz_webhook_post(self):
        """Hostile notifications, signed or not: never a server error; nothing
        changes unless the company's secret signed it."""
        now = int(time.time())
        status = st.fixed_dictionaries(
            {
                "id": st.one_of(st.just("wamid"), self.hostile_text, self.json_value),
                "status": st.one_of(
                    st.sampled_from(["sent", "delivered", "read", "failed"]),
                    self.json_value,
                ),
                "timestamp": st.one_of(
                    st.just(str(now)),
                    self.hostile_number,
                    self.json_value,
                ),
                "errors": self.json_value,
            }
        )
        inbound = st.fixed_dictionaries(
            {
                "from": st.one_of(st.just(NUMBER), self.hostile_number),
                "timestamp": st.one_of(st.just(str(now)), self.hostile_number),
                "type": st.sampled_from(["text", "button", "image"]),
                "text": st.one_of(
                    st.fixed_dictionaries(
                        {
                            "body": st.one_of(
                                st.sampled_from(["STOP", "baja", "Parar!"]),
                                self.hostile_text,
                            )
                        }
                    ),
                    self.json_value,
                ),
            }
        )

        @given(
            shape=st.sampled_from(["notification", "notification", "json", "text"]),
            statuses=st.lists(status, max_size=3),
            messages=st.lists(inbound, max_size=2),
            phone_id=st.one_of(st.just(PHONE_ID), self.hostile_number),
            junk=st.one_of(self.json_value, self.hostile_text),
            signing=st.sampled_from(["valid", "valid", "none", "wrong", "junk"]),
            header=self.hostile_text,
        )
        @fuzz_settings(EXAMPLES)
        def run(shape, statuses, messages, phone_id, junk, signing, header):
            with self._example("webhook"):
                for item in statuses:
                    if item["id"] == "wamid":
                        item["id"] = self.message.wamid
                if shape == "notification":
                    body = json.dumps(
                        notification(phone_id, statuses, messages)
                    ).encode()
                elif shape == "json":
                    body = json.dumps(junk).encode()
                else:
                    body = str(junk).encode("utf-8", "surrogatepass")
                headers = {"Content-Type": "application/json"}
                if signing == "valid":
                    headers["X-Hub-Signature-256"] = whatsapp_api.signature(
                        SECRET, body
                    )
                elif signing == "wrong":
                    headers["X-Hub-Signature-256"] = whatsapp_api.signature(
                        "not-the-secret", body
                    )
                elif signing == "junk":
                    # Header values travel as latin-1.
                    printable = "".join(c for c in header if c.isprintable())
                    headers["X-Hub-Signature-256"] = (
                        printable.encode("latin-1", "ignore").decode("latin-1").strip()
                        or "x"
                    )
                with mute_logger("odoo.http"):
                    response = self.url_open(URL, data=body, headers=headers)
                self.assertIn(response.status_code, ANSWERS, body[:300])
                for marker in UNESCAPED:
                    self.assertNotIn(marker, response.text)
                if signing != "valid":
                    # Refused: too large before anything is read, else unsigned.
                    self.assertEqual(
                        response.status_code, 413 if len(body) > MAX_BODY else 403
                    )
                    self.message.invalidate_recordset()
                    self.customer.invalidate_recordset()
                    self.assertEqual(self.message.state, "sent")
                    self.assertFalse(self.customer.collection_no_whatsapp)

        self._run("webhook", EXAMPLES, run)

    def test_fuzz_webhook_verify(self):
        """The address check with hostile parameters: the challenge comes back
        only for the right verify token, as text."""

        @given(
            mode=st.one_of(st.just("subscribe"), self.text),
            token=st.one_of(st.just(VERIFY), self.url_text),
            challenge=st.one_of(st.just("1158201444"), self.url_text),
        )
        @fuzz_settings(EXAMPLES)
        def run(mode, token, challenge):
            with self._example("verify"):
                params = {
                    "hub.mode": mode,
                    "hub.verify_token": token,
                    "hub.challenge": challenge,
                }
                with mute_logger("odoo.http"):
                    response = self.url_open(
                        URL
                        + "?"
                        + "&".join(
                            f"{key}={value}"
                            for key, value in (
                                (k, self._quote(v)) for k, v in params.items()
                            )
                        )
                    )
                self.assertIn(response.status_code, {200, 403})
                if response.status_code == 200:
                    self.assertEqual(token, VERIFY)
                    self.assertEqual(response.text, challenge)
                    self.assertTrue(challenge.isalnum())

        self._run("verify", EXAMPLES, run)

    @staticmethod
    def _quote(value):
        from urllib.parse import quote

        return quote(value.encode("utf-8", "surrogatepass"), safe="")

    def test_fuzz_template_form(self):
        """The template form with hostile values: saved, or a clear error."""
        Template = self.env["collection.whatsapp.template"].with_user(
            self.collections_manager
        )

        @given(
            name=st.one_of(st.just("collections_fuzz"), self.stored_text),
            language_code=st.one_of(st.sampled_from(["es", "en_US"]), self.stored_text),
            body=st.one_of(st.just("Hola {{1}}, {{2}}"), self.stored_text),
            parameters=st.one_of(st.just("customer,amount"), self.stored_text),
        )
        @fuzz_settings(BACK_OFFICE_EXAMPLES)
        def run(name, language_code, body, parameters):
            with self._example("template"):
                try:
                    with self.env.cr.savepoint():
                        template = Template.create(
                            {
                                "name": name,
                                "language_code": language_code,
                                "body": body,
                                "parameters": parameters,
                            }
                        )
                        template.flush_recordset()
                except ValidationError:
                    return
                # What was saved renders for a reminder without error.
                template._render_preview(["x"] * len(template._parameter_keys()))

        self._run("template", BACK_OFFICE_EXAMPLES, run)

    def test_fuzz_settings_form(self):
        """The WhatsApp settings with hostile values: saved, or a clear error."""

        @given(
            number_id=st.one_of(st.just("106540352242922"), self.stored_number),
            token=self.stored_text,
        )
        @fuzz_settings(EXAMPLES)
        def run(number_id, token):
            with self._example("settings"):
                settings = (
                    self.env["res.config.settings"]
                    .sudo()
                    .with_company(self.company)
                    .create({})
                )
                try:
                    with self.env.cr.savepoint():
                        settings.write(
                            {
                                "collection_whatsapp_phone_number_id": number_id,
                                "collection_whatsapp_token": token,
                            }
                        )
                        settings.execute()
                except ValidationError:
                    return

        self._run("settings", EXAMPLES, run)
