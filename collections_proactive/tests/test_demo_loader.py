from datetime import timedelta
from statistics import mean

from stdnum.cl import rut as cl_rut

from odoo import fields
from odoo.tests import TransactionCase, tagged

from odoo.addons.collections_proactive.models.collection_demo_loader import (
    PAYER_PROFILES,
    RECENT_MONTHS,
)


@tagged("post_install", "-at_install")
class TestDemoLoader(TransactionCase):
    """The demo data tells the story it promises: five payer profiles, told apart
    by their real payments, plus invoices due soon and overdue."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["collection.demo.loader"]._load_demo(
            customers_per_profile=2, translations=False
        )
        cls.company = cls.env.ref("collections_proactive.demo_company")
        cls.today = fields.Date.context_today(cls.env["res.partner"])

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
        self.assertTrue(cl_rut.is_valid(self.company.vat))
        self.assertTrue(self.env["res.lang"]._lang_get("es_CL").active)

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
