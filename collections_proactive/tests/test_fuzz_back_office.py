"""Fuzzing the back office: the wizards and the models' entry points (see
fuzz_common.py)."""

import traceback
import unittest
from datetime import date, timedelta

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import RUT, CollectionsCommon
from .fuzz_common import (
    BACK_OFFICE_EXAMPLES,
    INT4,
    FuzzMixin,
    example,
    fuzz_settings,
    fuzz_strategies,
    given,
    st,
)


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
        cls.text, hostile_text, _number = fuzz_strategies()
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
        @fuzz_settings(BACK_OFFICE_EXAMPLES)
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
        @fuzz_settings(BACK_OFFICE_EXAMPLES)
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
        @fuzz_settings(BACK_OFFICE_EXAMPLES)
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
        @fuzz_settings(BACK_OFFICE_EXAMPLES)
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
