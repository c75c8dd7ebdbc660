"""The outside probe, kept: two portal customers attack the addon's public and
portal routes and the Odoo routes that reach its records (mail chatter, message
post, reports). Each attack asserts no answer 500, no ERROR in the server log,
nothing read or written across customers."""

import json
import logging
import re
from contextlib import contextmanager
from datetime import timedelta

from odoo import Command, http
from odoo.tests import tagged

from .common import RUT, PortalCommon

PAYLOADS = (
    '<img src="http://attacker.example/beacon.png">'
    '<a href="https://evil.example/login">Click to approve</a>'
)
MALFORMED_TOKENS = ["%C3%A9", "\u00e9" * 64, "0" * 64, "a", "%00", "%FF%FE", "x" * 500]


class _ErrorRecords(logging.Handler):
    """Keeps the ERROR records of every logger. On the HTTP loggers, whose
    warnings for refused requests are expected, it is a filter: it keeps the
    errors and mutes the rest."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def filter(self, record):
        if record.levelno >= logging.ERROR:
            self.records.append(record)
        return False


MUTED = ("odoo.http", "werkzeug")


@tagged("post_install", "-at_install")
class TestPortalProbe(PortalCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.env.ref("payment.payment_provider_demo").sudo()
        cls.provider.write({"state": "test", "company_id": cls.company.id})
        cls.method = cls.env.ref("payment_demo.payment_method_demo")
        cls.card = cls._card(cls.customer, "1111")
        cls.other_card = cls._card(cls.other, "2222")
        cls.plan = cls._cp_portal_plan(cls.customer, cls.overdue[0], active=True)
        cls.proposed = cls._cp_portal_plan(cls.customer, cls.overdue[1])
        cls.other_plan = cls._cp_portal_plan(cls.other, cls.other_invoice)
        cls.promise = cls.env["collection.promise"].create(
            {
                "partner_id": cls.customer.id,
                "invoice_ids": [Command.set(cls.overdue[1].ids)],
                "amount": 100,
                "promised_date": cls.today + timedelta(days=5),
            }
        )

    @classmethod
    def _card(cls, partner, digits):
        return cls.env["payment.token"].create(
            {
                "provider_id": cls.provider.id,
                "payment_method_id": cls.method.id,
                "partner_id": partner.id,
                "payment_details": digits,
                "provider_ref": "demo",
            }
        )

    @contextmanager
    def _no_server_error(self):
        """No ERROR record in the server log while the block runs, whatever
        logger writes it (the request runs in the server's thread); the HTTP
        loggers' warnings about refused requests are muted."""
        handler = _ErrorRecords()
        root = logging.getLogger()
        root.addHandler(handler)
        for name in MUTED:
            logging.getLogger(name).addFilter(handler)
        try:
            yield
        finally:
            root.removeHandler(handler)
            for name in MUTED:
                logging.getLogger(name).removeFilter(handler)
        self.assertFalse(
            [record.getMessage()[:300] for record in handler.records],
            "the server logged an error",
        )

    def _json(self, url, params):
        return self.url_open(
            url,
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}),
            headers={"Content-Type": "application/json"},
        )

    # ------------------------------------------------------------------
    # 1, 6: the unsubscribe link
    # ------------------------------------------------------------------

    def test_optout_malformed_tokens_are_404_whether_the_id_exists_or_not(self):
        missing = self.env["res.partner"].search([], order="id desc", limit=1).id + 1
        with self._no_server_error():
            for partner_id in (self.customer.id, missing, 2**31, 10**30):
                bodies = set()
                for token in MALFORMED_TOKENS:
                    url = f"/collections/optout/email/{partner_id}/{token}"
                    for data in (None, {"confirm": "1"}):
                        response = self.url_open(url, data=data)
                        self.assertEqual(response.status_code, 404, url)
                        # The page's CSRF token changes with the clock.
                        bodies.add(re.sub(r"csrf_token[^,>]*", "", response.text))
                self.assertEqual(len(bodies), 1, "one page for every bad link")
        self.customer.invalidate_recordset()
        self.assertFalse(self.customer.collection_no_email)

    def test_optout_replayed_post_notes_once(self):
        url = (
            f"/collections/optout/sms/{self.customer.id}/"
            f"{self.customer._collection_optout_token('sms')}"
        )
        before = len(self.customer.message_ids)
        for _attempt in range(3):
            response = self.url_open(url, data={"confirm": "1"})
            self.assertEqual(response.status_code, 200)
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.collection_no_sms)
        self.assertEqual(len(self.customer.message_ids) - before, 1)

    # ------------------------------------------------------------------
    # 2: text fields sent as file parts
    # ------------------------------------------------------------------

    def _multipart(self, url, fields, files):
        data = {**fields, "csrf_token": http.Request.csrf_token(self)}
        return self.url_open(
            url,
            data=data,
            files={name: (name, b"<b>file</b>", "text/plain") for name in files},
        )

    def test_text_fields_as_file_parts_are_missing(self):
        self.authenticate("cp_portal", "cp_portal")
        Promise = self.env["collection.promise"]
        promises = Promise.search_count([])
        in_days = str(self.today + timedelta(days=5))
        forms = [
            (
                "/my/collections/promise",
                {"invoice_ids": str(self.overdue[0].id), "promised_date": in_days},
                ["invoice_ids", "promised_date", "note"],
            ),
            (
                f"/my/payment_plans/{self.proposed.id}/decline",
                {"decline_reason": "Cuotas altas"},
                ["decline_reason"],
            ),
            (
                f"/my/payment_plans/{self.proposed.id}/accept",
                {"signer_name": "María Pérez", "signer_vat": RUT},
                ["signer_name", "signer_vat"],
            ),
            (
                "/my/payment_plans/request",
                {"invoice_ids": str(self.overdue[1].id), "installment_count": "2"},
                ["installment_count", "frequency"],
            ),
        ]
        with self._no_server_error():
            for url, fields, file_fields in forms:
                for name in file_fields:
                    sent = {key: value for key, value in fields.items() if key != name}
                    response = self._multipart(url, sent, [name])
                    self.assertLess(response.status_code, 500, f"{url} {name}")
                    if name not in ("note", "frequency"):
                        # A required field as a file is a missing field: the
                        # form's 4xx page, nothing written.
                        self.assertGreaterEqual(
                            response.status_code, 400, f"{url} {name}"
                        )
        self.assertEqual(self.proposed.state, "proposed")
        # The note is optional: the promise is made without it, once.
        self.assertEqual(Promise.search_count([]) - promises, 1)
        self.assertFalse(Promise.search([], order="id desc", limit=1).note)

    # ------------------------------------------------------------------
    # 3, 5: saved cards
    # ------------------------------------------------------------------

    def _plan_page(self, plan):
        return self.url_open(
            f"/my/payment_plans/{plan.id}?access_token={plan.access_token}"
        )

    def test_plan_page_lists_only_the_visitors_own_cards(self):
        card = self.card.display_name
        self.authenticate("cp_portal_other", "cp_portal_other")
        page = self._plan_page(self.plan)
        self.assertEqual(page.status_code, 200)
        self.assertNotIn(card, page.text)
        self.assertNotIn("o_collections_auto_debit_form", page.text)
        self.authenticate(None, None)
        page = self._plan_page(self.plan)
        self.assertEqual(page.status_code, 200)
        self.assertNotIn(card, page.text)
        self.authenticate("cp_portal", "cp_portal")
        page = self._plan_page(self.plan)
        self.assertIn(card, page.text)
        self.assertNotIn(self.other_card.display_name, page.text)

    def _charge(self, plan, flow, token=None):
        return self._json(
            f"/my/payment_plans/{plan.id}/transaction",
            {
                "access_token": plan.access_token,
                "provider_id": self.provider.id,
                "payment_method_id": self.method.id,
                "token_id": token.id if token else None,
                "flow": flow,
                "tokenization_requested": False,
                "landing_route": "/my/payment_plans",
            },
        ).json()

    def test_the_link_alone_never_charges_a_saved_card(self):
        Transaction = self.env["payment.transaction"]
        before = Transaction.search_count([])
        with self._no_server_error():
            answer = self._charge(self.plan, "token", self.card)
            self.assertIn("error", answer)
            self.assertEqual(Transaction.search_count([]), before)
            # Another customer, logged in, cannot use the customer's card either.
            self.authenticate("cp_portal_other", "cp_portal_other")
            self.assertIn("error", self._charge(self.plan, "token", self.card))
            self.assertEqual(Transaction.search_count([]), before)
            # The link still pays with a new card.
            self.authenticate(None, None)
            self.assertNotIn("error", self._charge(self.plan, "direct"))
            self.assertEqual(Transaction.search_count([]), before + 1)
            # The card's owner, logged in, pays with it.
            self.authenticate("cp_portal", "cp_portal")
            answer = self._charge(self.plan, "token", self.card)
            self.assertNotIn("error", answer)
        tx = Transaction.search([], order="id desc", limit=1)
        self.assertEqual(tx.token_id, self.card)

    # ------------------------------------------------------------------
    # 4: what a customer types reaches staff as text
    # ------------------------------------------------------------------

    def test_customer_text_reaches_staff_escaped(self):
        self.authenticate("cp_portal", "cp_portal")
        response = self._post(
            f"/my/payment_plans/{self.proposed.id}/decline",
            {"decline_reason": PAYLOADS},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.proposed.state, "declined")
        note = str(self.proposed.activity_ids.note)
        self.assertTrue(note)
        for markup in ("<img", "<a ", "<p>&lt;p&gt;"):
            self.assertNotIn(markup, note)
        self.assertIn("Click to approve", note)
        self.assertIn("&lt;img", note)

    # ------------------------------------------------------------------
    # 7: Odoo's own mail and report routes on the addon's records
    # ------------------------------------------------------------------

    def test_odoo_mail_routes_refuse_cleanly(self):
        targets = [
            ("collection.promise", self.promise.id),
            ("res.partner", self.customer.id),
            ("collection.payment.plan", self.other_plan.id),
            ("collection.payment.plan", self.plan.id),
        ]
        credentials = [
            {"token": "abc"},
            {"token": "\u00e9"},
            {"token": ["x"]},
            {"hash": "abc", "pid": self.other.id},
            {"hash": "\u00e9", "pid": "x"},
        ]
        with self._no_server_error():
            for actor in (None, "cp_portal_other"):
                self.authenticate(actor, actor)
                for model, res_id in targets:
                    for extra in credentials:
                        fetch = self._json(
                            "/mail/chatter_fetch",
                            {"thread_model": model, "thread_id": res_id, **extra},
                        )
                        self.assertLess(fetch.status_code, 500, (model, extra))
                        answer = fetch.json()
                        self.assertFalse(
                            answer.get("result", {}).get("messages"),
                            (actor, model, extra),
                        )
                        post = self._json(
                            "/mail/message/post",
                            {
                                "thread_model": model,
                                "thread_id": res_id,
                                "post_data": {
                                    "body": "probe",
                                    "message_type": "comment",
                                },
                                **extra,
                            },
                        )
                        self.assertLess(post.status_code, 500, (model, extra))
                        self.assertIn("error", post.json(), (actor, model, extra))
        self.assertFalse(
            self.env["mail.message"].search_count([("body", "ilike", "probe")])
        )

    def test_plan_token_still_opens_its_chatter(self):
        fetch = self._json(
            "/mail/chatter_fetch",
            {
                "thread_model": "collection.payment.plan",
                "thread_id": self.plan.id,
                "token": self.plan.access_token,
            },
        )
        self.assertIn("result", fetch.json())

    def test_report_routes_answer_without_an_error(self):
        """Odoo's report routes give the customer its own agreement and refuse
        the others' with a 4xx, with no error in the log."""
        report = "collections_proactive.collection_payment_plan_report"
        self.missing_plan = self.env["collection.payment.plan"].browse(2**31 - 1)
        with self._no_server_error():
            for actor in ("cp_portal", "cp_portal_other", None):
                self.authenticate(actor, actor)
                for kind in ("pdf", "html", "text"):
                    for plan in (self.plan, self.other_plan, self.missing_plan):
                        url = f"/report/{kind}/{report}/{plan.id}"
                        response = self.url_open(url, allow_redirects=False)
                        if (actor, plan) in (
                            ("cp_portal", self.plan),
                            ("cp_portal_other", self.other_plan),
                        ):
                            self.assertEqual(response.status_code, 200, url)
                            continue
                        self.assertIn(response.status_code, (303, 400, 403, 404), url)
                        self.assertNotIn(f"{plan.id}</", response.text, url)
                        if plan != self.missing_plan:
                            self.assertNotIn(plan.name, response.text, url)
