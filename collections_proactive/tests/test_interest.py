import re
from datetime import date, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CollectionsCommon, PortalCommon

D0 = date(2026, 1, 10)


class InterestCommon(CollectionsCommon):
    """A company with late interest at a fixed 3% a month (0.1% a day), from
    the due date, no grace, and customers' invoices due on D0."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.company.write(
            {
                "collection_interest_enabled": True,
                "collection_interest_rate_source": "fixed",
                "collection_interest_rate": 3.0,
                "collection_interest_period": "month",
                "collection_interest_start": "due",
                "collection_interest_grace_days": 0,
                "collection_interest_min_amount": 0.0,
                "collection_interest_account_id": cls.company_data[
                    "default_account_revenue"
                ].id,
            }
        )
        cls.Line = cls.env["account.move.line"]
        cls.customer = cls._cp_customer("Cliente Interés")

    @classmethod
    def _term(cls, invoice):
        return invoice.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )

    def _accrue(self, on):
        return self.Line._collection_accrue_interest(self.company, today=on)

    def _waiving_plan(self, invoice, on):
        """A plan of ``invoice`` that waives its interest, accepted ``on``."""
        with freeze_time(on):
            plan = self.env["collection.payment.plan"].create(
                {
                    "partner_id": invoice.partner_id.id,
                    "invoice_ids": [Command.set(invoice.ids)],
                    "installment_count": 3,
                    "frequency": "monthly",
                    "first_date": on + timedelta(days=7),
                    "waive_interest": True,
                }
            )
            plan.action_propose()
            plan.action_record_acceptance("María Pérez", note="Por teléfono")
        return plan

    def _reminder(self, partner, invoice, template_xmlid, index=0):
        step = self.env["collection.strategy.step"].search(
            [("company_id", "=", self.company.id)], limit=2
        )[index]
        term = self._term(invoice)
        reminder = (
            self.env["collection.reminder"]
            .sudo()
            .create(
                {
                    "partner_id": partner.id,
                    "company_id": self.company.id,
                    "step_id": step.id,
                    "channel": "email",
                    "planned_date": D0,
                    "line_ids": [
                        Command.create(
                            {
                                "move_id": invoice.id,
                                "move_line_id": term.id,
                                "step_id": step.id,
                                "channel": "email",
                            }
                        )
                    ],
                }
            )
        )
        template = self.env.ref(template_xmlid)
        # The body as the module ships it (the test database may hold an older
        # copy: the templates are kept on update), and its Spanish as i18n/es.po
        # carries it once merged: the same with the interest sentence called.
        self.env["res.lang"]._activate_lang("es_ES")
        template.reset_template()
        spanish = template.with_context(lang="es_ES")
        if "interest_line_mail" not in (spanish.body_html or ""):
            spanish.body_html = re.sub(
                r"(</tr>)(\s*</t>\s*</table>)",
                r'\1<t t-call="collections_proactive.interest_line_mail"/>\2',
                str(spanish.body_html),
                count=1,
            )
        return template, reminder


@tagged("post_install", "-at_install")
class TestInterestAccrual(InterestCommon):
    """The daily accrual: simple interest per receivable line, set-based and
    idempotent."""

    def test_simple_interest_and_idempotent_rerun(self):
        invoice = self._cp_invoice(self.customer, 1000, D0 - timedelta(days=30), D0)
        term = self._term(invoice)
        self._accrue(D0)
        self.assertEqual(term.collection_interest_accrued, 0, "not late on its day")
        written = self._accrue(D0 + timedelta(days=10))
        self.assertGreaterEqual(written, 1)
        self.assertAlmostEqual(term.collection_interest_accrued, 10.0)
        self.assertEqual(term.collection_interest_days, 10)
        self.assertEqual(term.collection_interest_date, D0 + timedelta(days=10))
        self.assertEqual(
            self._accrue(D0 + timedelta(days=10)), 0, "a second run writes nothing"
        )
        self.assertAlmostEqual(term.collection_interest_accrued, 10.0)
        # The cron does the same for every company with interest.
        with freeze_time(D0 + timedelta(days=20)):
            self.Line._cron_interest_accrual()
        self.assertAlmostEqual(term.collection_interest_accrued, 20.0)

    def test_set_based_and_per_company(self):
        """The accrual's queries do not grow with the lines; another company's
        lines, rates and charges stay its own."""
        due = D0 - timedelta(days=5)
        self._cp_invoice(self.customer, 100, due, due)
        self.env.flush_all()
        before = self.cr.sql_log_count
        self._accrue(D0)
        one = self.cr.sql_log_count - before
        for amount in range(200, 1200, 100):
            self._cp_invoice(self.customer, amount, due, due)
        self.env.flush_all()
        before = self.cr.sql_log_count
        self._accrue(D0 + timedelta(days=1))
        self.assertEqual(self.cr.sql_log_count - before, one)
        other = self.setup_other_company(name="Otra Empresa Interés")["company"]
        foreign = self._cp_invoice(self.customer, 1000, due, due, company=other)
        self._accrue(D0 + timedelta(days=5))
        self.assertFalse(
            self._term(foreign).collection_interest_accrued,
            "the other company has no late interest",
        )
        rate = self.env["collection.interest.rate"].create(
            {"company_id": other.id, "date_from": D0, "rate": 10.0}
        )
        self.assertNotIn(
            rate,
            self.env["collection.interest.rate"].with_user(self.collector).search([]),
            "a collector of the first company does not see it",
        )

    def test_year_rate_and_day_count(self):
        self.company.write(
            {
                "collection_interest_rate": 36.5,
                "collection_interest_period": "year",
                "collection_interest_basis": "365",
            }
        )
        invoice = self._cp_invoice(self.customer, 1000, D0, D0)
        self._accrue(D0 + timedelta(days=10))
        self.assertAlmostEqual(self._term(invoice).collection_interest_accrued, 10.0)

    def test_grace_days(self):
        invoice = self._cp_invoice(self.customer, 1000, D0, D0)
        term = self._term(invoice)
        self.company.collection_interest_grace_days = 5
        self._accrue(D0 + timedelta(days=5))
        self.assertEqual(term.collection_interest_accrued, 0, "within the grace")
        self._accrue(D0 + timedelta(days=10))
        self.assertAlmostEqual(
            term.collection_interest_accrued, 10.0, "from the due date, once late"
        )
        self.company.collection_interest_start = "grace"
        self._accrue(D0 + timedelta(days=10))
        self.assertAlmostEqual(
            term.collection_interest_accrued, 5.0, "only the days after the grace"
        )

    def test_partial_payment(self):
        invoice = self._cp_invoice(self.customer, 1000, D0, D0)
        self._cp_pay(invoice, amount=400, payment_date=D0 + timedelta(days=5))
        self._accrue(D0 + timedelta(days=10))
        # 600 for 10 days and 400 for the 5 days before it was paid.
        self.assertAlmostEqual(self._term(invoice).collection_interest_accrued, 8.0)

    def test_paid_in_full_counts_up_to_the_payment(self):
        invoice = self._cp_invoice(self.customer, 1000, D0, D0)
        term = self._term(invoice)
        self._accrue(D0 + timedelta(days=10))
        self.assertAlmostEqual(term.collection_interest_accrued, 10.0)
        self._cp_pay(invoice, payment_date=D0 + timedelta(days=12))
        self.assertTrue(term.reconciled)
        self._accrue(D0 + timedelta(days=15))
        self.assertAlmostEqual(term.collection_interest_accrued, 12.0)
        self.assertEqual(term.collection_interest_days, 12)
        self._accrue(D0 + timedelta(days=30))
        self.assertAlmostEqual(
            term.collection_interest_accrued, 12.0, "paid: it stops growing"
        )

    def test_credit_note_offsets_from_the_start(self):
        invoice = self._cp_invoice(self.customer, 1000, D0, D0)
        refund = self._cp_invoice(
            self.customer, 400, D0 + timedelta(days=5), move_type="out_refund"
        )
        (self._term(invoice) | self._term(refund)).reconcile()
        self._accrue(D0 + timedelta(days=10))
        self.assertAlmostEqual(
            self._term(invoice).collection_interest_accrued,
            6.0,
            "the credited amount was never owed",
        )
        self.assertFalse(self._term(refund).collection_interest_accrued)

    def test_published_rates_by_day(self):
        self.company.write(
            {
                "collection_interest_preset": "chile",
                "account_fiscal_country_id": self.env.ref("base.cl").id,
            }
        )
        self.assertEqual(self.company.collection_interest_rate_source, "table")
        self.assertEqual(self.company.collection_interest_basis, "360")
        Rate = self.env["collection.interest.rate"]
        with freeze_time(D0 + timedelta(days=10)):
            self.assertIn("no published rate", self.company.collection_interest_warning)
            self.assertFalse(self._accrue(D0 + timedelta(days=10)), "no rate, nothing")
        Rate.create(
            [
                {
                    "company_id": self.company.id,
                    "date_from": D0 - timedelta(days=30),
                    "rate": 12.0,
                },
                {
                    "company_id": self.company.id,
                    "date_from": D0 + timedelta(days=5),
                    "rate": 24.0,
                },
            ]
        )
        invoice = self._cp_invoice(self.customer, 3000, D0, D0)
        self._accrue(D0 + timedelta(days=10))
        # 4 days at 12%/360 and 6 days at 24%/360 on 3000.
        self.assertAlmostEqual(self._term(invoice).collection_interest_accrued, 16.0)
        with freeze_time(D0 + timedelta(days=10)):
            self.company.invalidate_recordset(["collection_interest_warning"])
            self.assertFalse(self.company.collection_interest_warning)
        with freeze_time(D0 + timedelta(days=70)):
            self.company.invalidate_recordset(["collection_interest_warning"])
            self.assertIn(
                "last published rate", self.company.collection_interest_warning
            )
        with self.assertRaises(ValidationError), self.cr.savepoint():
            Rate.create({"company_id": self.company.id, "date_from": D0, "rate": -1})
        with self.assertRaises(ValidationError), self.cr.savepoint():
            Rate.create(
                {
                    "company_id": self.company.id,
                    "date_from": D0 + timedelta(days=5),
                    "rate": 20.0,
                }
            )

    def test_settings_refuse_bad_values(self):
        for values in (
            {"collection_interest_rate": -1},
            {"collection_interest_rate": 5000},
            {"collection_interest_grace_days": -3},
            {"collection_interest_min_amount": -10},
            {"collection_interest_rate": 0},
        ):
            with (
                self.subTest(values=values),
                self.assertRaises(ValidationError),
                self.cr.savepoint(),
            ):
                self.company.write(values)
                self.company.flush_recordset()
        settings = self.env["res.config.settings"].new(
            {"collection_interest_preset": "chile"}
        )
        settings._onchange_collection_interest_preset()
        self.assertEqual(settings.collection_interest_rate_source, "table")
        self.assertEqual(settings.collection_interest_period, "year")

    def test_invoice_shows_interest(self):
        invoice = self._cp_invoice(self.customer, 1000, D0 - timedelta(days=20), D0)
        with freeze_time(D0 - timedelta(days=2)):
            invoice.invalidate_recordset()
            self.assertIn("to avoid", invoice.collection_interest_text)
            self.assertIn("30", invoice.collection_interest_text, "a month of 3%")
        self._accrue(D0 + timedelta(days=10))
        with freeze_time(D0 + timedelta(days=10)):
            invoice.invalidate_recordset()
            self._term(invoice).invalidate_recordset()
            self.assertAlmostEqual(invoice.collection_interest_pending, 10.0)
            self.assertIn("a day", invoice.collection_interest_text)
        self.company.collection_interest_enabled = False
        invoice.invalidate_recordset()
        self.assertFalse(invoice.collection_interest_text)


@tagged("post_install", "-at_install")
class TestInterestInvoicing(InterestCommon):
    """Invoicing a customer's interest: once per accrued amount, refused as a
    whole on bad input, collectors only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.invoice = cls._cp_invoice(cls.customer, 1000, D0 - timedelta(days=30), D0)
        cls.env["collection.case"]._sync_cases(cls.company)
        cls.case = cls.env["collection.case"].search(
            [("partner_id", "=", cls.customer.id)]
        )

    def _wizard(self, user=None):
        env = self.env(user=user) if user else self.env
        return (
            env["collection.interest.wizard"]
            .with_context(active_model="collection.case", active_ids=self.case.ids)
            .create({})
        )

    def _interest_moves(self):
        return self.env["account.move"].search(
            [
                ("partner_id", "=", self.customer.id),
                ("collection_interest_invoice", "=", True),
            ]
        )

    def test_invoice_once_then_only_the_new_accrual(self):
        with freeze_time(D0 + timedelta(days=10)):
            action = self.case.action_invoice_interest()
            self.assertEqual(action["res_model"], "collection.interest.wizard")
            wizard = self._wizard(self.collector)
            self.assertEqual(len(wizard.line_ids), 1)
            self.assertAlmostEqual(wizard.amount_total, 10.0)
            self.assertEqual(wizard.line_ids.days, 10)
            result = wizard.action_invoice()
            move = self.env["account.move"].browse(result["res_id"])
            self.assertTrue(move.collection_interest_invoice)
            self.assertEqual(move.state, "draft")
            self.assertAlmostEqual(move.amount_total, 10.0)
            self.assertIn(self.invoice.name, move.invoice_line_ids.name)
            self.assertTrue(
                self.env["ir.attachment"].search_count(
                    [
                        ("res_model", "=", "account.move"),
                        ("res_id", "=", move.id),
                        ("mimetype", "=", "text/csv"),
                    ]
                ),
                "the computation is attached",
            )
            self.assertAlmostEqual(
                self._term(self.invoice).collection_interest_charged, 10
            )
            self.case.invalidate_recordset()
            self.assertAlmostEqual(self.case.interest_invoiced, 10.0)
            self.assertFalse(self.case.interest_pending)
            # A second click the same day: nothing new to invoice.
            with self.assertRaises(UserError):
                self._wizard(self.collector).action_invoice()
            self.assertEqual(self._interest_moves(), move)
        with freeze_time(D0 + timedelta(days=25)):
            wizard = self._wizard(self.collector)
            self.assertAlmostEqual(wizard.amount_total, 15.0, "only the new part")
            second = self.env["account.move"].browse(wizard.action_invoice()["res_id"])
            self.assertAlmostEqual(second.amount_total, 15.0)
            # The interest invoice accrues no interest of its own.
            second.action_post()
            self._accrue(D0 + timedelta(days=80))
            self.assertFalse(self._term(second).collection_interest_accrued)
            # Cancelled, its interest can be invoiced again.
            second.button_cancel()
            self.assertAlmostEqual(
                self._term(self.invoice).collection_interest_charged, 10
            )

    def test_posted_when_set_and_the_minimum(self):
        self.company.collection_interest_min_amount = 50
        with freeze_time(D0 + timedelta(days=10)):
            with self.assertRaisesRegex(UserError, "minimum"):
                self._wizard(self.collector).action_invoice()
            self.assertFalse(self._interest_moves(), "nothing half-written")
            self.assertFalse(self.env["collection.interest.charge"].search_count([]))
        self.company.write(
            {"collection_interest_min_amount": 0, "collection_interest_post": True}
        )
        with freeze_time(D0 + timedelta(days=10)):
            result = self._wizard(self.collector).action_invoice()
        self.assertEqual(
            self.env["account.move"].browse(result["res_id"]).state, "posted"
        )

    def test_bad_input(self):
        with freeze_time(D0 + timedelta(days=10)):
            self.company.collection_interest_account_id = False
            with self.assertRaisesRegex(UserError, "income account"):
                self._wizard(self.collector).action_invoice()
            self.company.collection_interest_enabled = False
            with self.assertRaisesRegex(UserError, "not enabled"):
                self._wizard(self.collector)
            self.assertFalse(self._interest_moves())
            with self.assertRaises(UserError):
                self.env["collection.interest.wizard"].create(
                    {"partner_id": self.customer.id}
                ).action_invoice()
            portal = self.env["res.users"].create(
                {
                    "name": "Portal Interés",
                    "login": "cp_interest_portal",
                    "groups_id": [Command.set(self.env.ref("base.group_portal").ids)],
                }
            )
            with self.assertRaises(AccessError):
                self._wizard(portal)
            self.assertFalse(self._interest_moves())

    def test_plan_waives_on_acceptance(self):
        plan = self._waiving_plan(self.invoice, D0 + timedelta(days=10))
        self.assertAlmostEqual(plan.interest_waived, 10.0)
        charge = self.env["collection.interest.charge"].search(
            [("plan_id", "=", plan.id)]
        )
        self.assertEqual(charge.kind, "waived")
        self._accrue(D0 + timedelta(days=20))
        term = self._term(self.invoice)
        self.assertAlmostEqual(
            term.collection_interest_accrued, 10.0, "no accrual under the plan"
        )
        self.assertFalse(term.collection_interest_pending)
        self.case.invalidate_recordset()
        self.assertAlmostEqual(self.case.interest_waived, 10.0)


ES_WORDS = [
    ("Pay by", "Pague antes del"),
    ("to avoid", "para evitar"),
    ("of late interest a month.", "de intereses por mora al mes."),
    ("Late interest so far:", "Intereses por mora a la fecha:"),
    ("; it grows by", "; aumentan"),
    ("a day until paid.", "por día hasta el pago."),
]


@tagged("post_install", "-at_install")
class TestInterestShown(InterestCommon):
    """Where the customer and the collectors see the interest: the statement,
    the reminder emails (in the customer's language) and the KPIs."""

    def test_statement_shows_pending_interest(self):
        invoice = self._cp_invoice(self.customer, 1000, D0 - timedelta(days=30), D0)
        Report = self.env["report.collections_proactive.report_customer_statement"]
        with freeze_time(D0 + timedelta(days=10)):
            values = Report._get_report_values(
                self.customer.ids,
                {"date_from": "2025-12-01", "date_to": str(D0 + timedelta(days=10))},
            )["statements"][self.customer.id]
            self.assertTrue(values["interest_enabled"])
            self.assertAlmostEqual(values["interest"], 10.0, "brought up to date")
            html = (
                self.env["ir.actions.report"]
                ._render_qweb_html(
                    "collections_proactive.report_customer_statement",
                    self.customer.ids,
                    {
                        "date_from": "2025-12-01",
                        "date_to": str(D0 + timedelta(days=10)),
                    },
                )[0]
                .decode()
            )
        self.assertIn("Late interest", html)
        self.assertIn(invoice.name, html)
        self.company.collection_interest_enabled = False
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "collections_proactive.report_customer_statement", self.customer.ids
            )[0]
            .decode()
        )
        self.assertNotIn("Late interest", html)

    def test_reminders_say_it_in_the_customers_language(self):
        self.env["res.lang"]._activate_lang("es_ES")
        view = self.env.ref("collections_proactive.interest_line_mail")
        terms = view._fields["arch_db"].get_trans_terms(view.arch_db)
        spanish = {}
        for term in terms:
            translated = term
            for english, words in ES_WORDS:
                translated = translated.replace(english, words)
            spanish[term] = translated
        view.update_field_translations("arch_db", {"es_ES": spanish})
        english = self._cp_customer("Customer EN", lang="en_US")
        spaniard = self._cp_customer("Cliente ES", lang="es_ES")
        soon = {
            partner: self._cp_invoice(partner, 1000, D0 - timedelta(days=20), D0)
            for partner in (english, spaniard)
        }
        with freeze_time(D0 - timedelta(days=3)):
            for partner, invoice in soon.items():
                template, reminder = self._reminder(
                    partner,
                    invoice,
                    "collections_proactive.mail_template_reminder_notice",
                )
                body = template._render_field(
                    "body_html", reminder.ids, compute_lang=True
                )[reminder.id]
                if partner == english:
                    self.assertIn("to avoid", body)
                    self.assertIn("of late interest a month", body)
                else:
                    self.assertIn("para evitar", body)
                    self.assertNotIn("to avoid", body)
        self._accrue(D0 + timedelta(days=10))
        with freeze_time(D0 + timedelta(days=10)):
            template, reminder = self._reminder(
                english,
                soon[english],
                "collections_proactive.mail_template_reminder_overdue",
                index=1,
            )
            body = template._render_field("body_html", reminder.ids)[reminder.id]
            self.assertIn("Late interest so far", body)
            self.company.collection_interest_enabled = False
            reminder.invalidate_recordset()
            body = template._render_field("body_html", reminder.ids)[reminder.id]
            self.assertNotIn("Late interest", body, "only when interest is on")

    def test_kpis_show_accrued_invoiced_waived(self):
        invoice = self._cp_invoice(self.customer, 1000, D0 - timedelta(days=30), D0)
        self._accrue(D0 + timedelta(days=10))
        self.env["collection.interest.charge"].sudo().create(
            {
                "move_line_id": self._term(invoice).id,
                "partner_id": self.customer.id,
                "company_id": self.company.id,
                "kind": "waived",
                "date": D0 + timedelta(days=10),
                "amount": 4.0,
            }
        )
        self.env.flush_all()
        totals = self.env["collection.kpi.report"]._read_group(
            [("company_id", "=", self.company.id)],
            [],
            ["interest_accrued:sum", "interest_invoiced:sum", "interest_waived:sum"],
        )[0]
        self.assertEqual(totals, (10.0, 0.0, 4.0))
        overview = self.env["collection.overview"].create(
            {"date": D0 + timedelta(days=10)}
        )
        self.assertEqual(
            (
                overview.interest_accrued,
                overview.interest_invoiced,
                overview.interest_waived,
            ),
            (10.0, 0.0, 4.0),
        )


@tagged("post_install", "-at_install")
class TestInterestPortal(PortalCommon):
    """The customer sees its own interest on the portal, never another's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write(
            {
                "collection_interest_enabled": True,
                "collection_interest_rate": 3.0,
                "collection_interest_period": "month",
                "collection_interest_account_id": cls.company_data[
                    "default_account_revenue"
                ].id,
            }
        )
        cls.env["account.move.line"]._collection_accrue_interest(cls.company)

    def test_invoices_show_interest(self):
        self.authenticate("cp_portal", "cp_portal")
        page = self.url_open("/my/invoices")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Late Interest", page.text)
        # 900 overdue for 20 days at 3% a month.
        self.assertIn("18.00", page.text)
        self.assertNotIn(self.other_invoice.name, page.text)
        page = self.url_open(self.overdue[0].get_portal_url())
        self.assertEqual(page.status_code, 200)
        self.assertIn("Late interest accrued", page.text)
        self.assertIn("a day until paid", page.text)
        soon = self.url_open(self.soon.get_portal_url())
        self.assertIn("to avoid", soon.text)
        with mute_logger("odoo.http"):
            other = self.url_open(f"/my/invoices/{self.other_invoice.id}")
        self.assertNotIn("Late interest accrued", other.text)

    def test_invoice_page_shows_the_fee(self):
        self.company.collection_fee_percent = 1.0
        self.env["account.move.line"]._collection_accrue_interest(self.company)
        self.authenticate("cp_portal", "cp_portal")
        page = self.url_open(self.overdue[0].get_portal_url())
        self.assertEqual(page.status_code, 200)
        self.assertIn("Collection fee for paying late", page.text)
        # 1% of the 900 overdue.
        self.assertIn("9.00", page.text)
        listing = self.url_open("/my/invoices")
        self.assertIn("o_collections_fee", listing.text)
        soon = self.url_open(self.soon.get_portal_url())
        self.assertIn("to avoid a collection fee of", soon.text)
        with mute_logger("odoo.http"):
            other = self.url_open(f"/my/invoices/{self.other_invoice.id}")
        self.assertNotIn("Collection fee for paying late", other.text)

    def test_plan_offer_says_the_interest_is_waived(self):
        plan = self._cp_portal_plan(self.customer, self.overdue)
        plan.waive_interest = True
        self.authenticate("cp_portal", "cp_portal")
        page = self.url_open(f"/my/payment_plans/{plan.id}")
        self.assertEqual(page.status_code, 200)
        self.assertIn("waived when you accept this plan", page.text)
