"""Fuzzing the portal's payment plans: request, accept, decline, and the pages
(see fuzz_common.py)."""

import unittest
from urllib.parse import quote

from stdnum.cl import vat as cl_vat

from odoo.tests import tagged

from .common import RUT
from .fuzz_common import (
    EXAMPLES,
    GOOD_NAMES,
    GOOD_RUTS,
    INT4,
    OTHER_RUTS,
    PortalFuzzCommon,
    example,
    fuzz_settings,
    given,
    st,
)


@unittest.skipIf(st is None, "hypothesis is not installed")
@tagged("post_install", "-at_install")
class TestFuzzPortalPlan(PortalFuzzCommon):
    """Hostile values posted to the plan request, the acceptance and the
    decline, and given to the plan pages."""

    # ------------------------------------------------------------------
    # Request a plan
    # ------------------------------------------------------------------

    def test_fuzz_plan_request_form(self):
        """GET|POST /my/payment_plans/request: a plan only for the actor's own
        overdue invoices, within the policy's installments."""

        @given(
            actor=self.actors,
            method=st.sampled_from(["POST", "POST", "GET"]),
            invoices=self.invoice_choice,
            installment_count=st.one_of(
                st.integers(1, 12).map(str),
                st.integers(-3, 15).map(str),
                self.url_number,
            ),
            frequency=st.one_of(
                st.sampled_from(["weekly", "biweekly", "monthly", "daily", None]),
                self.url_text,
            ),
            csrf=self.csrf,
            as_file=self._as_file("invoice_ids", "installment_count", "frequency"),
        )
        @example(
            actor="cp_portal",
            method="POST",
            invoices="free",
            installment_count="3",
            frequency="monthly",
            csrf="valid",
            as_file=frozenset(),
        )
        @fuzz_settings(EXAMPLES)
        @self._in_example("plan_request_form")
        def run(actor, method, invoices, installment_count, frequency, csrf, as_file):
            self._login(actor)
            mine = self.partner_of[actor]
            victims = self._victims(actor)
            before = {partner: self._records_of(partner) for partner in victims}
            plans = self._plan_snapshot()
            last = self.Plan.search([], order="id desc", limit=1).id or 0
            data = {
                "invoice_ids": self._invoices(invoices, actor),
                "installment_count": installment_count,
                "frequency": frequency,
            }
            if method == "GET":
                as_file = frozenset()
            if as_file:
                # A field sent as a file part is a missing field.
                invoices = None if "invoice_ids" in as_file else invoices
                if "installment_count" in as_file:
                    installment_count = None
                frequency = None if "frequency" in as_file else frequency
            clean = (
                method == "POST"
                and actor
                and csrf == "valid"
                and invoices == "free"
                and installment_count in {str(count) for count in range(1, 13)}
                and frequency in ("weekly", "biweekly", "monthly", None)
            )
            url = "/my/payment_plans/request"
            if method == "GET":
                response = self._get(url, data)
            else:
                response = self._send(url, data, csrf, as_file)
            self._assert_safe(response, victims, "request")
            self._assert_victims_untouched(before, "request")
            self.assertEqual(self._plan_snapshot(), plans, "plans untouched")
            new = self.Plan.search([("id", ">", last)])
            if method == "GET" or not actor or csrf != "valid":
                self.assertFalse(new, "nothing written")
                return
            if response.status_code != 200:
                self.assertFalse(new, "refused, nothing written")
                self.assertFalse(clean, "a sane request refused")
                return
            self.assertEqual(len(new), 1)
            self.assertEqual(new.partner_id, mine)
            self.assertTrue(new.portal_requested)
            self.assertEqual(new.invoice_ids, self.free_of[mine])
            self.assertTrue(1 <= new.installment_count <= 12)
            self.assertIn(new.frequency, ("weekly", "biweekly", "monthly"))
            self.assertIn(new.state, ("draft", "proposed"))
            self.assertGreaterEqual(new.first_date, self.today)
            self.assertFalse(
                new.currency_id.compare_amounts(
                    sum(new.installment_ids.mapped("amount")), new.amount_total
                )
            )

        self._run("plan_request_form", EXAMPLES, run)

    # ------------------------------------------------------------------
    # Accept, decline
    # ------------------------------------------------------------------

    @staticmethod
    def _typed_rut(value):
        """The RUT the portal reads from ``value`` (compact), or None: a leading
        CL is the country's prefix unless part of a valid RUT."""
        typed = (value or "").strip()
        if typed[:2].upper() == "CL" and not cl_vat.is_valid(typed):
            typed = typed[2:]
        return cl_vat.compact(typed) if cl_vat.is_valid(typed) else None

    def test_fuzz_plan_accept_decline(self):
        """POST /my/payment_plans/<id>/accept|decline: only the plan's customer
        or its token's holder, only a proposed plan, signed with a full name and
        the customer's RUT (76.086.428-5); the other plans never change."""

        @given(
            actor=self.actors,
            target=st.sampled_from(
                [self.plan] * 3 + [self.other_plan] * 2 + [self.active_plan, None]
            ),
            missing_id=st.sampled_from([None, INT4, 10**30]),
            token=self._token_choice(),
            action=st.sampled_from(["accept", "accept", "decline"]),
            signer_name=st.one_of(st.sampled_from(GOOD_NAMES), self.hostile_text),
            signer_vat=st.one_of(
                st.sampled_from(GOOD_RUTS + OTHER_RUTS), self.hostile_text
            ),
            decline_reason=st.one_of(
                st.sampled_from(["Cuotas altas", "  no  "]), self.hostile_text
            ),
            csrf=self.csrf,
            as_file=self._as_file("signer_name", "signer_vat", "decline_reason"),
        )
        @example(
            actor=None,
            target=self.plan,
            missing_id=None,
            token="right",
            action="accept",
            signer_name="María Pérez",
            signer_vat="760864285",
            decline_reason=None,
            csrf="valid",
            as_file=frozenset(),
        )
        @example(
            actor="cp_portal_other",
            target=self.other_plan,
            missing_id=None,
            token="none",
            action="decline",
            signer_name=None,
            signer_vat=None,
            decline_reason="<script>fuzz()</script>",
            csrf="valid",
            as_file=frozenset(),
        )
        @example(
            actor="cp_portal_other",
            target=self.plan,
            missing_id=None,
            token="text:\u00e9",
            action="accept",
            signer_name="María Pérez",
            signer_vat=RUT,
            decline_reason=None,
            csrf="valid",
            as_file=frozenset(),
        )
        @example(
            actor="cp_portal",
            target=self.plan,
            missing_id=None,
            token="none",
            action="accept",
            signer_name="Ana\x00",
            signer_vat=RUT,
            decline_reason=None,
            csrf="valid",
            as_file=frozenset(),
        )
        @example(
            actor="cp_portal",
            target=self.plan,
            missing_id=None,
            token="none",
            action="decline",
            signer_name=None,
            signer_vat=None,
            decline_reason="\x00",
            csrf="valid",
            as_file=frozenset(),
        )
        @fuzz_settings(EXAMPLES)
        @self._in_example("plan_accept_decline")
        def run(
            actor,
            target,
            missing_id,
            token,
            action,
            signer_name,
            signer_vat,
            decline_reason,
            csrf,
            as_file,
        ):
            self._login(actor)
            access_token = self._token(token, target)
            access = csrf == "valid" and self._has_access(actor, target, access_token)
            clean = (
                access
                and action == "accept"
                and target == self.plan
                and signer_name in GOOD_NAMES
                and signer_vat in GOOD_RUTS
            )
            plan_id = (
                target.id
                if target
                else missing_id or self.Plan.search([], limit=1).id + 1000
            )
            victims = self._victims(actor, target if access else None)
            before = {partner: self._records_of(partner) for partner in victims}
            untouched = self.plans - (target or self.Plan)
            others = self._plan_snapshot(untouched)
            snapshot = self._plan_snapshot(target or self.Plan)
            if action == "accept":
                data = {"signer_name": signer_name, "signer_vat": signer_vat}
            else:
                data = {"decline_reason": decline_reason}
            as_file = as_file & set(data)
            # A field sent as a file part is a missing field: never signed.
            clean = clean and not as_file
            response = self._send(
                f"/my/payment_plans/{plan_id}/{action}",
                {"access_token": access_token, **data},
                csrf,
                as_file,
            )
            label = f"{action} {target.name if target else plan_id}"
            self._assert_safe(response, victims, label)
            self._assert_victims_untouched(before, label)
            self.assertEqual(self._plan_snapshot(untouched), others, label)
            if csrf != "valid":
                self.assertEqual(response.status_code, 400, label)
            elif not access:
                self.assertEqual(response.status_code, 404, label)
            if response.status_code != 200:
                self.assertEqual(
                    self._plan_snapshot(target or self.Plan), snapshot, label
                )
                self.assertFalse(clean, f"{label}: a sane signature refused")
                return
            self.assertTrue(access, label)
            self.assertFalse(as_file, f"{label}: a file part taken for text")
            self.assertEqual(snapshot[target.id][0], "proposed", label)
            if action == "accept":
                name = signer_name.replace("\x00", "").strip()
                self.assertTrue(3 <= len(name) <= 200, label)
                typed = self._typed_rut(signer_vat)
                self.assertTrue(typed, f"{label}: not a RUT")
                if target.partner_id.vat:
                    self.assertEqual(typed, cl_vat.compact(target.partner_id.vat))
                self.assertEqual(target.state, "active", label)
                self.assertEqual(target.accepted_by, name)
                self.assertEqual(cl_vat.compact(target.accepted_vat), typed)
            else:
                reason = decline_reason.strip()
                self.assertTrue(reason and len(reason) <= 2000, label)
                self.assertEqual(target.state, "declined", label)
                self.assertEqual(target.decline_reason, reason)

        self._run("plan_accept_decline", EXAMPLES, run)

    # ------------------------------------------------------------------
    # Pages: list, detail, report, pay
    # ------------------------------------------------------------------

    def test_fuzz_plan_pages(self):
        """GET /my, /my/collections, /my/payment_plans[/page/<n>],
        /my/payment_plans/<id>[/pay] with any query: read only, a 404 for the
        plans of others without their token, no other customer's invoices."""

        @given(
            actor=self.actors,
            target=st.sampled_from([*self.plans, None]),
            junk_path=st.one_of(
                st.sampled_from(["-1", "0", str(INT4), str(10**30), "1e3", "abc"]),
                self.url_text.map(lambda text: quote(text, safe="")),
            ),
            suffix=st.sampled_from(["", "", "/pay"]),
            token=self._token_choice(self.url_text),
            report_type=st.one_of(
                st.none(), st.sampled_from(["html", "pdf", "text"]), self.url_text
            ),
            download=st.one_of(st.none(), st.sampled_from(["true", "1"]), self.text),
            message=st.one_of(st.none(), self.url_text),
            page=st.one_of(
                st.sampled_from([1, 2, INT4, 10**30]).map(str),
                self.url_number.map(lambda text: quote(text, safe="")),
            ),
            listing=st.sampled_from(
                [None, None, None, "/my/payment_plans", "/my/payment_plans/page/"]
                + ["/my", "/my/collections"]
            ),
        )
        @example(
            actor=None,
            target=self.plan,
            junk_path="0",
            suffix="",
            token="text:\u00e9",
            report_type=None,
            download=None,
            message=None,
            page="1",
            listing=None,
        )
        @example(
            actor="cp_portal",
            target=self.plan,
            junk_path="0",
            suffix="",
            token="none",
            report_type="pdf",
            download="true",
            message=None,
            page="1",
            listing=None,
        )
        @fuzz_settings(EXAMPLES)
        @self._in_example("plan_pages")
        def run(
            actor,
            target,
            junk_path,
            suffix,
            token,
            report_type,
            download,
            message,
            page,
            listing,
        ):
            self._login(actor)
            plans = self._plan_snapshot()
            if listing:
                url = listing + (page if listing.endswith("/") else "")
                response = self._get(url, {"message": message})
                self._assert_safe(response, self._victims(actor), url)
                self.assertEqual(self._plan_snapshot(), plans, url)
                return
            access_token = self._token(token, target)
            access = self._has_access(actor, target, access_token)
            url = f"/my/payment_plans/{target.id if target else junk_path}{suffix}"
            response = self._get(
                url,
                {
                    "access_token": access_token,
                    "report_type": report_type,
                    "download": download,
                    "message": message,
                },
            )
            victims = self._victims(actor, target if access else None)
            self._assert_safe(response, victims, url)
            self.assertEqual(self._plan_snapshot(), plans, f"{url}: read only")
            if target and not access:
                self.assertEqual(response.status_code, 404, url)

        self._run("plan_pages", EXAMPLES, run)
