"""What the fuzz tests share: the hostile values, Hypothesis' settings, the
rollback after each example, and the portal fixtures.

Hypothesis draws hostile values (markup, SQL, huge and odd numbers, malformed and
extreme dates, very long and odd unicode strings, other customers' ids and access
tokens) and posts them to every portal form and route, and passes them to the
wizards and the model entry points. Each field is drawn either sane or hostile,
so that most examples carry one or two hostile values among sane ones and reach
past the first check. Each example runs inside a savepoint rolled back after it,
so that every example starts from the same data. The tests are split by surface:
``test_fuzz_portal_promise.py`` (the promise form), ``test_fuzz_portal_plan.py``
(requesting, accepting, declining and reading plans), ``test_fuzz_payment.py``
(paying an installment, the automatic debit), ``test_fuzz_back_office.py``
(the wizards and the models' entry points) and ``test_fuzz_whatsapp.py`` (Meta's
webhook, the WhatsApp template and settings forms).

``COLLECTIONS_FUZZ_EXAMPLES`` is the number of examples per HTTP property (40 by
default); the back-office properties, cheaper, run three times as many. The
examples are derived from the test's name, so that a run in CI is reproducible,
unless ``COLLECTIONS_FUZZ_RANDOM`` is set, for a longer exploring run by hand::

    COLLECTIONS_FUZZ_EXAMPLES=300 COLLECTIONS_FUZZ_RANDOM=1 odoo-bin ... --test-tags \
        :TestFuzzPortalPromise,:TestFuzzPortalPlan,:TestFuzzPayment,:TestFuzzBackOffice,\
:TestFuzzWhatsapp
"""

import functools
import logging
import os
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from odoo import http
from odoo.tools import mute_logger

from .common import RUT, PortalCommon

try:
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st
    from hypothesis.configuration import set_hypothesis_home_dir
except ImportError:  # a test requirement: requirements-dev.txt
    # The fuzz test classes skip themselves when ``st`` is None.
    HealthCheck = example = given = settings = st = None
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


def fuzz_strategies(longest=10000):
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


def fuzz_settings(examples):
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


class PortalFuzzCommon(FuzzMixin, PortalCommon):
    """The portal's customers, plans and payment tokens, a logged-in session
    per actor, and the checks of every portal fuzz test: hostile values posted
    by the customer, by another customer, and without login."""

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
        cls.text, cls.hostile_text, cls.hostile_number = fuzz_strategies()
        _text, cls.url_text, cls.url_number = fuzz_strategies(longest=1500)
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
