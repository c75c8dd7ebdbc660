"""Property-based fuzzing of the customer portal and the back-office wizards.

Hypothesis draws hostile values (markup, SQL, huge and odd numbers, malformed and
extreme dates, very long and odd unicode strings, other customers' ids and access
tokens) and posts them to every portal form and route, and passes them to the
wizards and the model entry points. Each field is drawn either sane or hostile,
so that most examples carry one or two hostile values among sane ones and reach
past the first check. Each example runs inside a savepoint rolled back after it,
so that every example starts from the same data.

``COLLECTIONS_FUZZ_EXAMPLES`` is the number of examples per HTTP property (40 by
default); the back-office properties, cheaper, run three times as many. The
examples are derived from the test's name, so that a run in CI is reproducible,
unless ``COLLECTIONS_FUZZ_RANDOM`` is set, for a longer exploring run by hand::

    COLLECTIONS_FUZZ_EXAMPLES=300 COLLECTIONS_FUZZ_RANDOM=1 odoo-bin ... \
        --test-tags /collections_proactive:TestFuzz,:TestFuzzBackOffice
"""

import functools
import json
import logging
import os
import traceback
import unittest
from collections import Counter
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from stdnum.cl import vat as cl_vat

from odoo import Command, fields, http
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CollectionsCommon
from .test_portal import RUT, PortalCommon

try:
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st
    from hypothesis.configuration import set_hypothesis_home_dir
except ImportError:  # a test requirement: requirements-dev.txt
    st = None
else:
    # Hypothesis keeps caches in ./.hypothesis: not in the repository.
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        set_hypothesis_home_dir(
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            / "collections_proactive"
            / "hypothesis"
        )

_logger = logging.getLogger(__name__)

EXAMPLES = int(os.environ.get("COLLECTIONS_FUZZ_EXAMPLES") or 40)
BACK_OFFICE_EXAMPLES = 3 * EXAMPLES

MARKUP = [
    "<script>fuzz()</script>",
    '"><img src=x onerror=fuzz()>',
    "<t t-out=\"env['res.users'].search([])\"/>",
    "{{ 7*7 }}",
    "${7*7}",
    "javascript:fuzz()",
]
SQL_TEXT = [
    "1; DROP TABLE res_partner--",
    "' OR 1=1--",
    "1 OR 1=1",
    "'; SELECT pg_sleep(10)--",
    "1) UNION SELECT login, password FROM res_users--",
    "%s",
    "%(name)s",
    "%",
    "\\",
    '"',
]
NUMBERS = [
    "0",
    "-0",
    "-1",
    "1.5",
    "1e3",
    "1e309",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    str(10**30),
    str(-(10**30)),
    str(2**31),
    str(2**63),
    "0x1F",
    "1_000",
    " 2 ",
    "+3",
    "\u0663",
    "\u00b2",
]
DATES = [
    "",
    "today",
    "2024-02-30",
    "2025-13-01",
    "0000-00-00",
    "0001-01-01",
    "1900-01-01",
    "9999-12-31",
    "10000-01-01",
    "-2025-01-01",
    "2025-1-1",
    "01/02/2025",
    "2025-01-01T25:61:61",
    "2025-01-01' OR 1=1--",
]
ODD = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202eevil",
    "\U0001f984" * 50,
    "\u00f1and\u00fa \u00e7\u00e0",
    "\r\nX-Injected: 1",
    "../../etc/passwd",
    "None",
    "False",
    "[]",
    "{}",
    "null",
]
# What must never come back verbatim: markup that was not escaped.
UNESCAPED = ("<script>fuzz()", "<img src=x onerror")
GOOD_NAMES = ["María Pérez", "  José  ", "Ana"]
# The customer's RUT as people type it.
GOOD_RUTS = [RUT, "760864285", "76086428-5", "CL760864285", f" {RUT} "]
OTHER_RUTS = ["11.111.111-1", "76.086.428-4", "12345678-5"]
# A JSON route may refuse with these; anything else is a server error.
REFUSALS = (
    "odoo.exceptions.UserError",
    "odoo.exceptions.ValidationError",
    "odoo.exceptions.AccessError",
    "odoo.exceptions.MissingError",
)
INT4 = 2**31


def _strategies(longest=10000):
    """``(short text, hostile text, hostile number)``; built on first use, as
    Hypothesis may be missing. ``longest`` bounds the long strings: in a URL the
    server's request line holds 64 KiB (a 414 then), and real proxies less."""
    text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
    long_text = st.builds(
        lambda char, count: char * count,
        st.sampled_from(["A", "\u00e9", "<", "'", "\U0001f984"]),
        st.integers(min(2000, longest), longest),
    )
    hostile_text = st.one_of(
        st.sampled_from(MARKUP + SQL_TEXT + NUMBERS + DATES + ODD), text, long_text
    )
    hostile_number = st.one_of(
        st.integers().map(str),
        st.sampled_from([10**30, -(10**30), INT4, 2**63, 0, -1]).map(str),
        st.floats().map(str),
        hostile_text,
    )
    return text, hostile_text, hostile_number


def _settings(examples):
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("COLLECTIONS_FUZZ_RANDOM"),
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


class FuzzMixin:
    """Counting, and a rollback after each example."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cases = Counter()

    @classmethod
    def tearDownClass(cls):
        _logger.info(
            "fuzz: %s cases ran in %s (%s)",
            sum(cls.cases.values()),
            cls.__name__,
            ", ".join(f"{name}: {count}" for name, count in sorted(cls.cases.items())),
        )
        super().tearDownClass()

    @contextmanager
    def _example(self, name):
        with self.env.cr.savepoint() as savepoint:
            yield
            savepoint.rollback()
        self.env.invalidate_all()
        self.cases[name] += 1

    def _in_example(self, name):
        """Under ``@given``: each example, with the fixtures it makes, rolled
        back after it and counted."""

        def decorate(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                with self._example(name):
                    return func(*args, **kwargs)

            return wrapper

        return decorate

    def _run(self, name, examples, test):
        test()
        self.assertGreaterEqual(self.cases[name], examples, "examples that ran")


@unittest.skipIf(st is None, "hypothesis is not installed")
@tagged("post_install", "-at_install")
class TestFuzz(FuzzMixin, PortalCommon):
    """Hostile values posted to every portal form and route, by the customer, by
    another customer, and without login."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Plan = cls.env["collection.payment.plan"]
        cls.Promise = cls.env["collection.promise"]
        # Overdue and in no plan: what a request may take, for each customer.
        cls.free = cls._cp_invoice(
            cls.customer,
            200,
            cls.today - timedelta(days=45),
            cls.today - timedelta(days=15),
        )
        cls.other_invoice_2 = cls._cp_invoice(
            cls.other,
            600,
            cls.today - timedelta(days=45),
            cls.today - timedelta(days=12),
        )
        cls.other_free = cls._cp_invoice(
            cls.other,
            250,
            cls.today - timedelta(days=45),
            cls.today - timedelta(days=8),
        )
        cls.plan = cls._cp_portal_plan(cls.customer, cls.overdue[0])
        cls.active_plan = cls._cp_portal_plan(cls.customer, cls.overdue[1], active=True)
        cls.other_plan = cls._cp_portal_plan(cls.other, cls.other_invoice)
        cls.other_active_plan = cls._cp_portal_plan(
            cls.other, cls.other_invoice_2, active=True
        )
        cls.plans = cls.plan | cls.active_plan | cls.other_plan | cls.other_active_plan
        cls.provider = cls.env.ref("payment.payment_provider_demo").sudo()
        cls.provider.write({"state": "test", "company_id": cls.company.id})
        cls.method = cls.env.ref("payment_demo.payment_method_demo")
        cls.token_of = {
            "own": cls._fuzz_token(cls.customer),
            "other": cls._fuzz_token(cls.other),
        }
        cls.invoices_of = {
            cls.customer: cls.overdue | cls.soon | cls.free,
            cls.other: cls.other_invoice | cls.other_invoice_2 | cls.other_free,
        }
        cls.free_of = {cls.customer: cls.free, cls.other: cls.other_free}
        cls.partner_of = {
            "cp_portal": cls.customer,
            "cp_portal_other": cls.other,
            None: cls.env["res.partner"],
        }
        cls.user_partner_of = {
            "cp_portal": cls.portal_user.partner_id,
            "cp_portal_other": cls.other_user.partner_id,
        }
        cls.text, cls.hostile_text, cls.hostile_number = _strategies()
        _text, cls.url_text, cls.url_number = _strategies(longest=1500)
        cls.actors = st.sampled_from(
            ["cp_portal", "cp_portal", "cp_portal_other", None]
        )
        cls.csrf = st.sampled_from(["valid"] * 8 + ["missing", "forged"])
        # Invoices as the form sends them: the actor's own ("mine": overdue,
        # "free": overdue in no plan), or anything, other customers' included.
        cls.invoice_choice = st.one_of(
            st.sampled_from(["mine", "free", "free"]),
            st.lists(
                st.one_of(
                    st.sampled_from(
                        (cls.invoices_of[cls.customer] | cls.invoices_of[cls.other]).ids
                    ).map(str),
                    cls.url_number,
                ),
                max_size=4,
            ),
        )

    @classmethod
    def _fuzz_token(cls, partner):
        return cls.env["payment.token"].create(
            {
                "provider_id": cls.provider.id,
                "payment_method_id": cls.method.id,
                "partner_id": partner.id,
                "payment_details": "4242",
                "provider_ref": "demo",
            }
        )

    def setUp(self):
        super().setUp()
        # One session per actor for the whole test: logging in for each example
        # would cost as much as the example's request.
        self.sessions = {}
        for actor in ("cp_portal", "cp_portal_other", None):
            self.session = None  # authenticate() deletes the previous session
            session = self.authenticate(actor, actor)
            self.sessions[actor] = (session, self.opener)
            self.addCleanup(http.root.session_store.delete, session)

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _login(self, actor):
        self.session, self.opener = self.sessions[actor]

    def _token_choice(self, text=None):
        """An access token for the plan ``target`` (drawn apart): none, its own,
        another plan's, a tampered one, or anything."""
        text = self.hostile_text if text is None else text
        return st.one_of(
            st.sampled_from(["none", "right", "right", "tampered"]),
            st.sampled_from(self.plans.ids).map(lambda plan_id: f"plan:{plan_id}"),
            text.map(lambda value: f"text:{value}"),
        )

    def _token(self, choice, target):
        if choice == "none":
            return None
        token = target.access_token if target else "x"
        if choice == "right":
            return token
        if choice == "tampered":
            return token[:-1] + ("a" if token[-1:] != "a" else "b")
        kind, value = choice.split(":", 1)
        if kind == "plan":
            return self.Plan.browse(int(value)).access_token
        return value

    def _invoices(self, choice, actor):
        """The invoice ids the form sends for ``choice`` (see invoice_choice)."""
        mine = self.partner_of[actor]
        if choice == "mine":
            overdue = self.invoices_of.get(mine, self.env["account.move"]).filtered(
                lambda move: move.invoice_date_due < self.today
            )
            return [str(move_id) for move_id in overdue.ids]
        if choice == "free":
            free = self.free_of.get(mine, self.env["account.move"])
            return [str(move_id) for move_id in free.ids]
        return choice

    def _has_access(self, actor, target, token):
        if not target:
            return False
        owner = self.partner_of[actor] == target.partner_id
        return owner or bool(token and token == target.access_token)

    def _send(self, url, data, csrf="valid", as_file=()):
        """POST a form (lists are repeated fields), the CSRF token as ``csrf``
        says: refused ones are logged as warnings, muted here (the status code
        is checked). The fields named in ``as_file`` go as file parts of a
        multipart form, with their value as the file's content."""
        files = {
            name: (name, str(data.pop(name, None) or "").encode(), "text/plain")
            for name in as_file
        }
        data = {key: value for key, value in data.items() if value is not None}
        if csrf == "valid":
            data["csrf_token"] = http.Request.csrf_token(self)
        elif csrf == "forged":
            data["csrf_token"] = "0" * 40 + "o9999999999"
        with mute_logger("odoo.http"):
            return self.url_open(url, data=data, files=files or None)

    @staticmethod
    def _as_file(*names):
        """Which of a form's fields go as file parts: mostly none."""
        return st.one_of(
            st.just(frozenset()),
            st.just(frozenset()),
            st.sets(st.sampled_from(names), min_size=1, max_size=2).map(frozenset),
        )

    def _get(self, url, params=None):
        params = {key: value for key, value in (params or {}).items() if value}
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        with mute_logger("odoo.http"):
            return self.url_open(url)

    def _plan_snapshot(self, plans=None):
        self.env.invalidate_all()
        return {
            plan.id: (
                plan.state,
                plan.accepted_by,
                plan.accepted_vat,
                plan.accepted_ip,
                plan.accepted_date,
                plan.acceptance_note,
                plan.decline_reason,
                plan.payment_token_id.id,
                plan.fee_invoice_id.id,
                tuple(
                    (line.id, line.date, line.amount, line.paid_amount)
                    for line in plan.installment_ids.sorted("id")
                ),
            )
            for plan in (self.plans if plans is None else plans).sudo()
        }

    def _records_of(self, partner):
        """What a request could create for ``partner``: promises, plans,
        payment transactions."""
        self.env.invalidate_all()
        partners = self.env["res.partner"].search([("id", "child_of", partner.id)])
        return {
            model: self.env[model]
            .sudo()
            .search([("partner_id", "in", partners.ids)])
            .ids
            for model in (
                "collection.promise",
                "collection.payment.plan",
                "payment.transaction",
            )
        }

    def _victims(self, actor, allowed_plan=None):
        """{customer ``actor`` is not: the names of its invoices ``actor`` must
        not see} (bar those of a plan it opened with the plan's token)."""
        mine = self.partner_of[actor]
        allowed = allowed_plan.invoice_ids if allowed_plan else self.env["account.move"]
        return {
            partner: (self.invoices_of[partner] - allowed).mapped("name")
            for partner in (self.customer, self.other)
            if partner != mine
        }

    def _assert_safe(self, response, victims, label):
        """No server error, no markup echoed unescaped, nothing of another
        customer in the page."""
        self.assertLess(response.status_code, 500, f"{label}: server error")
        body = response.text
        for marker in UNESCAPED:
            self.assertNotIn(marker, body, f"{label}: markup not escaped")
        for partner, names in victims.items():
            for name in names:
                self.assertNotIn(name, body, f"{label}: {partner.name}'s invoice")

    def _assert_victims_untouched(self, before, label):
        for partner, records in before.items():
            self.assertEqual(
                self._records_of(partner), records, f"{label}: {partner.name}"
            )

    # ------------------------------------------------------------------
    # My payments: the promise form
    # ------------------------------------------------------------------

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
        @_settings(EXAMPLES)
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
        @_settings(EXAMPLES)
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
        @_settings(EXAMPLES)
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
        @_settings(EXAMPLES)
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

    # ------------------------------------------------------------------
    # Pay an installment (JSON), automatic debit
    # ------------------------------------------------------------------

    def test_fuzz_plan_transaction(self):
        """JSON /my/payment_plans/<id>/transaction: refused with a UserError
        (never a server error) unless allowed; the amount is always the next
        installment's, whatever is sent."""

        @given(
            actor=self.actors,
            target=st.sampled_from(
                [self.active_plan] * 2 + [self.other_active_plan, self.plan, None]
            ),
            token=self._token_choice(),
            amount=st.one_of(
                st.none(),
                st.floats(),
                st.integers(min_value=-(10**30), max_value=10**30),
                self.hostile_text,
            ),
            flow=st.sampled_from(["direct", "direct", "redirect", "token"]),
            extra=st.one_of(
                st.just({}),
                st.dictionaries(
                    st.sampled_from(
                        ["partner_id", "reference", "invoice_ids", "currency_id"]
                    ),
                    st.one_of(
                        st.just(self.other.id),
                        st.just(self.other_invoice.ids),
                        self.hostile_text,
                    ),
                    max_size=2,
                ),
            ),
        )
        @example(
            actor="cp_portal",
            target=self.active_plan,
            token="none",
            amount=1.0,
            flow="direct",
            extra={},
        )
        @example(
            actor=None,
            target=self.active_plan,
            token="right",
            amount=10**30,
            flow="direct",
            extra={},
        )
        @example(
            actor=None,
            target=self.active_plan,
            token="text:\u00e9",
            amount=None,
            flow="direct",
            extra={},
        )
        @_settings(EXAMPLES)
        @self._in_example("plan_transaction")
        def run(actor, target, token, amount, flow, extra):
            self._login(actor)
            access_token = self._token(token, target)
            access = self._has_access(actor, target, access_token)
            plans = self._plan_snapshot()
            Transaction = self.env["payment.transaction"]
            last = Transaction.search([], order="id desc", limit=1).id or 0
            params = {
                "access_token": access_token,
                "provider_id": self.provider.id,
                "payment_method_id": self.method.id,
                "token_id": None,
                "amount": amount,
                "flow": flow,
                "tokenization_requested": False,
                "landing_route": "/my/payment_plans",
                **extra,
            }
            plan_id = target.id if target else 10**30
            label = f"transaction {target.name if target else plan_id}"
            with mute_logger("odoo.http"):
                response = self.url_open(
                    f"/my/payment_plans/{plan_id}/transaction",
                    data=json.dumps(
                        {"jsonrpc": "2.0", "method": "call", "params": params}
                    ),
                    headers={"Content-Type": "application/json"},
                )
            self.assertLess(response.status_code, 500, label)
            answer = response.json()
            new = Transaction.search([("id", ">", last)])
            self.assertEqual(self._plan_snapshot(), plans, label)
            if "error" in answer:
                self.assertIn(answer["error"]["data"]["name"], REFUSALS, label)
                self.assertFalse(new, f"{label}: refused, nothing written")
                self.assertFalse(
                    access
                    and target.state == "active"
                    and flow == "direct"
                    and not extra,
                    f"{label}: a sane payment refused",
                )
                return
            self.assertTrue(access, label)
            self.assertEqual(len(new), 1, label)
            installment = target._portal_next_installment()
            self.assertEqual(
                new.amount, installment.amount - installment.paid_amount, label
            )
            self.assertEqual(new.invoice_ids, target.invoice_ids)
            self.assertEqual(
                new.partner_id,
                self.user_partner_of[actor] if actor else target.partner_id,
                label,
            )

        self._run("plan_transaction", EXAMPLES, run)

    def test_fuzz_plan_auto_debit(self):
        """POST /my/payment_plans/<id>/auto_debit: only the customer, on its own
        proposed or active plan, with one of its own payment methods."""
        token_id = st.one_of(
            st.sampled_from(["own", "own", "other", "", "0"]), self.hostile_number
        )

        @given(
            actor=self.actors,
            target=st.sampled_from([*self.plans, None]),
            token_id=token_id,
            csrf=self.csrf,
        )
        @example(
            actor="cp_portal", target=self.active_plan, token_id="own", csrf="valid"
        )
        @example(
            actor="cp_portal", target=self.active_plan, token_id=str(INT4), csrf="valid"
        )
        @_settings(EXAMPLES)
        @self._in_example("plan_auto_debit")
        def run(actor, target, token_id, csrf):
            self._login(actor)
            plans = self._plan_snapshot()
            plan_id = target.id if target else 10**30
            token = self.token_of.get(token_id)
            response = self._send(
                f"/my/payment_plans/{plan_id}/auto_debit",
                {"token_id": str(token.id) if token else token_id},
                csrf,
            )
            label = f"auto debit {target.name if target else plan_id}"
            self._assert_safe(response, self._victims(actor), label)
            after = self._plan_snapshot()
            changed = {key for key in plans if plans[key] != after[key]}
            allowed = (
                target
                and csrf == "valid"
                and self.partner_of[actor] == target.partner_id
                and target.state in ("proposed", "active")
            )
            if allowed and token_id == "own" and target.partner_id == self.customer:
                self.assertEqual(target.payment_token_id, token, f"{label}: sane")
            if not changed:
                return
            self.assertTrue(allowed, label)
            self.assertEqual(changed, {target.id}, label)
            self.assertEqual(target.payment_token_id.partner_id, target.partner_id)

        self._run("plan_auto_debit", EXAMPLES, run)


@unittest.skipIf(st is None, "hypothesis is not installed")
@tagged("post_install", "-at_install")
class TestFuzzBackOffice(FuzzMixin, CollectionsCommon):
    """Hostile values given to the wizards and the models' entry points: each
    call does something sane or is refused with a message (a UserError or one of
    its kinds: ValidationError, AccessError, MissingError), never another
    exception, and a refused call changes nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.today = fields.Date.context_today(cls.env.user)
        cls.max_days = cls.company.collection_promise_max_days
        cls.customer = cls._cp_customer(
            "Cliente Fuzz", country_id=cls.env.ref("base.cl").id, vat=RUT
        )
        cls.contact = cls.env["res.partner"].create(
            {"name": "Contacto Fuzz", "parent_id": cls.customer.id}
        )
        cls.other = cls._cp_customer("Otro Fuzz")
        cls.closed = cls._cp_customer("Cerrado Fuzz")
        past = cls.today - timedelta(days=40)
        cls.open_invoices = cls._cp_invoice(
            cls.customer, 900, past, cls.today - timedelta(days=10)
        ) | cls._cp_invoice(cls.customer, 300, past, cls.today + timedelta(days=10))
        cls.other_invoice = cls._cp_invoice(
            cls.other, 500, past, cls.today - timedelta(days=5)
        )
        cls.refund = cls._cp_invoice(cls.customer, 100, past, move_type="out_refund")
        cls.draft = cls._cp_invoice(cls.customer, 100, past, post=False)
        cls.paid = cls._cp_invoice(cls.closed, 100, past, cls.today - timedelta(days=3))
        Case = cls.env["collection.case"]
        Case._sync_cases(cls.company)
        cls._cp_pay(cls.paid)
        Case._sync_cases(cls.company)
        cls.case = Case.search([("partner_id", "=", cls.customer.id)])
        cls.other_case = Case.search([("partner_id", "=", cls.other.id)])
        cls.closed_case = Case.search([("partner_id", "=", cls.closed.id)])
        cls.portal_user = cls.env["res.users"].create(
            {
                "name": "Portal Fuzz",
                "login": "cp_fuzz_portal",
                "partner_id": cls.contact.id,
                "groups_id": [Command.set(cls.env.ref("base.group_portal").ids)],
            }
        )
        cls.staff = (cls.collector, cls.collections_manager)
        cls.users = st.sampled_from(
            [cls.collector] * 3 + [cls.collections_manager] * 2 + [cls.portal_user]
        )
        cls.partners = st.sampled_from(
            [cls.customer] * 3 + [cls.contact, cls.other, cls.closed]
        )
        cls.invoice_sets = st.one_of(
            st.sampled_from([cls.open_invoices.ids, cls.open_invoices[:1].ids]),
            st.lists(
                st.sampled_from(
                    cls.open_invoices.ids
                    + [cls.other_invoice.id, cls.refund.id, cls.draft.id, cls.paid.id]
                ),
                max_size=4,
                unique=True,
            ),
        )
        cls.text, hostile_text, _number = _strategies()
        # Strings as the ORM stores them: PostgreSQL refuses the NUL character
        # in every Char/Text field of every model, before the addon sees it (the
        # portal fuzz keeps it: there the input is the controller's to clean).
        cls.stored_text = hostile_text.map(lambda text: text.replace("\x00", ""))
        # Amounts the ORM can hold: NaN and the infinities are refused by Odoo's
        # own rounding of monetary fields, before the addon's code runs.
        cls.hostile_amounts = st.one_of(
            st.sampled_from([0.0, -0.0, 0.001, 0.005, -1.0, 1e15, 1e300]),
            st.floats(
                min_value=-1e18, max_value=1e18, allow_nan=False, allow_infinity=False
            ),
            st.integers(-(10**20), 10**20),
        )
        cls.hostile_dates = st.one_of(
            st.integers(-400, 800).map(lambda days: cls.today + timedelta(days=days)),
            st.dates(),
            st.sampled_from([date.min, date.max]),
        )

    def _call(self, call, check_ok, check_refused=None):
        """``call()`` succeeds and ``check_ok(result)`` holds, or it raises a
        UserError (or a kind of it) and ``check_refused()`` holds after the
        rollback; any other exception fails, with its traceback."""
        try:
            with self.env.cr.savepoint():
                result = call()
                self.env.flush_all()
        except UserError:
            self.env.invalidate_all()
            if check_refused:
                check_refused()
            return False
        except Exception as error:  # noqa: BLE001 - any other is the finding
            self.fail(
                f"{type(error).__name__} instead of a UserError\n"
                + "".join(traceback.format_exception(error))
            )
        check_ok(result)
        return True

    def _counts(self):
        self.env.invalidate_all()
        return tuple(
            self.env[model].sudo().search_count([])
            for model in (
                "collection.promise",
                "collection.payment.plan",
                "collection.payment.plan.installment",
                "account.move",
                "mail.message",
            )
        )

    def test_fuzz_promise_create(self):
        """collection.promise.create: an open promise of a positive amount no
        more than what is due, on the customer's open invoices, by a date from
        today (within the company's limit, but for managers)."""

        @given(
            user=self.users,
            partner=self.partners,
            invoice_ids=self.invoice_sets,
            amount=st.one_of(
                st.sampled_from([900.0, 1200.0, 0.01]), self.hostile_amounts
            ),
            promised_date=st.one_of(
                st.integers(0, self.max_days).map(
                    lambda days: self.today + timedelta(days=days)
                ),
                self.hostile_dates,
            ),
            note=st.one_of(st.none(), self.stored_text),
            source=st.sampled_from(["call", "email", "portal", "visit", "other"]),
        )
        @example(
            user=self.collections_manager,
            partner=self.customer,
            invoice_ids=self.open_invoices.ids,
            amount=900.0,
            promised_date=date.max,
            note=None,
            source="call",
        )
        @_settings(BACK_OFFICE_EXAMPLES)
        @self._in_example("promise_create")
        def run(user, partner, invoice_ids, amount, promised_date, note, source):
            before = self._counts()
            invoices = self.env["account.move"].browse(invoice_ids)
            due = sum(invoices.mapped("amount_residual_signed"))
            clean = (
                user in self.staff
                and partner.commercial_partner_id == self.customer
                and invoices
                and invoices <= self.open_invoices
                and 0.01 <= amount <= due
                and round(amount, 2) == amount
                and self.today
                <= promised_date
                <= self.today + timedelta(days=self.max_days)
            )

            def call():
                return (
                    self.env["collection.promise"]
                    .with_user(user)
                    .create(
                        {
                            "partner_id": partner.id,
                            "invoice_ids": [Command.set(invoice_ids)],
                            "amount": amount,
                            "promised_date": promised_date,
                            "note": note,
                            "source": source,
                        }
                    )
                )

            def check_ok(promise):
                promise = promise.sudo()
                self.assertIn(user, self.staff, "portal users log none")
                self.assertEqual(promise.state, "open")
                self.assertEqual(promise.partner_id, partner.commercial_partner_id)
                self.assertGreater(promise.amount, 0)
                due = sum(promise.invoice_ids.mapped("amount_residual_signed"))
                self.assertLessEqual(
                    promise.currency_id.compare_amounts(promise.amount, due), 0
                )
                for move in promise.invoice_ids:
                    self.assertEqual(move.commercial_partner_id, promise.partner_id)
                    self.assertEqual(move.state, "posted")
                    self.assertEqual(move.move_type, "out_invoice")
                    self.assertIn(move.payment_state, ("not_paid", "partial"))
                self.assertGreaterEqual(promise.promised_date, self.today)
                if user != self.collections_manager:
                    self.assertLessEqual(
                        promise.promised_date,
                        self.today + timedelta(days=self.max_days),
                    )

            done = self._call(
                call, check_ok, lambda: self.assertEqual(self._counts(), before)
            )
            self.assertTrue(done or not clean, "a sane promise refused")

        self._run("promise_create", BACK_OFFICE_EXAMPLES, run)

    def test_fuzz_plan_create_and_propose(self):
        """collection.payment.plan create + action_propose: a proposed plan on
        the customer's open invoices whose schedule adds up to its total, from
        today; collectors within the policy."""

        @given(
            user=self.users,
            partner=self.partners,
            invoice_ids=self.invoice_sets,
            # Bounded: the schedule has a row per installment, and the count has
            # no upper limit of its own (see the report of this fuzzing).
            installment_count=st.one_of(
                st.integers(1, 12), st.integers(-2, 400), st.just(-INT4)
            ),
            frequency=st.sampled_from(["weekly", "biweekly", "monthly"]),
            first_date=st.one_of(
                st.integers(0, 30).map(lambda days: self.today + timedelta(days=days)),
                self.hostile_dates,
            ),
            down_payment=st.one_of(st.sampled_from([0.0, 120.0]), self.hostile_amounts),
            fee_amount=st.one_of(st.sampled_from([0.0, 50.0]), self.hostile_amounts),
        )
        @example(
            user=self.collections_manager,
            partner=self.customer,
            invoice_ids=self.open_invoices.ids,
            installment_count=3,
            frequency="monthly",
            first_date=date(9999, 12, 1),
            down_payment=0.0,
            fee_amount=0.0,
        )
        @_settings(BACK_OFFICE_EXAMPLES)
        @self._in_example("plan_create")
        def run(
            user,
            partner,
            invoice_ids,
            installment_count,
            frequency,
            first_date,
            down_payment,
            fee_amount,
        ):
            before = self._counts()

            def call():
                plan = (
                    self.env["collection.payment.plan"]
                    .with_user(user)
                    .create(
                        {
                            "partner_id": partner.id,
                            "invoice_ids": [Command.set(invoice_ids)],
                            "installment_count": installment_count,
                            "frequency": frequency,
                            "first_date": first_date,
                            "down_payment": down_payment,
                            "fee_amount": fee_amount,
                        }
                    )
                )
                plan.action_propose()
                return plan

            def check_ok(plan):
                plan = plan.sudo()
                self.assertIn(user, self.staff, "portal users draw none")
                self.assertEqual(plan.state, "proposed")
                self.assertEqual(plan.partner_id, partner.commercial_partner_id)
                self.assertTrue(plan.invoice_ids)
                for move in plan.invoice_ids:
                    self.assertEqual(move.commercial_partner_id, plan.partner_id)
                    self.assertEqual(move.state, "posted")
                    self.assertEqual(move.move_type, "out_invoice")
                self.assertGreaterEqual(plan.installment_count, 1)
                self.assertGreaterEqual(plan.first_date, self.today)
                self.assertGreaterEqual(plan.fee_amount, 0)
                self.assertTrue(0 <= plan.down_payment < plan.amount_total)
                lines = plan.installment_ids
                self.assertEqual(
                    len(lines),
                    plan.installment_count + (1 if plan.down_payment else 0),
                )
                self.assertFalse(
                    plan.currency_id.compare_amounts(
                        sum(lines.mapped("amount")), plan.amount_total
                    )
                )
                self.assertTrue(all(line.date >= self.today for line in lines))
                if user != self.collections_manager:
                    self.assertFalse(plan.policy_issue)
                    self.assertFalse(plan.policy_id.manager_approval)

            done = self._call(
                call, check_ok, lambda: self.assertEqual(self._counts(), before)
            )
            clean = (
                user in self.staff
                and partner.commercial_partner_id == self.customer
                and invoice_ids == self.open_invoices.ids
                and 1 <= installment_count <= 12
                and self.today <= first_date <= self.today + timedelta(days=30)
                and down_payment in (0.0, 120.0)
                and fee_amount in (0.0, 50.0)
            )
            self.assertTrue(done or not clean, "a sane plan refused")

        self._run("plan_create", BACK_OFFICE_EXAMPLES, run)

    def _plan_values(self, plan):
        self.env.invalidate_all()
        plan = plan.sudo()
        return (
            plan.state,
            plan.accepted_by,
            plan.acceptance_note,
            plan.decline_reason,
            plan.fee_invoice_id.id,
            plan.installment_ids.ids,
            self._counts(),
        )

    def test_fuzz_plan_accept_and_decline_wizards(self):
        """The accept (signer, note) and decline (reason) wizards: a proposed
        plan becomes active or declined with the stripped text; any other state,
        a blank text, a portal user: refused, nothing changes."""

        Plan = self.env["collection.payment.plan"]
        invoices = self._cp_invoice(
            self.customer, 400, self.today - timedelta(days=30), self.today
        )
        plans = {}
        # Cancelled first: a proposed plan takes its invoices from other plans.
        for state in ("cancelled", "proposed", "draft"):
            plans[state] = Plan.create(
                {
                    "partner_id": self.customer.id,
                    "invoice_ids": [Command.set(invoices.ids)],
                    "first_date": self.today + timedelta(days=7),
                }
            )
            if state != "draft":
                plans[state].action_propose()
            if state == "cancelled":
                plans[state].action_cancel()

        @given(
            user=self.users,
            state=st.sampled_from(["proposed", "proposed", "draft", "cancelled"]),
            wizard=st.sampled_from(["accept", "decline"]),
            text=st.one_of(st.sampled_from(["María Pérez", "   "]), self.stored_text),
            note=st.one_of(st.just("Por teléfono"), self.stored_text),
        )
        @_settings(BACK_OFFICE_EXAMPLES)
        @self._in_example("plan_wizards")
        def run(user, state, wizard, text, note):
            plan = plans[state]
            before = self._plan_values(plan)

            def call():
                Wizard = self.env[f"collection.payment.plan.{wizard}"].with_user(user)
                if wizard == "accept":
                    values = {"signer": text, "note": note}
                else:
                    values = {"reason": text}
                record = Wizard.with_context(active_id=plan.id).create(values)
                if wizard == "accept":
                    return record.action_accept()
                return record.action_decline()

            def check_ok(_result):
                self.env.invalidate_all()
                self.assertIn(user, self.staff)
                self.assertEqual(state, "proposed")
                self.assertTrue(text.strip())
                if wizard == "accept":
                    self.assertEqual(plan.state, "active")
                    self.assertEqual(plan.accepted_by, text.strip())
                else:
                    self.assertEqual(plan.state, "declined")
                    self.assertEqual(plan.decline_reason, text.strip())

            done = self._call(
                call,
                check_ok,
                lambda: self.assertEqual(self._plan_values(plan), before),
            )
            clean = (
                user in self.staff
                and state == "proposed"
                and text.strip()
                and (wizard == "decline" or note)
            )
            self.assertTrue(done or not clean, "a sane acceptance refused")

        self._run("plan_wizards", BACK_OFFICE_EXAMPLES, run)

    def test_fuzz_case_pause_wizard(self):
        """collection.case.pause: pauses open cases until a future date with the
        reason; a past date, a closed case, a portal user: refused."""
        cases = self.case | self.other_case | self.closed_case

        @given(
            user=self.users,
            case_ids=st.one_of(
                st.just(self.case.ids),
                st.lists(st.sampled_from(cases.ids), max_size=3, unique=True),
            ),
            paused_until=st.one_of(
                st.integers(1, 60).map(lambda days: self.today + timedelta(days=days)),
                self.hostile_dates,
            ),
            reason=st.one_of(st.just("Factura en disputa"), self.stored_text),
        )
        @_settings(BACK_OFFICE_EXAMPLES)
        @self._in_example("case_pause")
        def run(user, case_ids, paused_until, reason):
            def values():
                self.env.invalidate_all()
                return [
                    (case.paused_until, case.pause_reason, len(case.message_ids))
                    for case in cases.sudo()
                ]

            before = values()

            def call():
                return (
                    self.env["collection.case.pause"]
                    .with_user(user)
                    .with_context(active_model="collection.case", active_ids=case_ids)
                    .create({"paused_until": paused_until, "reason": reason})
                    .action_pause()
                )

            def check_ok(_result):
                self.env.invalidate_all()
                self.assertIn(user, self.staff)
                self.assertGreater(paused_until, self.today)
                paused = self.env["collection.case"].sudo().browse(case_ids)
                self.assertNotIn("closed", paused.mapped("state"))
                for case in paused:
                    self.assertEqual(case.paused_until, paused_until)
                    self.assertEqual(case.pause_reason, reason)

            done = self._call(
                call, check_ok, lambda: self.assertEqual(values(), before)
            )
            clean = (
                user in self.staff
                and case_ids == self.case.ids
                and paused_until > self.today
                and reason.strip()
            )
            self.assertTrue(done or not clean, "a sane pause refused")

        self._run("case_pause", BACK_OFFICE_EXAMPLES, run)

    def test_send_wizard_preview_everyone(self):
        """The preview of *Send Due Reminders Now* writes nothing but itself,
        whoever opens it for whichever customer. The inputs are few: every
        combination, rather than a sample."""
        for user in (self.collector, self.collections_manager, self.portal_user):
            for partner in (self.customer, self.contact, self.other, self.closed):
                with self._example("send_preview"):
                    before = self._counts()

                    def call(user=user, partner=partner):
                        return partner.with_user(user).action_collection_preview_send()

                    def check_ok(action, user=user, before=before):
                        self.assertIn(user, self.staff)
                        self.assertEqual(action["res_model"], "collection.send.wizard")
                        self.assertEqual(self._counts(), before, "sends nothing")

                    self._call(call, check_ok)
        self.assertEqual(self.cases["send_preview"], 12)
