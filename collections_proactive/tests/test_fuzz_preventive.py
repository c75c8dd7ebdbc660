"""Fuzzing the preventive routes (see fuzz_common.py): the choices link and
the invoice links of a message (no login), automatic debit on the portal and
the statement."""

import unittest
from datetime import timedelta

from odoo.tests import tagged

from .fuzz_common import EXAMPLES, PortalFuzzCommon, fuzz_settings, given, st


@unittest.skipIf(st is None, "hypothesis is not installed")
@tagged("post_install", "-at_install")
class TestFuzzPreventive(PortalFuzzCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.with_company(cls.company).collection_risk_band = "low"
        cls.other.with_company(cls.company).collection_risk_band = "low"
        low = cls.env["collection.strategy"].search(
            [("company_id", "=", cls.company.id), ("band_low", "=", True)]
        )
        cls.env["collection.strategy.step"].create(
            {
                "strategy_id": low.id,
                "name": "Offer 10 days before due",
                "offset_days": -10,
                "is_offer": True,
                "offer_min_probability": 0.0,
                "mail_template_id": cls.env.ref(
                    "collections_proactive.mail_template_reminder_offer"
                ).id,
            }
        )
        cls.offers = (
            cls.env["collection.reminder.planner"]
            ._plan_reminders(companies=cls.company, partners=cls.customer | cls.other)
            .filtered(lambda reminder: reminder.kind == "offer")
        )

    def test_fuzz_offer_link(self):
        """GET and POST on /collections/offer/...: a wrong, another message's or
        expired link does nothing; a good one promises or asks for a plan once,
        for its own customer's amounts only."""
        self.assertTrue(self.offers)

        @given(
            offer=st.sampled_from(list(self.offers)),
            tamper=st.sampled_from(["none", "none", "token", "expires", "id", "text"]),
            junk=self.url_text,
            action=st.sampled_from(["", "/promise", "/plan"]),
            promised_date=st.one_of(
                st.integers(-50, 400).map(
                    lambda d: str(self.today + timedelta(days=d))
                ),
                self.hostile_text,
            ),
            note=st.one_of(st.none(), self.hostile_text),
            csrf=self.csrf,
        )
        @fuzz_settings(EXAMPLES)
        def run(offer, tamper, junk, action, promised_date, note, csrf):
            with self._example("offer"):
                url = offer.offer_url.removeprefix(offer.partner_id.get_base_url())
                base, expires, token = url.rsplit("/", 2)
                if tamper == "token":
                    token = token[:-1] + ("a" if token[-1] != "a" else "b")
                elif tamper == "expires":
                    expires = "20991231"
                elif tamper == "id":
                    base = "/collections/offer/" + str(self.offers.ids[-1] + 1000)
                elif tamper == "text":
                    token = junk.replace("/", "").replace("?", "") or "x"
                target = f"{base}/{expires}/{token}{action}"
                self._login(None)
                bystander = (self.customer | self.other) - offer.partner_id
                before = {bystander: self._records_of(bystander)}
                if action:
                    response = self._send(
                        target,
                        {"promised_date": promised_date, "note": note},
                        csrf=csrf,
                    )
                else:
                    response = self._get(target)
                # Never a word of the other customer's invoices, whatever link.
                self._assert_safe(
                    response,
                    {bystander: self.invoices_of[bystander].mapped("name")},
                    "offer",
                )
                if tamper != "none":
                    self.assertIn(response.status_code, (400, 403, 404, 410))
                self._assert_victims_untouched(before, "offer")

        run()
        # Whatever was posted: at most one promise and one plan per offer.
        for offer in self.offers:
            lines = offer.line_ids.move_line_id
            self.assertLessEqual(
                self.env["collection.promise"]
                .sudo()
                .search_count([("move_line_ids", "in", lines.ids)]),
                1,
            )
            self.assertLessEqual(
                self.env["collection.payment.plan"]
                .sudo()
                .search_count(
                    [("move_line_ids", "in", lines.ids), ("state", "=", "draft")]
                ),
                1,
            )

    def test_fuzz_invoice_link(self):
        """GET /collections/invoice/<id>/<signature>: only an invoice's own
        signature opens it (its portal page, no login); a tampered, foreign or
        hostile link is a 404 that shows no invoice and writes no token."""
        invoices = self.invoices_of[self.customer] | self.invoices_of[self.other]

        @given(
            invoice=st.sampled_from(list(invoices)),
            tamper=st.sampled_from(["none", "none", "other", "flip", "id", "text"]),
            junk=self.url_text,
            actor=self.actors,
        )
        @fuzz_settings(EXAMPLES)
        def run(invoice, tamper, junk, actor):
            with self._example("invoice link"):
                move_id, signature = invoice.id, invoice._collection_link_signature()
                if tamper == "other":
                    signature = (invoices - invoice)[:1]._collection_link_signature()
                elif tamper == "flip":
                    signature = signature[:-1] + ("a" if signature[-1] != "a" else "b")
                elif tamper == "id":
                    move_id = invoices.ids[-1] + 1000
                elif tamper == "text":
                    signature = junk.replace("/", "").replace("?", "") or "x"
                self._login(actor)
                invoices.invalidate_recordset(["access_token"])
                tokens = {move.id: move.access_token for move in invoices}
                response = self._get(f"/collections/invoice/{move_id}/{signature}")
                victims = {
                    partner: (self.invoices_of[partner] - invoice).mapped("name")
                    for partner in (self.customer, self.other)
                }
                self._assert_safe(response, victims, "invoice link")
                invoices.invalidate_recordset(["access_token"])
                if tamper == "none":
                    self.assertEqual(response.status_code, 200)
                    self.assertIn(invoice.name, response.text)
                    self.assertTrue(invoice.access_token)
                else:
                    self.assertEqual(response.status_code, 404)
                    self.assertEqual(
                        {move.id: move.access_token for move in invoices},
                        tokens,
                        "a refused link writes no token",
                    )

        run()

    def test_fuzz_autopay_and_statement(self):
        """POST /my/autopay/enable and /my/autopay/<id>/<action>, GET
        /my/statement/pdf: hostile ids, amounts and dates get a 4xx; nobody
        turns on, pauses or revokes another customer's mandate."""
        other_mandate = (
            self.env["collection.autopay"]
            .sudo()
            .create(
                {
                    "partner_id": self.other.id,
                    "company_id": self.company.id,
                    "token_id": self.token_of["other"].id,
                }
            )
        )

        @given(
            actor=self.actors,
            route=st.sampled_from(["enable", "action", "statement"]),
            token_id=st.one_of(
                st.sampled_from(
                    [str(self.token_of["own"].id), str(self.token_of["other"].id)]
                ),
                self.url_number,
                self.hostile_text,
            ),
            max_amount=st.one_of(st.none(), self.url_number, self.hostile_text),
            accept=st.sampled_from(["1", "1", "", "0", None]),
            autopay_id=st.one_of(st.just(other_mandate.id), st.integers(0, 2**31 + 5)),
            action=st.sampled_from(["pause", "resume", "revoke", "delete", "x"]),
            date_from=st.one_of(st.just("2026-01-01"), self.url_text),
            date_to=st.one_of(st.just("2026-03-01"), self.url_text),
            csrf=self.csrf,
        )
        @fuzz_settings(EXAMPLES)
        def run(
            actor,
            route,
            token_id,
            max_amount,
            accept,
            autopay_id,
            action,
            date_from,
            date_to,
            csrf,
        ):
            with self._example("autopay"):
                self._login(actor)
                state = other_mandate.sudo().state
                if route == "enable":
                    response = self._send(
                        "/my/autopay/enable",
                        {
                            "token_id": token_id,
                            "max_amount": max_amount,
                            "accept": accept,
                        },
                        csrf=csrf,
                    )
                elif route == "action":
                    response = self._send(
                        f"/my/autopay/{autopay_id}/{action}", {}, csrf=csrf
                    )
                else:
                    response = self._get(
                        "/my/statement/pdf",
                        {"date_from": date_from, "date_to": date_to},
                    )
                self._assert_safe(response, self._victims(actor), route)
                other_mandate.invalidate_recordset()
                if actor != "cp_portal_other":
                    self.assertEqual(other_mandate.sudo().state, state, route)
                    self.assertFalse(
                        self.env["collection.autopay"]
                        .sudo()
                        .search(
                            [
                                ("partner_id", "=", self.other.id),
                                ("id", "!=", other_mandate.id),
                            ]
                        )
                    )

        run()
