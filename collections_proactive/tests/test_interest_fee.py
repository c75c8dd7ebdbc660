from datetime import timedelta

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .test_interest import D0, InterestCommon


class FeeCommon(InterestCommon):
    """The interest company of ``InterestCommon`` (3% a month from the due
    date) also charges a collection fee of 1%."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.collection_fee_percent = 1.0


@tagged("post_install", "-at_install")
class TestCollectionFeeAccrual(FeeCommon):
    """The fee is charged once per amount due that goes late, on what was
    still unpaid past the grace days; it does not grow with the days."""

    def test_once_on_what_was_unpaid_when_late(self):
        invoice = self._cp_invoice(self.customer, 1000, D0 - timedelta(days=30), D0)
        self._cp_pay(invoice, amount=400, payment_date=D0)
        term = self._term(invoice)
        self._accrue(D0)
        self.assertFalse(term.collection_fee_accrued, "not late on its due date")
        self._accrue(D0 + timedelta(days=1))
        self.assertAlmostEqual(term.collection_fee_base, 600.0, "paid on time: out")
        self.assertAlmostEqual(term.collection_fee_accrued, 6.0)
        self._accrue(D0 + timedelta(days=40))
        self.assertAlmostEqual(term.collection_fee_accrued, 6.0, "it does not grow")
        self.assertAlmostEqual(term.collection_interest_accrued, 24.0)
        # Paid in full late: the fee stays owed.
        self._cp_pay(invoice, payment_date=D0 + timedelta(days=45))
        self._accrue(D0 + timedelta(days=50))
        self.assertAlmostEqual(term.collection_fee_accrued, 6.0)
        self.assertAlmostEqual(term.collection_fee_pending, 6.0)

    def test_paid_on_time_or_within_the_grace_days_owes_none(self):
        self.company.collection_interest_grace_days = 5
        on_time = self._cp_invoice(self.customer, 1000, D0, D0)
        in_grace = self._cp_invoice(self.customer, 2000, D0, D0)
        late = self._cp_invoice(self.customer, 3000, D0, D0)
        refund = self._cp_invoice(
            self.customer, 500, D0 + timedelta(days=20), move_type="out_refund"
        )
        (self._term(late) | self._term(refund)).reconcile()
        self._cp_pay(on_time, payment_date=D0)
        self._accrue(D0 + timedelta(days=3))
        self._cp_pay(in_grace, payment_date=D0 + timedelta(days=4))
        self._accrue(D0 + timedelta(days=10))
        self.assertFalse(self._term(on_time).collection_fee_accrued)
        self.assertFalse(self._term(in_grace).collection_fee_accrued)
        self.assertAlmostEqual(
            self._term(late).collection_fee_accrued,
            25.0,
            "a credit note offsets from the start: 1% of 2,500",
        )
        self.assertFalse(self._term(refund).collection_fee_accrued)

    def test_no_fee_on_an_interest_invoice_nor_at_zero(self):
        invoice = self._cp_invoice(self.customer, 1000, D0, D0)
        charged = self._cp_invoice(self.customer, 50, D0, D0)
        charged.collection_interest_invoice = True
        self._accrue(D0 + timedelta(days=10))
        self.assertAlmostEqual(self._term(invoice).collection_fee_accrued, 10.0)
        self.assertFalse(
            self._term(charged).collection_fee_accrued, "no fee on late interest"
        )
        self.company.collection_fee_percent = 0.0
        self._accrue(D0 + timedelta(days=11))
        self.assertFalse(self._term(invoice).collection_fee_accrued)
        self.assertFalse(self._term(invoice).collection_fee_base)

    def _save_settings(self, **values):
        # As the web client saves them (see test_first_use); the company has
        # taxes on cash basis, which the settings page would not let go.
        self.company.tax_exigibility = True
        with Form(self.env["res.config.settings"].with_company(self.company)) as form:
            for name, value in values.items():
                setattr(form, name, value)
            return form.collection_fee_percent

    def test_chilean_preset_and_settings(self):
        self.company.collection_fee_percent = 0.0
        shown = self._save_settings(collection_interest_preset="chile")
        self.assertEqual(shown, 1.0, "the preset fills it on the page")
        self.assertEqual(self.company.collection_fee_percent, 1.0)
        self._save_settings(
            collection_interest_preset="custom", collection_fee_percent=2.5
        )
        self.assertEqual(self.company.collection_fee_percent, 2.5, "it sticks")
        for bad in (-1.0, 100.5):
            with self.assertRaises(ValidationError), self.cr.savepoint():
                self.company.collection_fee_percent = bad
                self.company.flush_recordset()

    def test_owed_without_a_published_rate(self):
        """The Chilean preset with no rate entered yet: no interest, the fee
        all the same (it does not depend on a rate)."""
        self.company.collection_interest_preset = "chile"
        self.env["collection.interest.rate"].search([]).unlink()
        invoice = self._cp_invoice(self.customer, 1000, D0, D0)
        self._accrue(D0 + timedelta(days=10))
        term = self._term(invoice)
        self.assertFalse(term.collection_interest_accrued)
        self.assertAlmostEqual(term.collection_fee_accrued, 10.0)


@tagged("post_install", "-at_install")
class TestCollectionFeeInvoicing(FeeCommon):
    """The fee is invoiced with the interest, once; a plan waives it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.invoice = cls._cp_invoice(cls.customer, 1000, D0 - timedelta(days=30), D0)
        cls.env["collection.case"]._sync_cases(cls.company)
        cls.case = cls.env["collection.case"].search(
            [("partner_id", "=", cls.customer.id)]
        )

    def _wizard(self):
        return (
            self.env["collection.interest.wizard"]
            .with_user(self.collector)
            .with_context(active_model="collection.case", active_ids=self.case.ids)
            .create({})
        )

    def test_invoiced_once_beside_the_interest(self):
        with freeze_time(D0 + timedelta(days=10)):
            wizard = self._wizard()
            self.case.invalidate_recordset()
            self.assertAlmostEqual(self.case.fee_pending, 10.0)
            self.assertEqual(
                sorted(wizard.line_ids.mapped("charge_type")), ["fee", "interest"]
            )
            self.assertAlmostEqual(wizard.amount_total, 20.0)
            move = self.env["account.move"].browse(wizard.action_invoice()["res_id"])
        labels = move.invoice_line_ids.mapped("name")
        self.assertEqual(len(labels), 2)
        fee_label = next(label for label in labels if "Collection fee" in label)
        self.assertIn("1%", fee_label)
        self.assertIn(self.invoice.name, fee_label)
        self.assertAlmostEqual(move.amount_total, 20.0)
        charges = move.collection_interest_charge_ids
        self.assertEqual(sorted(charges.mapped("charge_type")), ["fee", "interest"])
        term = self._term(self.invoice)
        self.assertAlmostEqual(term.collection_fee_charged, 10.0)
        self.assertFalse(term.collection_fee_pending)
        csv = self.env["ir.attachment"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", move.id)]
        )
        self.assertIn(b"Collection fee", csv.raw)
        with freeze_time(D0 + timedelta(days=20)):
            wizard = self._wizard()
            self.assertEqual(
                wizard.line_ids.mapped("charge_type"),
                ["interest"],
                "the fee was invoiced: only the new interest is left",
            )
            self.assertAlmostEqual(wizard.amount_total, 10.0)
        # Cancelling the interest invoice gives the fee back to invoice.
        move.button_cancel()
        self.assertAlmostEqual(term.collection_fee_pending, 10.0)

    def test_plan_waives_the_fee(self):
        plan = self._waiving_plan(self.invoice, D0 + timedelta(days=10))
        charges = self.env["collection.interest.charge"].search(
            [("plan_id", "=", plan.id)]
        )
        self.assertEqual(
            sorted(charges.mapped(lambda c: (c.charge_type, c.kind, c.amount))),
            [("fee", "waived", 10.0), ("interest", "waived", 10.0)],
        )
        self.assertAlmostEqual(plan.interest_waived, 20.0)
        self.assertFalse(self._term(self.invoice).collection_fee_pending)
        self.env.flush_all()
        totals = self.env["collection.kpi.report"]._read_group(
            [("company_id", "=", self.company.id)],
            [],
            ["fee_accrued:sum", "fee_invoiced:sum", "fee_waived:sum"],
        )[0]
        self.assertEqual(totals, (10.0, 0.0, 10.0))


@tagged("post_install", "-at_install")
class TestCollectionFeeShown(FeeCommon):
    """The customer is told of the fee before the due date and after it: on
    the invoice, in the reminders and on the statement."""

    def test_invoice_reminder_and_statement(self):
        invoice = self._cp_invoice(self.customer, 1000, D0 - timedelta(days=20), D0)
        with freeze_time(D0 - timedelta(days=3)):
            invoice.invalidate_recordset()
            self.assertIn("collection fee of", invoice.collection_interest_text)
            template, reminder = self._reminder(
                self.customer,
                invoice,
                "collections_proactive.mail_template_reminder_notice",
            )
            body = template._render_field("body_html", reminder.ids)[reminder.id]
            self.assertIn("to avoid a collection fee of", body)
        self._accrue(D0 + timedelta(days=10))
        with freeze_time(D0 + timedelta(days=10)):
            self.env.invalidate_all()
            self.assertAlmostEqual(invoice.collection_fee_pending, 10.0)
            template, reminder = self._reminder(
                self.customer,
                invoice,
                "collections_proactive.mail_template_reminder_overdue",
                index=1,
            )
            body = template._render_field("body_html", reminder.ids)[reminder.id]
            self.assertIn("Collection fee for paying late", body)
            html = (
                self.env["ir.actions.report"]
                ._render_qweb_html(
                    "collections_proactive.report_customer_statement",
                    self.customer.ids,
                    {"date_from": "2025-12-01", "date_to": "2026-01-20"},
                )[0]
                .decode()
            )
        self.assertIn("Interest and fees", html)
        self.assertIn("Collection fees for paying late, not yet invoiced", html)
