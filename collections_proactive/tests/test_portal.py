from datetime import timedelta

from odoo.tests import tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from .common import RUT, PortalCommon
from .test_promises import three_term_invoice


@tagged("post_install", "-at_install")
class TestPortal(PortalCommon):
    def test_summary_and_home_counters(self):
        plan = self._plan()
        self.authenticate("cp_portal", "cp_portal")
        response = self.url_open("/my/collections")
        self.assertEqual(response.status_code, 200)
        for invoice in self.overdue | self.soon:
            self.assertIn(invoice.name, response.text)
        self.assertNotIn(self.other_invoice.name, response.text)
        self.assertIn(plan.name, response.text)
        self.assertIn("/my/invoices/overdue", response.text)
        counters = self.make_jsonrpc_request(
            "/my/counters",
            {
                "counters": [
                    "payment_plan_count",
                    "promise_count",
                    "collections_due_count",
                ]
            },
        )
        self.assertEqual(counters["payment_plan_count"], 1)
        self.assertEqual(counters["promise_count"], 0)
        self.assertEqual(
            counters["collections_due_count"], 2, "overdue, not in 10 days"
        )
        self.assertIn(plan.name, self.url_open("/my/payment_plans").text)
        self.authenticate("cp_portal_other", "cp_portal_other")
        self.assertNotIn(plan.name, self.url_open("/my/payment_plans").text)
        counters = self.make_jsonrpc_request(
            "/my/counters", {"counters": ["payment_plan_count"]}
        )
        self.assertEqual(counters["payment_plan_count"], 0)

    def test_record_rules_not_only_the_controller(self):
        plan = self._plan()
        Plan = self.env["collection.payment.plan"]
        self.assertEqual(Plan.with_user(self.portal_user).search([]), plan)
        self.assertFalse(Plan.with_user(self.other_user).search([]))
        self.assertFalse(
            self.env["collection.payment.plan.installment"]
            .with_user(self.other_user)
            .search([])
        )

    def test_accept_with_the_customers_rut_from_the_email_link(self):
        plan = self._plan()
        url = f"/my/payment_plans/{plan.id}"
        # The emailed link works without login.
        self.authenticate(None, None)
        response = self.url_open(f"{url}?access_token={plan.access_token}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Accept the plan", response.text)
        self.assertIn("RUT", response.text)
        accept = {"access_token": plan.access_token, "signer_name": "María Pérez"}
        # A RUT with a wrong check digit, then a valid RUT of someone else.
        for vat, error in (
            ("76.086.428-4", "not a valid RUT"),
            ("11.111.111-1", "not the one of Cliente Portal"),
            ("", "Type the tax ID"),
        ):
            response = self._post(f"{url}/accept", {**accept, "signer_vat": vat})
            self.assertEqual(response.status_code, 400)
            self.assertIn(error, response.text)
            self.assertEqual(plan.state, "proposed", "nothing written")
        response = self._post(
            f"{url}/accept", {**accept, "signer_name": "M", "signer_vat": RUT}
        )
        self.assertEqual(response.status_code, 400, "a full name is required")
        response = self._post(f"{url}/accept", {**accept, "signer_vat": "760864285"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("the plan is accepted", response.text)
        plan.invalidate_recordset()
        self.assertEqual(plan.state, "active")
        self.assertEqual(plan.accepted_by, "María Pérez")
        self.assertEqual(plan.accepted_vat, RUT)
        self.assertTrue(plan.accepted_ip)
        self.assertTrue(plan.accepted_date)
        # Submitted twice: refused, nothing changes.
        response = self._post(f"{url}/accept", {**accept, "signer_vat": RUT})
        self.assertEqual(response.status_code, 409)
        self.assertIn("cannot be accepted any more", response.text)

    def test_other_customers_and_tampered_links_get_404(self):
        plan = self._plan()
        url = f"/my/payment_plans/{plan.id}"
        self.authenticate("cp_portal_other", "cp_portal_other")
        for target in (
            url,
            f"{url}?access_token=not-the-token",
            f"{url}?access_token={plan.access_token[:-1]}x",
            f"{url}/pay",
            f"{url}?report_type=pdf",
            "/my/payment_plans/999999999",
        ):
            response = self.url_open(target)
            self.assertEqual(response.status_code, 404, target)
            self.assertIn("does not exist or is not yours", response.text)
        for action, data in (
            ("accept", {"signer_name": "Intruso", "signer_vat": RUT}),
            ("decline", {"decline_reason": "no"}),
            ("auto_debit", {"token_id": ""}),
        ):
            response = self._post(f"{url}/{action}", data)
            self.assertEqual(response.status_code, 404, action)
        self.assertEqual(plan.state, "proposed")
        self.assertEqual(self.url_open("/my/payment_plans/abc").status_code, 404)
        with mute_logger("odoo.http"), self.assertRaises(JsonRpcException) as error:
            self.make_jsonrpc_request(f"{url}/transaction", {"amount": 1})
        self.assertIn("ValidationError", str(error.exception))
        self.assertFalse(
            self.env["payment.transaction"].search([("partner_id", "=", self.other.id)])
        )
        # Without the CSRF token, a POST is refused before anything happens.
        self.authenticate("cp_portal", "cp_portal")
        with mute_logger("odoo.http"):
            response = self.url_open(
                f"{url}/accept", data={"signer_name": "María Pérez", "signer_vat": RUT}
            )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(plan.state, "proposed")

    def test_expired_cancelled_and_declined_plans(self):
        plan = self._plan()
        url = f"/my/payment_plans/{plan.id}"
        self.authenticate("cp_portal", "cp_portal")
        response = self._post(f"{url}/decline", {"decline_reason": "  "})
        self.assertEqual(response.status_code, 400)
        self.assertIn("Tell us why", response.text)
        response = self._post(f"{url}/decline", {"decline_reason": "Cuotas altas"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(plan.state, "declined")
        self.assertEqual(plan.decline_reason, "Cuotas altas")
        self.assertEqual(plan.activity_ids.user_id, self.collections_manager)
        accept = {"signer_name": "María Pérez", "signer_vat": RUT}
        self.assertEqual(self._post(f"{url}/accept", accept).status_code, 409)
        # Cancelled by the company.
        other = self._plan()
        other.action_cancel()
        response = self._post(f"/my/payment_plans/{other.id}/accept", accept)
        self.assertEqual(response.status_code, 409)
        self.assertEqual(other.state, "cancelled")
        # Its first installment already due: the proposal has expired.
        expired = self._plan()
        expired.installment_ids[0].date = self.today - timedelta(days=1)
        response = self._post(f"/my/payment_plans/{expired.id}/accept", accept)
        self.assertEqual(response.status_code, 409)
        self.assertIn("expired", response.text)
        self.assertEqual(expired.state, "proposed")

    def test_promise_a_date(self):
        # What falls due within 5 days may be promised: not the invoice due in 10.
        self._agree_early(self.customer, 5)
        self.authenticate("cp_portal", "cp_portal")
        Promise = self.env["collection.promise"]
        when = self.today + timedelta(days=5)
        bad = (
            ({"invoice_ids": self.overdue[0].id, "promised_date": "mañana"}, 400),
            (
                {
                    "invoice_ids": self.overdue[0].id,
                    "promised_date": str(self.today - timedelta(days=1)),
                },
                400,
            ),
            (
                {
                    "invoice_ids": self.overdue[0].id,
                    "promised_date": str(self.today + timedelta(days=400)),
                },
                400,
            ),
            ({"invoice_ids": self.other_invoice.id, "promised_date": str(when)}, 403),
            ({"invoice_ids": self.soon.id, "promised_date": str(when)}, 403),
            ({"invoice_ids": "x", "promised_date": str(when)}, 400),
            ({"promised_date": str(when)}, 400),
        )
        for data, status in bad:
            response = self._post("/my/collections/promise", data)
            self.assertEqual(response.status_code, status, data)
        self.assertFalse(Promise.search([("partner_id", "=", self.customer.id)]))
        response = self._post(
            "/my/collections/promise",
            {"invoice_ids": self.overdue[0].id, "promised_date": str(when)},
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("your promise is recorded", response.text)
        promise = Promise.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(promise.source, "portal")
        self.assertEqual(promise.invoice_ids, self.overdue[0])
        self.assertEqual(promise.amount, 900)
        self.assertEqual(promise.promised_date, when)
        self.assertEqual(promise.activity_ids.user_id, self.collections_manager)

    def test_request_a_plan_within_policy(self):
        self.authenticate("cp_portal", "cp_portal")
        Plan = self.env["collection.payment.plan"]
        response = self.url_open("/my/payment_plans/request")
        self.assertEqual(response.status_code, 200)
        self.assertIn('value="12"', response.text, "low risk: up to 12 installments")
        self.assertNotIn('value="13"', response.text)
        for data in (
            {"invoice_ids": self.overdue.ids[0], "installment_count": "13"},
            {"invoice_ids": self.overdue.ids[0], "installment_count": "dos"},
            {"invoice_ids": self.overdue.ids[0], "installment_count": "-1"},
            {"invoice_ids": self.other_invoice.id, "installment_count": "2"},
            {
                "invoice_ids": self.overdue.ids[0],
                "installment_count": "2",
                "frequency": "daily",
            },
        ):
            response = self._post("/my/payment_plans/request", data)
            self.assertIn(response.status_code, (400, 403), data)
        self.assertFalse(Plan.search([("partner_id", "=", self.customer.id)]))
        response = self._post(
            "/my/payment_plans/request",
            {"invoice_ids": self.overdue.ids[0], "installment_count": "2"},
        )
        self.assertEqual(response.status_code, 200)
        plan = Plan.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(plan.state, "proposed", "within policy: ready to sign")
        self.assertTrue(plan.portal_requested)
        self.assertEqual(plan.invoice_ids, self.overdue[0])
        self.assertEqual(plan.installment_ids.mapped("amount"), [450, 450])
        self.assertIn("review it and accept it below", response.text)
        # Medium risk: the policy's 10% down payment comes first, still proposed.
        self.customer.with_company(self.company).collection_risk_band = "medium"
        response = self._post(
            "/my/payment_plans/request",
            {"invoice_ids": self.overdue.ids[1], "installment_count": "2"},
        )
        self.assertIn("10%", self.url_open("/my/payment_plans/request").text)
        medium = Plan.search([("invoice_ids", "=", self.overdue[1].id)])
        self.assertEqual(medium.state, "proposed")
        self.assertEqual(medium.installment_ids.mapped("amount"), [30, 135, 135])
        self.assertTrue(medium.installment_ids[0].is_down_payment)
        medium.action_cancel()
        # High risk: a manager proposes; the request waits as a draft.
        self.customer.with_company(self.company).collection_risk_band = "high"
        response = self._post(
            "/my/payment_plans/request",
            {"invoice_ids": self.overdue.ids[1], "installment_count": "2"},
        )
        self.assertEqual(response.status_code, 200)
        request = Plan.search(
            [("invoice_ids", "=", self.overdue[1].id), ("state", "!=", "cancelled")]
        )
        self.assertEqual(request.state, "draft")
        self.assertEqual(request.activity_ids.user_id, self.collections_manager)
        self.assertIn("our team will review your request", response.text)

    def test_installment_transaction_amount_is_the_installments(self):
        plan = self._plan(state="active")
        provider = self.env.ref("payment.payment_provider_demo").sudo()
        provider.write({"state": "test", "company_id": self.company.id})
        self.authenticate("cp_portal", "cp_portal")
        response = self.url_open(f"/my/payment_plans/{plan.id}/pay")
        self.assertEqual(response.status_code, 200)
        self.assertIn("o_payment_form", response.text)
        values = self.make_jsonrpc_request(
            f"/my/payment_plans/{plan.id}/transaction",
            {
                "access_token": plan.access_token,
                "provider_id": provider.id,
                "payment_method_id": self.env.ref(
                    "payment_demo.payment_method_demo"
                ).id,
                "token_id": None,
                "amount": 1.0,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": plan.get_portal_url(),
            },
        )
        tx = self.env["payment.transaction"].search(
            [("reference", "=", values["reference"])]
        )
        self.assertEqual(tx.amount, 400, "the installment's amount, not the browser's")
        self.assertEqual(tx.invoice_ids, self.overdue)
        # The demo provider confirms it: the installment shows paid.
        tx._set_done()
        tx._post_process()
        self.assertEqual(plan.installment_ids[0].state, "paid")
        self.assertIn(
            "o_collections_installment_state text-bg-success",
            self.url_open(f"/my/payment_plans/{plan.id}").text,
            "the portal shows it paid",
        )

    def test_auto_debit_only_with_own_payment_method(self):
        plan = self._plan(state="active")
        provider = self.env.ref("payment.payment_provider_demo").sudo()
        provider.write({"state": "test", "company_id": self.company.id})
        method = self.env.ref("payment_demo.payment_method_demo")

        def token(partner):
            return self.env["payment.token"].create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": method.id,
                    "partner_id": partner.id,
                    "payment_details": "4242",
                    "provider_ref": "demo",
                }
            )

        own, foreign = token(self.customer), token(self.other)
        self.authenticate("cp_portal", "cp_portal")
        url = f"/my/payment_plans/{plan.id}/auto_debit"
        self.assertEqual(self._post(url, {"token_id": foreign.id}).status_code, 403)
        self.assertEqual(self._post(url, {"token_id": "x"}).status_code, 403)
        self.assertFalse(plan.payment_token_id)
        self.assertEqual(self._post(url, {"token_id": own.id}).status_code, 200)
        self.assertEqual(plan.payment_token_id, own)
        self._post(url, {"token_id": ""})
        self.assertFalse(plan.payment_token_id)


@tagged("post_install", "-at_install")
class TestPortalInstallments(PortalCommon):
    """An invoice with terms at 30/60/90 days is three amounts due, each on its
    own date: the portal shows them so, and promises and plans cover them one
    by one. Credits offset what is owed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        chile = cls.env.ref("base.cl")
        cls.terms_customer = cls._cp_customer("Cliente Cuotas", country_id=chile.id)
        cls._portal_user("cp_portal_terms", cls.terms_customer)
        # Invoiced 40 days ago: the first third is 10 days overdue, the others
        # fall due in 20 and 50 days.
        cls.invoice, cls.lines = three_term_invoice(
            cls, cls.terms_customer, cls.today - timedelta(days=40)
        )
        cls.credit_customer = cls._cp_customer("Cliente Abono", country_id=chile.id)
        cls._portal_user("cp_portal_credit", cls.credit_customer)
        cls.credited = cls._cp_invoice(
            cls.credit_customer,
            300,
            cls.today - timedelta(days=35),
            cls.today - timedelta(days=5),
        )
        cls._cp_invoice(
            cls.credit_customer,
            300,
            cls.today - timedelta(days=3),
            move_type="out_refund",
        )

    def _page(self, login):
        self.authenticate(login, login)
        response = self.url_open("/my/collections")
        self.assertEqual(response.status_code, 200)
        return response.text

    def _due_count(self):
        return self.make_jsonrpc_request(
            "/my/counters", {"counters": ["collections_due_count"]}
        )["collections_due_count"]

    def test_one_installment_due_now_two_later(self):
        page = self._page("cp_portal_terms")
        now, later = page.split("o_collections_due_later", 1)
        now = now.split("o_collections_promise_form", 1)[0]
        later = later.split("o_collections_plans", 1)[0]
        self.assertEqual(now.count("o_collections_line "), 1)
        self.assertIn("installment 1 of 3", now)
        self.assertEqual(later.count("o_collections_line "), 2)
        self.assertIn("installment 2 of 3", later)
        self.assertIn("installment 3 of 3", later)
        self.assertNotIn("installment 2 of 3", now)
        self.assertEqual(self._due_count(), 1, "the first third is due, not the rest")
        # What may be promised: the overdue line (ticked) and, as the band's
        # plan policy allows (30 days), the one due in 20 days; not the last.
        form = page.split("o_collections_promise_form", 1)[1].split("</form>", 1)[0]
        self.assertIn(f'value="{self.lines[0].id}" checked', form)
        self.assertIn(f'value="{self.lines[1].id}"', form)
        self.assertNotIn(f'value="{self.lines[1].id}" checked', form)
        self.assertIn("o_collections_falls_due", form)
        self.assertNotIn(f'value="{self.lines[2].id}"', form)

    def _policy(self):
        return self.env["collection.plan.policy"]._for_partner(
            self.terms_customer, self.invoice.company_id
        )

    def test_promise_covers_what_the_policy_allows(self):
        Promise = self.env["collection.promise"]
        self.assertEqual(self._policy().early_days, 30)
        self.authenticate("cp_portal_terms", "cp_portal_terms")
        when = str(self.today + timedelta(days=5))
        # The installment due in 50 days is too far ahead: refused.
        response = self._post(
            "/my/collections/promise",
            {"move_line_ids": self.lines[2].id, "promised_date": when},
        )
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Promise.search([("partner_id", "=", self.terms_customer.id)]))
        # The invoice chosen (as older pages send it): its overdue line and the
        # one due within the policy's 30 days.
        response = self._post(
            "/my/collections/promise",
            {"invoice_ids": self.invoice.id, "promised_date": when},
        )
        self.assertEqual(response.status_code, 200)
        promise = Promise.search([("partner_id", "=", self.terms_customer.id)])
        self.assertEqual(promise.move_line_ids, self.lines[:2])
        self.assertEqual(promise.invoice_ids, self.invoice)
        self.assertEqual(promise.amount, 600, "two thirds, not the invoice")
        promise.action_cancel()
        # Before the default: the installment due in 20 days alone.
        response = self._post(
            "/my/collections/promise",
            {"move_line_ids": self.lines[1].id, "promised_date": when},
        )
        self.assertEqual(response.status_code, 200)
        promise = Promise.search(
            [("partner_id", "=", self.terms_customer.id), ("state", "=", "open")]
        )
        self.assertEqual(promise.move_line_ids, self.lines[1])
        self.assertEqual(promise.amount, 300)
        promise.action_cancel()
        # A band whose policy says overdue only: the overdue line alone.
        self._policy().early_days = 0
        response = self._post(
            "/my/collections/promise",
            {"move_line_ids": self.lines[1].id, "promised_date": when},
        )
        self.assertEqual(response.status_code, 403)
        self.assertNotIn(
            "o_collections_falls_due",
            self._page("cp_portal_terms").split("o_collections_promise_form", 1)[1],
        )
        response = self._post(
            "/my/collections/promise",
            {"move_line_ids": self.lines[0].id, "promised_date": when},
        )
        self.assertEqual(response.status_code, 200)
        promise = Promise.search(
            [("partner_id", "=", self.terms_customer.id), ("state", "=", "open")]
        )
        self.assertEqual(promise.move_line_ids, self.lines[0])
        self.assertEqual(promise.amount, 300)

    def test_plan_before_the_default(self):
        """Nothing overdue yet, an installment due in 10 days: the customer may
        already ask for a plan on it (and what falls due later with it), not on
        what falls due after the policy's days alone."""
        customer = self._cp_customer(
            "Cliente Previsor", country_id=self.env.ref("base.cl").id
        )
        self._portal_user("cp_portal_early", customer)
        _invoice, lines = three_term_invoice(
            self, customer, self.today - timedelta(days=20)
        )
        self.authenticate("cp_portal_early", "cp_portal_early")
        policy = self.env["collection.plan.policy"]._for_partner(
            customer, lines.company_id
        )
        # A band whose policy says overdue only: nothing to spread yet.
        policy.early_days = 0
        self.assertEqual(self.url_open("/my/payment_plans/request").status_code, 409)
        page = self.url_open("/my/collections").text
        self.assertNotIn("o_collections_request_plan", page)
        self.assertNotIn("o_collections_promise_form", page)
        policy.early_days = 30
        page = self.url_open("/my/collections").text
        self.assertIn("o_collections_request_plan", page)
        self.assertIn("o_collections_promise_form", page)
        form = self.url_open("/my/payment_plans/request")
        self.assertEqual(form.status_code, 200)
        self.assertIn(f'value="{lines[0].id}" checked', form.text)
        self.assertNotIn(f'value="{lines[1].id}" checked', form.text)
        # What falls due in 40 days alone is not yet for a plan.
        response = self._post(
            "/my/payment_plans/request",
            {"move_line_ids": lines[1].id, "installment_count": "2"},
        )
        self.assertEqual(response.status_code, 403)
        response = self._post(
            "/my/payment_plans/request",
            {"move_line_ids": lines.ids, "installment_count": "3"},
        )
        self.assertEqual(response.status_code, 200)
        plan = self.env["collection.payment.plan"].search(
            [("partner_id", "=", customer.id)]
        )
        self.assertEqual(plan.move_line_ids, lines)

    def test_plan_can_cover_all_three_due_dates(self):
        self.authenticate("cp_portal_terms", "cp_portal_terms")
        form = self.url_open("/my/payment_plans/request")
        self.assertEqual(form.status_code, 200)
        for line in self.lines:
            self.assertIn(f'id="plan_line_{line.id}"', form.text)
        response = self._post(
            "/my/payment_plans/request",
            {"move_line_ids": self.lines.ids, "installment_count": "3"},
        )
        self.assertEqual(response.status_code, 200)
        plan = self.env["collection.payment.plan"].search(
            [("partner_id", "=", self.terms_customer.id)]
        )
        self.assertEqual(plan.state, "proposed")
        self.assertEqual(plan.move_line_ids, self.lines)
        self.assertEqual(plan.invoice_ids, self.invoice)
        self.assertEqual(plan.amount_invoices, 1000)
        self.assertIn("installment 3 of 3", self.url_open(plan.get_portal_url()).text)
        # Held by the proposal: nothing left to ask a plan for.
        response = self._post(
            "/my/payment_plans/request",
            {"move_line_ids": self.lines[0].id, "installment_count": "2"},
        )
        self.assertEqual(response.status_code, 409)

    def test_credit_note_offsetting_the_overdue_line_leaves_nothing_to_promise(self):
        page = self._page("cp_portal_credit")
        self.assertIn("o_collections_nothing_due", page)
        self.assertNotIn("o_collections_promise_form", page)
        self.assertNotIn("o_collections_request_plan", page)
        self.assertNotIn(f"/my/invoices/{self.credited.id}", page)
        self.assertEqual(self._due_count(), 0)
        response = self._post(
            "/my/collections/promise",
            {
                "invoice_ids": self.credited.id,
                "promised_date": str(self.today + timedelta(days=5)),
            },
        )
        self.assertEqual(response.status_code, 403)
        self.assertFalse(
            self.env["collection.promise"].search(
                [("partner_id", "=", self.credit_customer.id)]
            )
        )
        self.assertEqual(self.url_open("/my/payment_plans/request").status_code, 409)


@tagged("post_install", "-at_install")
class TestPortalTours(PortalCommon):
    """The customer's clicks in a real browser (headless Chromium)."""

    def test_accept_with_a_rut_then_pay_the_first_installment(self):
        self.env.ref("payment.payment_provider_demo").sudo().write(
            {"state": "test", "company_id": self.company.id, "is_published": True}
        )
        plan = self._plan()
        self.start_tour(
            f"/my/payment_plans/{plan.id}",
            "collections_proactive_portal_accept_pay",
            login="cp_portal",
        )
        self.assertEqual(plan.state, "active")
        self.assertEqual(plan.accepted_vat, RUT)
        first = plan.installment_ids.sorted("date")[0]
        self.assertEqual(first.state, "paid")
        self.assertEqual(first.paid_amount, 400)
        self.assertEqual(plan.installment_ids[1].paid_amount, 0)

    def test_promise_a_date(self):
        self.start_tour(
            "/my/collections", "collections_proactive_portal_promise", login="cp_portal"
        )
        promise = self.env["collection.promise"].search(
            [("partner_id", "=", self.customer.id)]
        )
        self.assertEqual(promise.source, "portal")
        self.assertEqual(promise.invoice_ids, self.overdue)
        self.assertEqual(promise.promised_date, self.today + timedelta(days=5))

    def test_request_a_plan(self):
        self.start_tour(
            "/my/collections", "collections_proactive_portal_request", login="cp_portal"
        )
        plan = self.env["collection.payment.plan"].search(
            [("partner_id", "=", self.customer.id)]
        )
        self.assertEqual(plan.state, "proposed")
        self.assertEqual(plan.installment_count, 3)
        self.assertEqual(plan.invoice_ids, self.overdue)
