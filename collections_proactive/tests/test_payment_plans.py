from datetime import date, datetime

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from ..models.collection_payment_plan import split_schedule
from .common import CollectionsCommon
from .test_promises import three_term_invoice

DUE = date(2026, 3, 20)
# When the tests' plans are drawn up and proposed: their first dates are ahead.
PROPOSED_ON = datetime(2026, 3, 21, 12)


@tagged("post_install", "-at_install")
class TestPaymentPlans(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_user"
        )
        cls.Plan = cls.env["collection.payment.plan"]
        cls.customer = cls._cp_customer("Cliente Plan", tz="America/Santiago")
        cls.invoices = cls._cp_invoice(
            cls.customer, 900, date(2026, 1, 15), date(2026, 2, 15)
        ) | cls._cp_invoice(cls.customer, 300, date(2026, 2, 1), date(2026, 3, 1))
        cls.company.collection_escalation_user_id = cls.collections_manager

    def _plan(self, user=None, **values):
        with freeze_time(datetime(2026, 3, 21, 12)):
            return self.Plan.with_user(user or self.collector).create(
                {
                    "partner_id": self.customer.id,
                    "invoice_ids": [Command.set(self.invoices.ids)],
                    "installment_count": 3,
                    "frequency": "monthly",
                    "first_date": date(2026, 4, 1),
                    **values,
                }
            )

    def test_schedule_adds_up_exactly_in_clp(self):
        clp = self.env.ref("base.CLP")
        rows = split_schedule(100000, 0, 3, date(2026, 4, 1), "monthly", clp)
        self.assertEqual([r[1] for r in rows], [33333, 33333, 33334])
        self.assertEqual(
            [r[0] for r in rows], [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)]
        )
        rows = split_schedule(100001, 20000, 4, date(2026, 4, 1), "weekly", clp)
        self.assertEqual(rows[0], (date(2026, 4, 1), 20000, True))
        self.assertEqual(sum(r[1] for r in rows), 100001)
        self.assertEqual([r[1] for r in rows[1:]], [20000, 20000, 20000, 20001])
        self.assertEqual(rows[1][0], date(2026, 4, 8), "a week after the down payment")
        usd = self.env.ref("base.USD")
        rows = split_schedule(100, 0, 3, date(2026, 4, 1), "biweekly", usd)
        self.assertEqual([r[1] for r in rows], [33.33, 33.33, 33.34])

    def test_plan_from_the_form_previews_the_schedule(self):
        with freeze_time(datetime(2026, 3, 21, 12)):
            form = Form(self.Plan.with_user(self.collector))
            form.partner_id = self.customer
            for invoice in self.invoices:
                form.move_line_ids.add(
                    invoice.line_ids.filtered(
                        lambda line: line.display_type == "payment_term"
                    )
                )
            form.fee_amount = 30
            form.installment_count = 3
            self.assertEqual(form.amount_total, 1230)
            self.assertEqual(len(form.installment_ids), 3)
            plan = form.save()
        self.assertTrue(plan.name.startswith("PLAN/"))
        self.assertEqual(plan.invoice_ids, self.invoices)
        self.assertEqual(plan.installment_ids.mapped("amount"), [410, 410, 410])
        self.assertEqual(sum(plan.installment_ids.mapped("amount")), plan.amount_total)

    @freeze_time(PROPOSED_ON)
    def test_policy_decides_who_may_propose(self):
        # Low risk (the default band): up to 12 installments, no approval.
        plan = self._plan(installment_count=13)
        self.assertIn("13 installments", plan.policy_issue)
        with self.assertRaisesRegex(UserError, "outside the policy"):
            plan.with_user(self.collector).action_propose()
        self.assertEqual(plan.state, "draft")
        # The collector asks; the escalation manager gets the activity.
        plan.with_user(self.collector).action_request_approval()
        activity = plan.activity_ids
        self.assertEqual(activity.user_id, self.collections_manager)
        self.assertIn("13 installments", str(activity.note))
        plan.with_user(self.collections_manager).action_propose()
        self.assertEqual(plan.state, "proposed")
        self.assertTrue(plan.access_token)
        # Withdrawn, so that its invoices are free for the next one.
        plan.action_draft()
        # High risk: a manager proposes, whatever the plan.
        self.customer.sudo().with_company(self.company).collection_risk_band = "high"
        plan = self._plan(down_payment=300)
        self.assertFalse(plan.policy_issue)
        with self.assertRaisesRegex(UserError, "proposed by a collections manager"):
            plan.with_user(self.collector).action_propose()

    @freeze_time(PROPOSED_ON)
    def test_accepted_plan_holds_reminders_and_tracks_payments(self):
        plan = self._plan(fee_amount=30)
        plan.action_propose()
        with freeze_time(datetime(2026, 3, 22, 12)):
            wizard = Form(
                self.env["collection.payment.plan.accept"]
                .with_user(self.collector)
                .with_context(active_id=plan.id)
            )
            wizard.signer = "María Pérez"
            wizard.note = "Aceptado por teléfono"
            wizard.save().action_accept()
        self.assertEqual(plan.state, "active")
        self.assertEqual(plan.accepted_by, "María Pérez")
        self.assertEqual(plan.fee_invoice_id.amount_total, 30)
        self.assertEqual(plan.fee_invoice_id.state, "posted")
        case = self.env["collection.case"].search(
            [("partner_id", "=", self.customer.id), ("state", "=", "open")]
        )
        self.assertEqual(case.stage_id.role, "plan")
        self.assertEqual(case.plan_id, plan, "the card shows the plan")
        # The covered invoices leave the normal reminders.
        with freeze_time(datetime(2026, 3, 25, 13)):
            self.env["collection.reminder"]._cron_send_reminders()
        reminders = self.env["collection.reminder"].search(
            [("partner_id", "=", self.customer.id)]
        )
        self.assertTrue(reminders)
        self.assertEqual(set(reminders.mapped("reason")), {"Covered by a payment plan"})
        # 500 paid: the first installment (410) in full, 90 on the second.
        self._cp_pay(self.invoices[0], amount=500, payment_date=date(2026, 4, 1))
        with freeze_time(datetime(2026, 4, 2, 12)):
            self.env["collection.promise"]._cron_check_commitments()
            self.assertEqual(plan.installment_ids.mapped("paid_amount"), [410, 90, 0])
            self.assertEqual(
                plan.installment_ids.mapped("state"), ["paid", "partial", "due"]
            )
        # Everything paid: done.
        self._cp_pay(self.invoices, payment_date=date(2026, 5, 1))
        self._cp_pay(plan.fee_invoice_id, payment_date=date(2026, 5, 1))
        with freeze_time(datetime(2026, 5, 2, 12)):
            result = self.env["collection.promise"]._cron_check_commitments()
        self.assertEqual(result["plans_done"], 1)
        self.assertEqual(plan.state, "done")

    @freeze_time(PROPOSED_ON)
    def test_unpaid_installment_breaks_the_plan(self):
        plan = self._plan()
        plan.action_propose()
        with freeze_time(datetime(2026, 3, 22, 12)):
            plan.action_record_acceptance("María Pérez", note="Por teléfono")
        # Low risk policy: broken 10 days after an unpaid installment's date.
        with freeze_time(datetime(2026, 4, 11, 12)):
            result = self.env["collection.promise"]._cron_check_commitments()
        self.assertEqual(result["plans_broken"], 0)
        with freeze_time(datetime(2026, 4, 12, 12)):
            result = self.env["collection.promise"]._cron_check_commitments()
        self.assertEqual(result["plans_broken"], 1)
        self.assertEqual(plan.state, "broken")
        told = plan.message_ids.filtered(lambda m: self.customer in m.partner_ids)
        self.assertIn("unpaid 10 days", told.body, "the customer is told")
        self.env.flush_all()
        [(adherence, due)] = self.env["collection.kpi.report"]._read_group(
            [("company_id", "=", self.company.id), ("date", "=", date(2026, 4, 1))],
            [],
            ["plan_adherence:sum", "installments_due:sum"],
        )
        # The April installment fell due unpaid: 0 of 1.
        self.assertEqual((adherence, due), (0.0, 1))
        case = self.env["collection.case"].search(
            [("partner_id", "=", self.customer.id), ("state", "=", "open")]
        )
        self.assertEqual(case.stage_id.role, "escalated")
        broken = self.env[
            "collection.risk.scoring"
        ]._collection_risk_broken_commitments(
            [self.customer.id], self.company, date(2026, 1, 1), date(2026, 12, 31)
        )
        self.assertEqual(broken, {self.customer.id: 1})
        self.assertFalse(
            self.env["collection.payment.plan"]._covered_moves(self.invoices.ids),
            "the normal reminders resume",
        )

    def test_plan_adherence_counts_installments_paid_by_their_date(self):
        plan = self._cp_accepted_plan(
            self.customer, self.invoices, date(2026, 4, 1), PROPOSED_ON
        )
        self.assertEqual(plan.installment_ids.mapped("amount"), [400, 400, 400])
        # April's installment paid four days late, May's ahead, June's not at all.
        self._cp_pay(self.invoices, amount=400, payment_date=date(2026, 4, 5))
        self._cp_pay(self.invoices, amount=400, payment_date=date(2026, 4, 30))
        with freeze_time(datetime(2026, 6, 5, 12)):
            self.env["collection.promise"]._cron_check_commitments()
        self.assertEqual(plan.installment_ids.mapped("state"), ["paid", "paid", "late"])
        self.env.flush_all()
        rows = self.env["collection.kpi.report"]._read_group(
            [("company_id", "=", self.company.id), ("installments_due", ">", 0)],
            ["date:month"],
            ["installments_paid:sum", "installments_due:sum", "plan_adherence:sum"],
        )
        self.assertEqual(
            [(month.month, paid, due, rate) for month, paid, due, rate in rows],
            [(4, 0, 1, 0.0), (5, 1, 1, 100.0), (6, 0, 1, 0.0)],
        )

    @freeze_time(PROPOSED_ON)
    def test_bad_input_is_refused(self):
        stranger = self._cp_customer("Otro")
        theirs = self._cp_invoice(stranger, 100, date(2026, 2, 1), DUE)
        plan = self._plan(invoice_ids=[Command.set((self.invoices | theirs).ids)])
        with self.assertRaisesRegex(ValidationError, "open posted invoices"):
            plan.action_propose()
        plan = self._plan(down_payment=5000)
        with self.assertRaisesRegex(ValidationError, "less than the total"):
            plan.action_propose()
        plan = self._plan()
        with self.assertRaisesRegex(UserError, "Only a proposed plan"):
            plan.action_record_acceptance("Alguien")
        plan.action_propose()
        with self.assertRaisesRegex(UserError, "Only a draft plan can change"):
            plan.installment_count = 6
        with self.assertRaisesRegex(ValidationError, "why"):
            plan.action_decline("  ")
        with self.assertRaisesRegex(ValidationError, "who accepted"):
            plan.action_record_acceptance("")
        plan.action_decline("Prefiere pagar en dos meses")
        self.assertEqual(plan.state, "declined")
        with self.assertRaises(UserError):
            plan.action_decline("otra vez")
        # A first date in the past; another currency; an invoice in another plan.
        with self.assertRaisesRegex(ValidationError, "cannot be in the past"):
            self._plan(first_date=date(2026, 3, 1)).action_propose()
        eur = self.env.ref("base.EUR")
        eur.active = True
        foreign = self._cp_invoice(self.customer, 100, date(2026, 2, 1), DUE)
        foreign.button_draft()
        foreign.currency_id = eur
        foreign.action_post()
        with self.assertRaisesRegex(ValidationError, "another currency"):
            self._plan(invoice_ids=[Command.set(foreign.ids)]).action_propose()
        first = self._plan()
        with freeze_time(datetime(2026, 3, 21, 12)):
            first.action_propose()
            with self.assertRaisesRegex(ValidationError, "already in payment plan"):
                self._plan(
                    invoice_ids=[Command.set(self.invoices[0].ids)]
                ).action_propose()
            # Paid meanwhile: the proposal no longer matches, it is drawn up again.
            self._cp_pay(self.invoices[1], payment_date=date(2026, 3, 21))
            with self.assertRaisesRegex(UserError, "drawn up again"):
                first.action_record_acceptance("María Pérez")
            self.assertEqual(first.state, "proposed")
            first.action_draft()
            self.assertEqual(first.amount_invoices, 900)
            self.assertEqual(sum(first.installment_ids.mapped("amount")), 900)

    @freeze_time(PROPOSED_ON)
    def test_agreement_in_the_customers_language_and_proposal_email(self):
        self.env["res.lang"]._activate_lang("es_CL")
        self.env["ir.module.module"]._load_module_terms(
            ["collections_proactive"], ["es_CL"]
        )
        self.customer.write({"lang": "es_CL", "vat": "76.086.428-5"})
        plan = self._plan(fee_amount=30)
        action = plan.action_send_proposal()
        self.assertEqual(plan.state, "proposed", "sending proposes a draft plan")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("collections_proactive.report_payment_plan", plan.ids)[0]
            .decode()
        )
        self.assertIn(
            "mil doscientos treinta", html.lower(), "the total in Spanish words"
        )
        self.assertIn("76.086.428-5", html)
        for invoice in self.invoices:
            self.assertIn(invoice.name, html)
        self.assertIn("access_token=", html)
        composer = Form(
            self.env["mail.compose.message"].with_context(**action["context"])
        ).save()
        composer._action_send_mail()
        message = plan.message_ids[0]
        self.assertIn("/my/payment_plans/", message.body)
        self.assertIn("access_token=", message.body)
        self.assertTrue(message.attachment_ids, "the agreement travels with it")

    # ------------------------------------------------------------------
    # Receivable lines, not invoices
    # ------------------------------------------------------------------

    @freeze_time(PROPOSED_ON)
    def test_plan_covers_the_lines_chosen(self):
        """30/60/90 days, the first third overdue: a plan may spread all three
        due dates; another plan may not take them again, but may take the
        line of an invoice's due date the first one left out."""
        customer = self._cp_customer("Cliente Cuotas")
        invoice, lines = three_term_invoice(self, customer, date(2026, 2, 18))
        action = customer.with_user(self.collector).action_collection_new_plan()
        self.assertEqual(
            action["context"]["default_move_line_ids"], [Command.set(lines.ids)]
        )
        plan = self._plan(
            partner_id=customer.id, invoice_ids=[Command.set(invoice.ids)]
        )
        self.assertEqual(plan.move_line_ids, lines, "the three due dates")
        self.assertEqual(plan.invoice_ids, invoice)
        self.assertEqual(plan.amount_invoices, 1000)
        self.assertEqual(
            plan.installment_ids.mapped("amount"), [333.33, 333.33, 333.34]
        )
        plan.action_propose()
        with self.assertRaisesRegex(ValidationError, "already in payment plan"):
            self._plan(
                partner_id=customer.id, move_line_ids=[Command.set(lines[2].ids)]
            ).action_propose()
        # Only the first two due dates: the third is free for another plan.
        plan.action_draft()
        plan.move_line_ids = lines[:2]
        self.assertEqual(plan.amount_invoices, 600)
        plan.action_propose()
        last = self._plan(
            partner_id=customer.id, move_line_ids=[Command.set(lines[2].ids)]
        )
        last.action_propose()
        self.assertEqual(last.amount_invoices, 400)
        self.assertEqual((plan | last).invoice_ids, invoice)
        # Accepted, it counts only what is paid on its own lines.
        with freeze_time(datetime(2026, 3, 22, 12)):
            plan.action_record_acceptance("María Pérez")
        self._cp_pay(invoice, amount=1000, payment_date=date(2026, 3, 23))
        self.assertTrue(all(lines.mapped("reconciled")))
        self.assertEqual(plan._paid_since_acceptance(), {plan.id: 600})
