from datetime import timedelta

from odoo import Command, fields
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import format_date

from .common import CollectionsCommon

SPANISH = "es_CL"


@tagged("post_install", "-at_install")
class TestTraces(CollectionsCommon):
    """A promise, a pause, a hold and a plan's acceptance each leave a note on
    the invoices concerned and on the customer's case: what is owed, the date in
    the reader's format, and the note typed, escaped."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.env["res.lang"]._activate_lang(SPANISH)
        cls.collector.lang = SPANISH
        cls.today = fields.Date.context_today(cls.env.user)
        cls.customer = cls._cp_customer("Cliente Huella")
        cls.customer.with_company(cls.company).collection_user_id = cls.collector
        cls.invoices = cls._cp_invoice(
            cls.customer,
            700,
            cls.today - timedelta(days=40),
            cls.today - timedelta(days=10),
        ) | cls._cp_invoice(
            cls.customer,
            500,
            cls.today - timedelta(days=30),
            cls.today - timedelta(days=5),
        )
        cls.Case = cls.env["collection.case"]
        cls.Case._sync_cases(cls.company, partners=cls.customer)
        cls.case = cls.Case.search([("partner_id", "=", cls.customer.id)])

    def _last_note(self, record):
        record.invalidate_recordset(["message_ids"])
        return str(record.message_ids.sorted("id")[-1:].body)

    def _assert_traced(self, records, *pieces, absent=()):
        for record in records:
            body = self._last_note(record)
            for piece in pieces:
                self.assertIn(piece, body, record.display_name)
            for piece in absent:
                self.assertNotIn(piece, body, record.display_name)

    def test_promise_from_invoices_is_traced_and_confirmed(self):
        action = (
            self.invoices.with_user(self.collector)
            .with_context(lang=SPANISH)
            .action_collection_log_promise()
        )
        promise_form = Form(
            self.env["collection.promise"]
            .with_user(self.collector)
            .with_context(lang=SPANISH, **action["context"]),
            view=action["views"][0][0],
        )
        promise_form.note = "<b>Paga</b> el viernes"
        promise = promise_form.save()
        result = promise.action_logged()
        self.assertEqual(result["tag"], "display_notification")
        self.assertEqual(result["params"]["type"], "success")
        self.assertIn(promise.invoice_ids[0].name, result["params"]["message"])
        self.assertEqual(
            result["params"]["next"], {"type": "ir.actions.act_window_close"}
        )
        when = promise.promised_date
        self._assert_traced(
            [*self.invoices, self.case],
            "1.200,00",
            format_date(self.env(context={"lang": SPANISH}), when),
            "&lt;b&gt;Paga&lt;/b&gt; el viernes",
            absent=(str(when), "<b>"),
        )

    def test_portal_promise_is_traced_for_the_collector(self):
        portal = new_test_user(
            self.env, login="cp_trace_portal", groups="base.group_portal"
        )
        portal.partner_id.parent_id = self.customer
        when = self.today + timedelta(days=3)
        # As the portal controller creates it: the customer, with sudo.
        self.env["collection.promise"].with_user(portal).sudo().create(
            {
                "partner_id": self.customer.id,
                "invoice_ids": [Command.set(self.invoices[1].ids)],
                "amount": 500,
                "promised_date": when,
                "source": "portal",
                "note": "Pago\nel lunes",
            }
        )
        self._assert_traced(
            [self.invoices[1], self.case],
            "500,00",
            format_date(self.env(context={"lang": SPANISH}), when),
            "Pago<br>el lunes",
        )
        self.assertNotIn(
            format_date(self.env(context={"lang": SPANISH}), when),
            self._last_note(self.invoices[0]),
            "not promised",
        )

    def test_pause_is_traced(self):
        until = self.today + timedelta(days=12)
        self.env["collection.case.pause"].with_user(self.collector).with_context(
            lang=SPANISH, active_model="collection.case", active_ids=self.case.ids
        ).create(
            {"paused_until": until, "reason": "Disputa <script>x()</script>"}
        ).action_pause()
        self.assertEqual(self.case.paused_until, until)
        self._assert_traced(
            [*self.invoices, self.case],
            "1.200,00",
            format_date(self.env(context={"lang": SPANISH}), until),
            "Disputa &lt;script&gt;x()&lt;/script&gt;",
            absent=(str(until), "<script>"),
        )

    def test_hold_is_traced(self):
        invoice = self.invoices[0]
        today = format_date(self.env(context={"lang": SPANISH}), self.today)
        invoice.with_user(self.collector).with_context(lang=SPANISH).write(
            {
                "collection_followup_hold": "dispute",
                "collection_followup_hold_reason": "Reclama el <i>precio</i>",
            }
        )
        held = dict(
            invoice._fields["collection_followup_hold"]._description_selection(
                self.env(context={"lang": SPANISH})
            )
        )["dispute"]
        self._assert_traced(
            [invoice, self.case],
            invoice.name,
            held,
            "700,00",
            today,
            "Reclama el &lt;i&gt;precio&lt;/i&gt;",
            absent=("<i>",),
        )
        self.assertNotIn(invoice.name, self._last_note(self.invoices[1]))
        on_hold = self._last_note(invoice)
        invoice.with_user(self.collector).with_context(lang=SPANISH).write(
            {"collection_followup_hold": False}
        )
        self._assert_traced(
            [invoice, self.case],
            invoice.name,
            "700,00",
            today,
            absent=("precio", on_hold),
        )

    def test_plan_acceptance_is_traced(self):
        plan = self._cp_accepted_plan(
            self.customer,
            self.invoices,
            self.today + timedelta(days=7),
            fields.Datetime.now(),
        )
        self.assertEqual(plan.state, "active")
        first = plan.installment_ids.sorted("date")[0]
        self._assert_traced(
            [*self.invoices, self.case],
            plan.name,
            "María Pérez",
            "1,200.00",
            "400.00",
            format_date(self.env, first.date),
            format_date(self.env, self.today),
            "Por teléfono",
        )

    def test_promise_and_plan_buttons_count(self):
        Promise = self.env["collection.promise"]
        Promise.create(
            {
                "partner_id": self.customer.id,
                "invoice_ids": [Command.set(self.invoices[0].ids)],
                "amount": 700,
                "promised_date": self.today + timedelta(days=3),
            }
        ).action_cancel()
        Promise.create(
            {
                "partner_id": self.customer.id,
                "invoice_ids": [Command.set(self.invoices[1].ids)],
                "amount": 500,
                "promised_date": self.today + timedelta(days=3),
            }
        )
        self._cp_accepted_plan(
            self.customer,
            self.invoices,
            self.today + timedelta(days=7),
            fields.Datetime.now(),
        )
        case = self.case.with_user(self.collector)
        self.assertEqual((case.promise_count, case.plan_count), (2, 1))
        customer = self.customer.with_user(self.collector)
        self.assertEqual(
            (customer.collection_promise_count, customer.collection_plan_count),
            (2, 1),
        )
        self.assertEqual(
            Promise.search(customer.action_open_collection_promises()["domain"]),
            Promise.search([("partner_id", "=", self.customer.id)]),
        )
        # The buttons show them.
        for view, names in (
            ("collection_case_view_form", ("promise_count", "plan_count")),
            (
                "res_partner_view_form",
                ("collection_promise_count", "collection_plan_count"),
            ),
        ):
            arch = self.env.ref(f"collections_proactive.{view}").arch
            for name in names:
                self.assertIn(f'name="{name}"', arch)


@tagged("post_install", "-at_install")
class TestPaymentUpdatesCase(CollectionsCommon):
    """A payment brings its customer's case up to date at once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.today = fields.Date.context_today(cls.env.user)
        cls.Case = cls.env["collection.case"]

    @classmethod
    def _customer_owing(cls, name, count):
        """A customer with ``count`` overdue invoices of 100, and its case."""
        customer = cls._cp_customer(name)
        invoices = cls.env["account.move"]
        for days in range(count):
            invoices |= cls._cp_invoice(
                customer,
                100,
                cls.today - timedelta(days=40 + days),
                cls.today - timedelta(days=10 + days),
            )
        cls.Case._sync_cases(cls.company, partners=customer)
        return invoices, cls.Case.search([("partner_id", "=", customer.id)])

    def test_payment_and_unmatching_update_the_case(self):
        invoices, case = self._customer_owing("Cliente Pago", 3)
        self.assertEqual((case.amount_due, case.amount_overdue), (300, 300))
        payment = self._cp_pay(invoices[0])
        self.assertEqual((case.amount_due, case.amount_overdue), (200, 200))
        self.assertEqual(case.invoice_count, 2)
        # Unmatched: the invoice is open again, and the payment, now an open
        # credit, still offsets what is owed (oldest debt first).
        payment.move_id.line_ids.remove_move_reconcile()
        self.assertEqual(case.invoice_count, 3)
        self.assertEqual((case.amount_due, case.amount_overdue), (200, 200))
        self._cp_pay(invoices)
        self.assertEqual(case.state, "closed")
        self.assertEqual(case.amount_due, 0)

    def test_sync_queries_do_not_grow_with_the_invoices_paid(self):
        def paid(name, count):
            # ``count`` invoices paid in one payment, one left owing: the case
            # stays open, and each sync below brings it up to date in full.
            invoices, case = self._customer_owing(name, count + 1)
            payment = self._cp_pay(invoices[:count])
            self.assertEqual(case.amount_due, 100)
            return payment.move_id.line_ids | invoices[:count].line_ids

        one, many = paid("Cliente Uno", 1), paid("Cliente Muchos", 8)
        self.env.invalidate_all()
        self.env.flush_all()
        start = self.cr.sql_log_count
        one._collection_sync_cases()
        self.env.flush_all()
        queries = self.cr.sql_log_count - start
        self.env.invalidate_all()
        with self.assertQueryCount(queries):
            many._collection_sync_cases()
