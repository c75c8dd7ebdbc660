"""Fuzzing the portal's promise form (see fuzz_common.py)."""

import unittest
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .fuzz_common import (
    EXAMPLES,
    PortalFuzzCommon,
    example,
    fuzz_settings,
    given,
    st,
)


@unittest.skipIf(st is None, "hypothesis is not installed")
@tagged("post_install", "-at_install")
class TestFuzzPortalPromise(PortalFuzzCommon):
    """Hostile values posted to the promise form of *My payments*."""

    def test_fuzz_promise_form(self):
        """POST /my/collections/promise: a promise only for the actor's own
        overdue invoices, by a date from today within the company's limit."""
        max_days = self.company.collection_promise_max_days
        in_days = str(self.today + timedelta(days=5))

        @given(
            # The company's limit of days ahead; 0 is none.
            limit=st.sampled_from([max_days] * 4 + [0]),
            actor=st.sampled_from(["cp_portal", "cp_portal", "cp_portal_other"]),
            invoices=self.invoice_choice,
            promised_date=st.one_of(
                st.integers(0, max_days).map(
                    lambda days: str(self.today + timedelta(days=days))
                ),
                st.integers(-800, 800).map(
                    lambda days: str(self.today + timedelta(days=days))
                ),
                st.dates().map(str),
                self.hostile_text,
            ),
            note=st.one_of(st.none(), st.just("Pago el viernes"), self.hostile_text),
            csrf=self.csrf,
            as_file=self._as_file("invoice_ids", "promised_date", "note"),
        )
        @example(
            limit=max_days,
            actor="cp_portal",
            invoices="mine",
            promised_date=in_days,
            note="<script>fuzz()</script>",
            csrf="valid",
            as_file=frozenset(),
        )
        @example(
            limit=max_days,
            actor="cp_portal_other",
            invoices="free",
            promised_date=in_days,
            note="1; DROP TABLE res_partner--",
            csrf="valid",
            as_file=frozenset(),
        )
        @example(
            limit=0,
            actor="cp_portal",
            invoices="mine",
            promised_date="9999-12-31",
            note=None,
            csrf="valid",
            as_file=frozenset(),
        )
        @example(
            limit=max_days,
            actor="cp_portal",
            invoices="mine",
            promised_date=in_days,
            note="a\x00b",
            csrf="valid",
            as_file=frozenset(),
        )
        @fuzz_settings(EXAMPLES)
        @self._in_example("promise_form")
        def run(limit, actor, invoices, promised_date, note, csrf, as_file):
            self.company.collection_promise_max_days = limit
            self._login(actor)
            mine = self.partner_of[actor]
            victims = self._victims(actor)
            before = {partner: self._records_of(partner) for partner in victims}
            plans = self._plan_snapshot()
            last = self.Promise.search([], order="id desc", limit=1).id or 0
            invoice_ids = self._invoices(invoices, actor)
            # A field sent as a file part is a missing field.
            sent = {
                "invoice_ids": invoice_ids,
                "promised_date": promised_date,
                "note": note,
            }
            missing = {name: None for name in as_file}
            invoices = invoices if "invoice_ids" not in as_file else None
            promised_date = missing.get("promised_date", promised_date)
            note = missing.get("note", note)
            when = (
                fields.Date.to_date(promised_date)
                if promised_date
                in {
                    str(self.today + timedelta(days=days))
                    for days in range(max_days + 1)
                }
                else None
            )
            clean = (
                csrf == "valid"
                and invoices in ("mine", "free")
                and when
                and "\x00" not in (note or "")
            )
            response = self._send("/my/collections/promise", sent, csrf, as_file)
            self._assert_safe(response, victims, "promise")
            self._assert_victims_untouched(before, "promise")
            self.assertEqual(self._plan_snapshot(), plans, "plans untouched")
            new = self.Promise.search([("id", ">", last)])
            if response.status_code != 200 or csrf != "valid":
                self.assertFalse(new, "refused, nothing written")
                self.assertFalse(clean, "a sane promise refused")
                return
            self.assertEqual(len(new), 1)
            self.assertEqual(new.partner_id, mine)
            self.assertEqual(set(new.invoice_ids.ids), {int(i) for i in invoice_ids})
            self.assertFalse(as_file - {"note"}, "a file part taken for text")
            self.assertTrue(
                all(move.invoice_date_due < self.today for move in new.invoice_ids)
            )
            self.assertLessEqual(new.invoice_ids, self.invoices_of[mine])
            self.assertGreaterEqual(new.promised_date, self.today)
            if limit:
                self.assertLessEqual(
                    new.promised_date, self.today + timedelta(days=limit)
                )
            self.assertEqual(new.source, "portal")
            self.assertLessEqual(len(new.note or ""), 2000)

        self._run("promise_form", EXAMPLES, run)
