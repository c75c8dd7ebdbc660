from datetime import timedelta

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import PortalCommon


@tagged("post_install", "-at_install")
class TestFirstUsePortal(PortalCommon):
    """What the customer sees right after agreeing a plan or promising, and
    what a collector is offered when drawing up a plan or logging a promise."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Plan = cls.env["collection.payment.plan"]
        cls.sequence = cls.env.ref("collections_proactive.seq_collection_payment_plan")

    @staticmethod
    def _lines(invoices):
        """The receivable lines of ``invoices``: what promises and plans cover."""
        return invoices.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        )

    def _next_plan_number(self):
        self.sequence.invalidate_recordset()
        return self.sequence.number_next_actual

    # ------------------------------------------------------------------
    # The portal agrees with the plan
    # ------------------------------------------------------------------

    def test_signed_and_paid_plan_is_not_contradicted(self):
        # What is overdue only (not the invoice due in 10 days) may be planned.
        self._agree_early(self.customer, 0)
        plan = self._plan(state="active")
        first = plan._portal_next_installment()
        # Installment 1 paid, as the portal's payment does (see _post_process).
        self._cp_pay(self.overdue[0], amount=first.amount)
        plan._allocate_payments()
        self.assertEqual(first.state, "paid")
        self.authenticate("cp_portal", "cp_portal")
        page = self.url_open("/my/collections").text
        for invoice in self.overdue:
            # Listed under the plan, never with a Pay button of its own.
            self.assertNotIn(f"/my/invoices/{invoice.id}", page)
            self.assertIn(invoice.name, page)
        self.assertIn(f"/my/invoices/{self.soon.id}", page, "in no plan: paid alone")
        self.assertIn(f"/my/payment_plans/{plan.id}/pay", page)
        self.assertNotIn("o_collections_request_plan", page)
        for line in self._lines(self.overdue):
            self.assertNotIn(f'value="{line.id}"', page, "no promise on it")
        # Nothing to ask a plan for: an answer, and no plan or number taken.
        number = self._next_plan_number()
        response = self.url_open("/my/payment_plans/request")
        self.assertEqual(response.status_code, 409)
        response = self._post(
            "/my/payment_plans/request",
            {"invoice_ids": self.overdue.ids[0], "installment_count": "2"},
        )
        self.assertEqual(response.status_code, 409)
        self.assertEqual(
            self.Plan.search([("partner_id", "=", self.customer.id)]), plan
        )
        self.assertEqual(self._next_plan_number(), number)

    def test_request_form_offers_invoices_in_no_plan(self):
        # What is overdue only (not the invoice due in 10 days) may be planned.
        self._agree_early(self.customer, 0)
        proposed = self._plan(invoice_ids=[Command.set(self.overdue[0].ids)])
        self.authenticate("cp_portal", "cp_portal")
        page = self.url_open("/my/collections").text
        self.assertIn("o_collections_request_plan", page, "overdue[1] is in no plan")
        form = self.url_open("/my/payment_plans/request")
        self.assertEqual(form.status_code, 200)
        self.assertIn(f'id="plan_line_{self._lines(self.overdue[1]).id}"', form.text)
        self.assertNotIn(f'id="plan_line_{self._lines(self.overdue[0]).id}"', form.text)
        # Sent anyway: refused before anything is created, no number skipped.
        number = self._next_plan_number()
        response = self._post(
            "/my/payment_plans/request",
            {"invoice_ids": self.overdue.ids, "installment_count": "2"},
        )
        self.assertEqual(response.status_code, 409)
        self.assertIn("already in a payment plan", response.text)
        self.assertEqual(
            self.Plan.search([("partner_id", "=", self.customer.id)]), proposed
        )
        self.assertEqual(self._next_plan_number(), number)
        # Every overdue invoice held by a proposal: nothing more to ask for.
        self._plan(invoice_ids=[Command.set(self.overdue[1].ids)])
        page = self.url_open("/my/collections").text
        self.assertNotIn("o_collections_request_plan", page)
        form = self.url_open("/my/payment_plans/request").text
        self.assertIn("o_collections_all_planned", form)
        self.assertNotIn("o_collections_request_submit", form)

    def test_already_in_a_plan_says_one_or_several(self):
        self._plan()
        with self.assertRaisesRegex(
            ValidationError,
            rf"^Invoice {self.overdue[0].name} is already in payment plan",
        ):
            self.Plan.create(
                {
                    "partner_id": self.customer.id,
                    "invoice_ids": [Command.set(self.overdue[0].ids)],
                    "first_date": self.today + timedelta(days=7),
                }
            )._check_plan()
        with self.assertRaisesRegex(
            ValidationError, r"^Invoices .+, .+ are already in payment plan"
        ):
            self.Plan.create(
                {
                    "partner_id": self.customer.id,
                    "invoice_ids": [Command.set(self.overdue.ids)],
                    "first_date": self.today + timedelta(days=7),
                }
            )._check_plan()

    def test_promise_shows_what_is_still_owed(self):
        promise = self.env["collection.promise"].create(
            {
                "partner_id": self.customer.id,
                "invoice_ids": [Command.set(self.overdue[0].ids)],
                "amount": 900,
                "promised_date": self.today + timedelta(days=5),
            }
        )
        self._cp_pay(self.overdue[0], amount=400)
        self.authenticate("cp_portal", "cp_portal")
        page = self.url_open("/my/collections").text
        self.assertIn("o_collections_promise_left", page)
        left = page.split("o_collections_promise_left", 1)[1].split("</td>", 1)[0]
        self.assertIn("500.00", left, "900 promised, 400 paid since")
        self.assertEqual(promise.amount, 900)

    def test_home_alert_says_one_invoice_or_several(self):
        self.authenticate("cp_portal", "cp_portal")
        home = self.url_open("/my").text
        alert = home.split("o_collections_due_alert", 1)[1].split("</a>", 1)[0]
        self.assertIn(">2<", alert)
        self.assertIn("Invoices due soon or overdue", alert)
        # One of the two agreed in a plan: one left to pay on its own.
        self._plan(state="active", invoice_ids=[Command.set(self.overdue[0].ids)])
        home = self.url_open("/my").text
        alert = home.split("o_collections_due_alert", 1)[1].split("</a>", 1)[0]
        self.assertIn(">1<", alert)
        self.assertIn("Invoice due soon or overdue", alert)
        self.assertNotIn("Invoices", alert)
        # None: no alert at all.
        self._plan(state="active", invoice_ids=[Command.set(self.overdue[1].ids)])
        self.assertNotIn("o_collections_due_alert", self.url_open("/my").text)

    # ------------------------------------------------------------------
    # What a collector is offered
    # ------------------------------------------------------------------

    def _case(self):
        Case = self.env["collection.case"]
        Case._sync_cases(self.company, partners=self.customer)
        return Case.search(
            [("partner_id", "=", self.customer.id), ("state", "=", "open")]
        )

    def test_plan_defaults_follow_the_bands_policy(self):
        self.customer.with_company(self.company).collection_risk_band = "medium"
        action = self._case().with_user(self.collector).action_new_plan()
        Plan = self.Plan.with_user(self.collector).with_context(**action["context"])
        with Form(Plan) as form:
            # 10% of the 1320 open (overdue and due soon), due first.
            self.assertEqual(form.down_payment, 132)
            self.assertEqual(form.installment_count, 3)
            self.assertFalse(form.policy_issue)
            self.assertTrue(form.can_propose)
        plan = form.record
        plan.with_user(self.collector).action_propose()
        self.assertEqual(plan.state, "proposed")
        # Critical: at most 3 installments over 3 months, 30% down.
        self.customer.with_company(self.company).collection_risk_band = "critical"
        defaults = self.Plan._policy_defaults(self.customer, self.soon, self.company)
        self.assertEqual(defaults, {"down_payment": 36, "installment_count": 3})

    def test_promise_from_a_case_proposes_the_overdue_invoices(self):
        action = self._case().with_user(self.collector).action_log_promise()
        context = action["context"]
        self.assertEqual(
            context["default_move_line_ids"],
            [Command.set(self._lines(self.overdue).sorted("date_maturity").ids)],
        )
        self.assertEqual(context["default_amount"], 1200)


@tagged("post_install", "-at_install")
class TestFirstUsePlanTour(PortalCommon):
    """The screen a collector draws up a plan on (headless Chromium)."""

    def test_collector_is_offered_what_he_may_do(self):
        self.customer.with_company(self.company).collection_risk_band = "high"
        Case = self.env["collection.case"]
        Case._sync_cases(self.company, partners=self.customer)
        case = Case.search([("partner_id", "=", self.customer.id)])
        sequence = self.env.ref("collections_proactive.seq_collection_payment_plan")
        number = sequence.number_next_actual
        self.start_tour(
            f"/odoo/action-collections_proactive.collection_case_action/{case.id}",
            "collections_proactive_plan_offered",
            login="cp_collector",
        )
        plan = self.env["collection.payment.plan"].search(
            [("partner_id", "=", self.customer.id)]
        )
        # Asked, not refused: the draft waits for the manager, one number used.
        self.assertEqual(len(plan), 1)
        self.assertEqual(plan.state, "draft")
        self.assertEqual(plan.activity_ids.user_id, self.collections_manager)
        self.assertEqual(plan.down_payment, 264, "high risk: 20% down")
        sequence.invalidate_recordset()
        self.assertEqual(sequence.number_next_actual, number + 1)
