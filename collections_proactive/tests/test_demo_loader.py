from datetime import timedelta
from statistics import mean

from dateutil.relativedelta import relativedelta
from stdnum.cl import rut as cl_rut

from odoo import fields
from odoo.tests import TransactionCase, tagged

from odoo.addons.collections_proactive.demo.collection_demo_loader import (
    PAYER_PROFILES,
    RECENT_MONTHS,
)
from odoo.addons.collections_proactive.tools.amount_words import amount_in_words


@tagged("post_install", "-at_install")
class TestDemoLoader(TransactionCase):
    """The demo data tells the story it promises: a Chilean company where a
    collector and a manager work, five payer profiles told apart by their real
    payments, invoices due soon and overdue, and a year of reminders, promises and
    plans behind every KPI."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["collection.demo.loader"]._load_demo(
            customers_per_profile=2, translations=False
        )
        cls.company = cls.env.ref("collections_proactive.demo_company")
        cls.today = fields.Date.context_today(cls.env["res.partner"])
        cls.collector = cls.env.ref("collections_proactive.demo_user_collector")
        cls.manager = cls.env.ref("collections_proactive.demo_user_manager")

    def _customers(self, profile):
        xmlids = self.env["ir.model.data"].search(
            [
                ("module", "=", "collections_proactive"),
                ("model", "=", "res.partner"),
                ("name", "=like", f"demo_customer_{profile}_%"),
            ]
        )
        return self.env["res.partner"].browse(xmlids.mapped("res_id"))

    def _invoices(self, partners, **domain):
        return self.env["account.move"].search(
            [
                ("company_id", "=", self.company.id),
                ("partner_id", "in", partners.ids),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
            ]
            + [(field, "=", value) for field, value in domain.items()]
        )

    def _delays(self, invoices):
        """Days from due date to the payment that settled each paid invoice."""
        delays = []
        for invoice in invoices.filtered(lambda inv: inv.payment_state == "paid"):
            payments = invoice._get_reconciled_payments()
            if payments:
                paid_on = max(payments.mapped("date"))
                delays.append((paid_on - invoice.invoice_date_due).days)
        return delays

    def test_company(self):
        self.assertEqual(self.company.currency_id, self.env.ref("base.CLP"))
        self.assertEqual(self.company.country_id.code, "CL")
        self.assertEqual(self.company.account_fiscal_country_id.code, "CL")
        self.assertTrue(cl_rut.is_valid(self.company.vat))
        self.assertTrue(self.env["res.lang"]._lang_get("es_CL").active)
        self.assertEqual(self.company.email, "cobranzas@proactiva.example")

    def test_chilean_vat(self):
        """19% VAT (IVA) is the sale tax, on every invoice; no other country's."""
        tax = self.company.account_sale_tax_id
        self.assertEqual((tax.type_tax_use, tax.amount_type), ("sale", "percent"))
        self.assertEqual(tax.amount, 19.0)
        sale_taxes = self.env["account.tax"].search(
            [("company_id", "=", self.company.id), ("type_tax_use", "=", "sale")]
        )
        self.assertNotIn(15.0, sale_taxes.mapped("amount"))
        invoices = self.env["account.move"].search(
            [("company_id", "=", self.company.id), ("move_type", "=", "out_invoice")]
        )
        self.assertTrue(invoices)
        self.assertEqual(invoices.invoice_line_ids.tax_ids, tax)
        invoice = invoices[0]
        self.assertEqual(
            invoice.amount_tax, invoice.currency_id.round(invoice.amount_untaxed * 0.19)
        )

    def test_collector_and_manager(self):
        """Both land in the Chilean company, its only one, in Spanish and
        Santiago's time; the manager takes the escalations; the customers are
        the collector's, whose board shows their cases."""
        for user, group in (
            (self.collector, "group_collections_user"),
            (self.manager, "group_collections_manager"),
        ):
            self.assertEqual(user.company_id, self.company)
            self.assertEqual(user.company_ids, self.company)
            self.assertEqual((user.lang, user.tz), ("es_CL", "America/Santiago"))
            self.assertTrue(user.has_group(f"collections_proactive.{group}"))
            self.assertTrue(user.email.endswith("@proactiva.example"))
        self.assertEqual(self.collector.login, "cobrador")
        self.assertEqual(self.manager.login, "jefe")
        self.assertFalse(
            self.collector.has_group("collections_proactive.group_collections_manager")
        )
        self.assertEqual(self.company.collection_escalation_user_id, self.manager)
        self.assertEqual(self.company._collection_manager(), self.manager)
        for user in (self.collector, self.manager):
            cases = self.env["collection.case"].with_user(user).search([])
            self.assertTrue(cases, user.login)
            self.assertEqual(cases.company_id, self.company)
        mine = (
            self.env["collection.case"]
            .with_user(self.collector)
            .search([("state", "=", "open"), ("user_id", "=", self.collector.id)])
        )
        self.assertTrue(mine)
        customers = self.env["res.partner"].browse(
            self.env["ir.model.data"]
            .search(
                [
                    ("module", "=", "collections_proactive"),
                    ("name", "=like", "demo_customer_%"),
                ]
            )
            .mapped("res_id")
        )
        self.assertEqual(
            customers.with_company(self.company).collection_user_id, self.collector
        )
        # Escalations so far (a broken promise, a broken plan) are the manager's.
        escalated = self.env["collection.case"].search(
            [
                ("company_id", "=", self.company.id),
                ("state", "=", "open"),
                ("stage_id.role", "=", "escalated"),
            ]
        )
        self.assertTrue(escalated)
        # Today's call steps are done in the contact hours only, so whether the
        # demo has some depends on when it is loaded: what a step or a risk
        # alert asks stays with the customer's collector, the escalation is the
        # manager's.
        activities = escalated.activity_ids
        from_steps = (
            self.env["collection.reminder"]
            .search([("activity_id", "in", activities.ids)])
            .activity_id
        )
        alerts = activities.filtered(
            lambda a: (
                a.activity_type_id
                == self.env.ref("collections_proactive.mail_activity_type_risk_alert")
            )
        )
        self.assertEqual((activities - from_steps - alerts).user_id, self.manager)
        self.assertFalse((from_steps | alerts).user_id - self.collector)

    def test_kpis_of_recent_months(self):
        """The KPIs of the last three months (the overview's) all have figures."""
        start = self.today.replace(day=1) - relativedelta(months=2)
        [kpis] = self.env["collection.kpi.report"]._read_group(
            [("company_id", "=", self.company.id), ("date", ">=", start)],
            [],
            [
                f"{name}:sum"
                for name in (
                    "dso",
                    "cei",
                    "paid_by_due_rate",
                    "reminder_effectiveness",
                    "promise_kept_rate",
                    "plan_adherence",
                )
            ],
        )
        for name, value in zip(
            ("dso", "cei", "paid", "reminders", "promises", "plans"), kpis, strict=True
        ):
            self.assertGreater(value or 0, 0, name)
        self.assertLess(kpis[4], 100, "some promises were broken")
        self.assertLess(kpis[5], 100, "some installments were missed")

    def test_reminder_log(self):
        """A year of reminders sent, failed and skipped, with their reasons; the
        emails and SMS sent are in the customers' chatter."""
        Reminder = self.env["collection.reminder"]
        domain = [
            ("company_id", "=", self.company.id),
            ("planned_date", "<", fields.Datetime.now() - timedelta(days=1)),
        ]
        by_state = dict(Reminder._read_group(domain, ["state"], ["__count"]))
        for state in ("sent", "failed", "skipped"):
            self.assertTrue(by_state.get(state), state)
        self.assertGreater(by_state["sent"], 10 * (by_state["failed"]))
        oldest = Reminder.search(domain, order="planned_date", limit=1)
        self.assertLess(oldest.planned_date.date(), self.today - timedelta(days=300))
        reasons = set(
            Reminder.search([*domain, ("state", "=", "skipped")]).mapped("reason")
        )
        self.assertIn("Covered by a promise to pay", reasons)
        self.assertIn("The customer cannot be reached by email", reasons)
        failed = Reminder.search([*domain, ("state", "=", "failed")])
        self.assertTrue(all(r.reason.startswith("Delivery failed: ") for r in failed))
        self.assertTrue(all(failed.mapped("delivery_failed")))
        self.assertEqual(
            set(failed.mapped("attempt_count")), {self.company.collection_max_attempts}
        )
        sent = Reminder.search(
            [*domain, ("state", "=", "sent"), ("channel", "in", ("email", "sms"))]
        )
        self.assertTrue(all(sent.mapped("message_id")))
        self.assertEqual(
            sent.mapped("sent_date"), sent.mapped("message_id.date"), "dated as sent"
        )
        self.assertTrue(
            Reminder.search(
                [*domain, ("reason", "=", "SMS not allowed: sent by email instead")]
            )
        )
        # A later run brings back no failure: nothing is failed at the provider now.
        self.assertEqual(Reminder._sync_delivery_failures(retry=False), 0)

    def test_commitments(self):
        """Promises kept, broken and open; plans done, broken, active, and the
        portal customer's waiting for its signature."""
        promises = dict(
            self.env["collection.promise"]._read_group(
                [("company_id", "=", self.company.id)], ["state"], ["__count"]
            )
        )
        self.assertGreater(promises.get("kept", 0), promises.get("broken", 0))
        self.assertTrue(promises.get("broken"))
        self.assertEqual(promises.get("open"), 1)
        plans = self.env["collection.payment.plan"].search(
            [("company_id", "=", self.company.id)]
        )
        self.assertEqual(
            sorted(plans.mapped("state")), ["active", "broken", "done", "proposed"]
        )
        active = plans.filtered(lambda plan: plan.state == "active")
        self.assertEqual(
            [i.state for i in active.installment_ids.sorted("date")],
            ["paid", "due", "due"],
        )
        self.assertTrue(self.env.ref("collections_proactive.demo_portal_user"))

    def test_amount_in_words_on_the_agreement(self):
        plan = self.env.ref("collections_proactive.demo_payment_plan")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "collections_proactive.collection_payment_plan_report", plan.ids
            )[0]
            .decode()
        )
        lang = plan.partner_id.lang
        words = amount_in_words(plan.amount_total, plan.currency_id, lang)
        self.assertIn(words, html)
        self.assertRegex(words, r" pesos$")
        # The company's letterhead, and the title where the layout puts it.
        self.assertIn("Proactiva Distribuciones SpA", html)
        self.assertRegex(html, r"<h2>\s*Payment plan agreement\s*<span>")

    def test_customers(self):
        customers = self.env["res.partner"]
        for profile in PAYER_PROFILES:
            profile_customers = self._customers(profile)
            self.assertEqual(len(profile_customers), 2, profile)
            customers |= profile_customers
        self.assertEqual(len(set(customers.mapped("vat"))), len(customers))
        for customer in customers:
            self.assertTrue(cl_rut.is_valid(customer.vat), customer.vat)
            self.assertRegex(customer.email, r"^[\w.]+@example\.com$")
            self.assertRegex(customer.mobile, r"^\+56 9 \d{4} \d{4}$")
        self.assertEqual(set(customers.mapped("lang")), {"es_CL", "en_US"})

    def test_profiles_differ_by_real_payments(self):
        averages = {}
        for profile in ("early", "on_time", "slightly_late", "chronic"):
            delays = self._delays(self._invoices(self._customers(profile)))
            self.assertGreater(len(delays), 10, profile)
            averages[profile] = mean(delays)
            self.assertLessEqual(
                max(delays), PAYER_PROFILES[profile]["delay"][1], profile
            )
        self.assertLess(averages["early"], -3)
        self.assertLess(averages["early"], averages["on_time"])
        self.assertLess(averages["on_time"], averages["slightly_late"])
        self.assertLess(averages["slightly_late"], averages["chronic"])
        self.assertGreater(averages["chronic"], 25)

    def test_deteriorating_customers_drift(self):
        invoices = self._invoices(self._customers("deteriorating"))
        cutoff = self.today - timedelta(days=RECENT_MONTHS * 30)
        older = self._delays(invoices.filtered(lambda inv: inv.invoice_date < cutoff))
        self.assertGreater(len(older), 10)
        self.assertLessEqual(mean(older), 2)
        recent = invoices.filtered(lambda inv: inv.invoice_date >= cutoff)
        late_or_overdue = recent.filtered(
            lambda inv: (
                inv.invoice_date_due < self.today and inv.payment_state != "paid"
            )
        ) | recent.filtered(lambda inv: any(d >= 20 for d in self._delays(inv)))
        self.assertGreaterEqual(len(late_or_overdue), len(recent) // 2)

    def test_open_invoices_due_soon_and_overdue(self):
        customers = self.env["res.partner"]
        for profile in PAYER_PROFILES:
            customers |= self._customers(profile)
        invoices = self._invoices(customers)
        open_invoices = invoices.filtered(
            lambda inv: inv.payment_state in ("not_paid", "partial")
        )
        due_soon = open_invoices.filtered(
            lambda inv: (
                self.today <= inv.invoice_date_due <= self.today + timedelta(days=30)
            )
        )
        overdue = open_invoices.filtered(lambda inv: inv.invoice_date_due < self.today)
        self.assertTrue(
            due_soon, "there must be invoices to remind before their due date"
        )
        self.assertTrue(overdue, "there must be overdue invoices to follow up")
        self.assertTrue(
            invoices.filtered(lambda inv: inv.payment_state == "partial"),
            "some customers pay in parts",
        )
        refunds = self.env["account.move"].search(
            [("company_id", "=", self.company.id), ("move_type", "=", "out_refund")]
        )
        self.assertTrue(refunds)
        self.assertTrue(
            all(refund.payment_state in ("paid", "reversed") for refund in refunds)
        )
        # 12 months of history for every customer, in the company currency.
        self.assertTrue(
            all(inv.currency_id == self.company.currency_id for inv in invoices)
        )
        self.assertLessEqual(
            min(invoices.mapped("invoice_date")), self.today - timedelta(days=330)
        )


@tagged("post_install", "-at_install")
class TestAmountInWords(TransactionCase):
    """The total of an agreement in words: the currency's unit in the singular or
    the plural, in the customer's language."""

    def test_pesos(self):
        clp = self.env.ref("base.CLP")
        cases = {
            270: ("doscientos setenta pesos", "two hundred seventy pesos"),
            1: ("un peso", "one peso"),
            21: ("veintiún pesos", "twenty-one pesos"),
            1_000_000: ("un millón de pesos", "one million pesos"),
            1_190_000: (
                "un millón ciento noventa mil pesos",
                "one million one hundred ninety thousand pesos",
            ),
        }
        for amount, (spanish, english) in cases.items():
            self.assertEqual(amount_in_words(amount, clp, "es_CL"), spanish)
            self.assertEqual(amount_in_words(amount, clp, "es_ES"), spanish)
            self.assertEqual(amount_in_words(amount, clp, "en_US"), english)

    def test_cents(self):
        usd = self.env.ref("base.USD")
        self.assertEqual(
            amount_in_words(1.5, usd, "en_US"), "one dollar and fifty cents"
        )
        self.assertEqual(
            amount_in_words(270.01, usd, "es_CL"),
            "doscientos setenta dólares con un centavo",
        )
