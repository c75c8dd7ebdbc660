from datetime import timedelta

from dateutil.relativedelta import relativedelta
from lxml import etree

from odoo import Command, fields
from odoo.tests import Form, HttpCase, tagged
from odoo.tools.safe_eval import safe_eval

from .common import CollectionsCommon

BUCKETS = ("0_not_due", "1_30", "31_60", "61_90", "91_plus")


class AgingCommon(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.today = fields.Date.context_today(cls.env.user)
        cls.Report = cls.env["collection.aging.report"]

    @classmethod
    def _days(cls, days):
        return cls.today + timedelta(days=days)

    def _aging(self, as_of=None, partners=None, env=None):
        """``{bucket: amount}`` of the aged balance as of ``as_of``."""
        report = (env or self.env)["collection.aging.report"]
        if as_of:
            report = report.with_context(
                collection_aging_date=fields.Date.to_string(as_of)
            )
        domain = [("partner_id", "in", partners.ids)] if partners else []
        return {
            bucket: amount
            for bucket, amount in report._read_group(
                domain, ["bucket"], ["amount_residual:sum"]
            )
        }


@tagged("post_install", "-at_install")
class TestAgingReport(AgingCommon):
    """The aged balance: open receivable items, each aged on its own due date,
    with what was left of them at the date asked for."""

    def test_each_installment_ages_on_its_own_due_date(self):
        terms = self.env["account.payment.term"].create(
            {
                "name": "30/60",
                "line_ids": [
                    Command.create(
                        {"value": "percent", "value_amount": 50, "nb_days": 30}
                    ),
                    Command.create(
                        {"value": "percent", "value_amount": 50, "nb_days": 60}
                    ),
                ],
            }
        )
        customer = self._cp_customer("Cliente Cuotas")
        invoice = self._cp_invoice(customer, 1000, self._days(-75), post=False)
        invoice.invoice_payment_term_id = terms
        invoice.action_post()
        self.assertEqual(len(invoice.line_ids.filtered("date_maturity")), 2)
        # Due 45 and 15 days ago: one half in each bucket.
        self.assertEqual(self._aging(partners=customer), {"31_60": 500, "1_30": 500})
        rows = self.Report.search([("partner_id", "=", customer.id)])
        self.assertEqual(rows.move_id, invoice)
        self.assertEqual(sorted(rows.mapped("days_overdue")), [15, 45])
        # 40 days ago the first half was 5 days overdue, the second not due.
        self.assertEqual(
            self._aging(self._days(-40), customer), {"1_30": 500, "0_not_due": 500}
        )

    def test_partial_payment_leaves_the_rest(self):
        customer = self._cp_customer("Cliente Parcial")
        invoice = self._cp_invoice(customer, 1000, self._days(-60), self._days(-28))
        self._cp_pay(invoice, amount=400, payment_date=self._days(-10))
        self.assertEqual(self._aging(partners=customer), {"1_30": 600})
        row = self.Report.search([("partner_id", "=", customer.id)])
        self.assertEqual(row.amount_residual, invoice.amount_residual)
        self.assertEqual((row.amount_1_30, row.amount_overdue), (600, 600))

    def test_credit_note_and_unreconciled_payment_offset_the_debt(self):
        customer = self._cp_customer("Cliente Nota")
        self._cp_invoice(customer, 1000, self._days(-40), self._days(-35))
        self._cp_invoice(customer, 300, self._days(-10), move_type="out_refund")
        payment = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": customer.id,
                "amount": 200,
                "date": self._days(-5),
                "journal_id": self.company_data["default_journal_bank"].id,
            }
        )
        payment.action_post()
        self.assertEqual(self._aging(partners=customer), {"31_60": 1000, "1_30": -500})
        [(total,)] = self.Report._read_group(
            [("partner_id", "=", customer.id)], [], ["amount_residual:sum"]
        )
        self.assertEqual(total, 500, "what the customer owes")

    def test_as_of_a_date_before_the_payment(self):
        customer = self._cp_customer("Cliente Pasado")
        invoice = self._cp_invoice(customer, 1000, self._days(-90), self._days(-60))
        self._cp_pay(invoice, payment_date=self._days(-20))
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(self._aging(partners=customer), {})
        # 30 days ago it was still owed, 30 days overdue; not yet 20 days ago.
        self.assertEqual(self._aging(self._days(-30), customer), {"1_30": 1000})
        self.assertEqual(self._aging(self._days(-20), customer), {})
        # Before the invoice there was nothing.
        self.assertEqual(self._aging(self._days(-91), customer), {})

    def test_companies_are_kept_apart(self):
        other = self.setup_other_company(name="Otra Empresa de Cobranza")["company"]
        customer = self._cp_customer("Cliente Dos Empresas")
        self._cp_invoice(customer, 1000, self._days(-40), self._days(-10))
        self._cp_invoice(customer, 700, self._days(-40), self._days(-10), company=other)
        self.env.user.company_ids |= other
        both = self.env(
            context=dict(
                self.env.context, allowed_company_ids=[self.company.id, other.id]
            )
        )
        self.assertEqual(self._aging(partners=customer, env=both), {"1_30": 1700})
        one = self.env(context=dict(self.env.context, allowed_company_ids=other.ids))
        self.assertEqual(self._aging(partners=customer, env=one), {"1_30": 700})
        # The collector only belongs to the first company.
        collector = self.env(user=self.collector)
        self.assertEqual(self._aging(partners=customer, env=collector), {"1_30": 1000})
        self.assertEqual(
            collector["collection.aging.report"].search([]).company_id, self.company
        )

    def test_totals_are_the_open_receivable_items(self):
        terms = self.pay_terms_b  # 30% now, 70% at the end of next month
        rows = [(1000, -200, -170), (2500, -90, -60), (400, -20, 10), (800, -5, 25)]
        for index, (amount, invoiced, due) in enumerate(rows):
            customer = self._cp_customer(f"Cliente Total {index}")
            invoice = self._cp_invoice(
                customer, amount, self._days(invoiced), self._days(due)
            )
            if index == 1:
                self._cp_pay(invoice, amount=1000, payment_date=self._days(-30))
        mixed = self._cp_invoice(
            self._cp_customer("Cliente Plazos"), 3000, self._days(-45), post=False
        )
        mixed.invoice_payment_term_id = terms
        mixed.action_post()
        lines = self.env["account.move.line"].search(
            [
                ("company_id", "=", self.company.id),
                ("account_id.account_type", "=", "asset_receivable"),
                ("parent_state", "=", "posted"),
                ("reconciled", "=", False),
                ("amount_residual", "!=", 0),
            ]
        )
        expected = dict.fromkeys(BUCKETS, 0.0)
        for line in lines:
            days = (self.today - (line.date_maturity or line.date)).days
            bucket = (
                "0_not_due"
                if days <= 0
                else "1_30"
                if days <= 30
                else "31_60"
                if days <= 60
                else "61_90"
                if days <= 90
                else "91_plus"
            )
            expected[bucket] += line.amount_residual
        aging = self._aging()
        self.assertEqual(
            {bucket: aging.get(bucket, 0.0) for bucket in BUCKETS}, expected
        )
        self.assertEqual(sum(aging.values()), sum(lines.mapped("amount_residual")))
        self.assertEqual(set(self.Report.search([]).move_line_id.ids), set(lines.ids))
        # Every line sums up to its own amount: the bucket columns add up.
        [(total, *columns)] = self.Report._read_group(
            [],
            [],
            [
                "amount_residual:sum",
                "amount_not_due:sum",
                "amount_1_30:sum",
                "amount_31_60:sum",
                "amount_61_90:sum",
                "amount_91:sum",
            ],
        )
        self.assertAlmostEqual(total, sum(columns))

    def test_as_of_wizard_opens_the_balance_of_that_date(self):
        customer = self._cp_customer("Cliente Asistente")
        invoice = self._cp_invoice(customer, 1000, self._days(-90), self._days(-60))
        self._cp_pay(invoice, payment_date=self._days(-20))
        wizard = Form(self.env["collection.aging.wizard"].with_user(self.collector))
        self.assertEqual(wizard.date, self.today)
        wizard.date = self._days(-30)
        action = wizard.save().action_open()
        self.assertEqual(action["res_model"], "collection.aging.report")
        self.assertIn(fields.Date.to_string(self._days(-30)), str(action["context"]))
        report = self.env["collection.aging.report"].with_context(**action["context"])
        rows = report.search([("partner_id", "=", customer.id)])
        self.assertEqual(rows.mapped("amount_1_30"), [1000])
        # A row opens its invoice, though it is no longer open today.
        opened = rows.action_open_document()
        self.assertEqual(
            (opened["res_model"], opened["res_id"]), (invoice._name, invoice.id)
        )

    def test_queries_do_not_grow_with_the_customers(self):
        def read(count):
            customers = self.env["res.partner"]
            for index in range(count):
                customer = self._cp_customer(f"Cliente Consultas {count} {index}")
                self._cp_invoice(customer, 100, self._days(-40), self._days(-10))
                customers |= customer
            self.env["collection.case"]._sync_cases(self.company)
            self.env.invalidate_all()
            overview = self.env["collection.overview"].with_user(self.collector)
            overview = overview.create({})
            self.env.invalidate_all()
            return overview

        def figures(overview):
            self.assertTrue(overview.open_cases)
            self.assertTrue(overview.ar_total)
            report = self.Report.with_user(self.collector)
            groups = report._read_group([], ["partner_id", "bucket"], ["__count"])
            self.assertTrue(all(partner.name for partner, _b, _c in groups))
            return len(groups)

        counts = []
        for count in (1, 6):
            overview = read(count)
            figures(overview)  # caches of the registry (rules, access) filled
            overview.invalidate_recordset()
            self.env.invalidate_all()
            # 13: the month's targets are one more read, whatever the number
            # of customers.
            with self.assertQueryCount(13):
                counts.append(figures(overview))
        self.assertEqual(counts[1] - counts[0], 6, "six more customers")


@tagged("post_install", "-at_install")
class TestOverview(AgingCommon):
    """The overview, as the web client opens it: a new record whose figures are
    those of the data."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls.env["res.partner"]
        for name, amount, invoiced, due in (
            ("Cliente Uno", 1000, -40, -10),
            ("Cliente Dos", 2000, -75, -45),
            ("Cliente Tres", 4000, -130, -100),
            ("Cliente Cuatro", 500, -5, 20),
        ):
            customer = cls._cp_customer(name)
            cls._cp_invoice(customer, amount, cls._days(invoiced), cls._days(due))
            cls.customers |= customer
        cls.customers[0].with_company(cls.company).collection_user_id = cls.collector
        cls.env["collection.case"]._sync_cases(cls.company)
        cls.cases = cls.env["collection.case"].search(
            [("company_id", "=", cls.company.id), ("state", "=", "open")]
        )
        cls.escalated = cls.env["collection.stage"]._for_role("escalated", cls.company)
        cls.cases.filtered(
            lambda case: case.partner_id == cls.customers[1]
        ).stage_id = cls.escalated

    def test_opens_with_the_figures_of_the_data(self):
        Case = self.env["collection.case"]
        open_domain = [("company_id", "=", self.company.id), ("state", "=", "open")]
        form = Form(self.env["collection.overview"].with_user(self.collector))
        self.assertEqual(form.open_cases, 3)
        self.assertEqual(form.open_cases, Case.search_count(open_domain))
        self.assertEqual(form.my_cases, 1)
        self.assertEqual(form.escalated_cases, 1)
        self.assertEqual(
            form.no_action_cases,
            Case.search_count([*open_domain, ("next_action_date", "=", False)]),
        )
        self.assertEqual(form.amount_due, sum(self.cases.mapped("amount_due")))
        self.assertEqual(form.amount_overdue, 7000)
        aging = self._aging()
        self.assertEqual(
            (
                form.ar_current,
                form.aged_1_30,
                form.aged_31_60,
                form.aged_61_90,
                form.aged_91,
            ),
            (500, 1000, 2000, 0, 4000),
        )
        self.assertEqual(form.ar_total, sum(aging.values()))
        start = self.today.replace(day=1) - relativedelta(months=2)
        [(dso, cei)] = self.env["collection.kpi.report"]._read_group(
            [("company_id", "=", self.company.id), ("date", ">=", start)],
            [],
            ["dso:sum", "cei:sum"],
        )
        self.assertTrue(dso)
        self.assertAlmostEqual(form.dso, dso, 1)
        self.assertAlmostEqual(form.cei, cei or 0.0, 1)
        self.assertTrue(form.period)
        # Saved (as a button does), it is read again with its title.
        overview = form.save()
        overview.invalidate_recordset()
        self.assertEqual(overview.display_name, "Overview")
        self.assertEqual(overview.open_cases, 3)

    def test_drill_downs_show_what_is_counted(self):
        overview = self.env["collection.overview"].with_user(self.collector).create({})
        for method, figure in (
            ("action_open_board", "open_cases"),
            ("action_open_my_cases", "my_cases"),
            ("action_open_escalated", "escalated_cases"),
            ("action_open_no_action", "no_action_cases"),
        ):
            with self.subTest(method=method):
                action = getattr(overview, method)()
                self.assertEqual(action["res_model"], "collection.case")
                self.assertEqual(self._count(action, self.collector), overview[figure])
        action = overview.action_open_aging()
        self.assertEqual(action["res_model"], "collection.aging.report")
        report = self.env["collection.aging.report"].with_context(**action["context"])
        self.assertEqual(
            sum(report.search([]).mapped("amount_residual")), overview.ar_total
        )

    def _count(self, action, user):
        """The records the action shows: its domain and its default filters."""
        context = action["context"]
        if isinstance(context, str):
            context = safe_eval(context, {"uid": user.id})
        search = etree.fromstring(
            self.env.ref("collections_proactive.collection_case_view_search").arch
        )
        domain = list(action.get("domain") or [])
        for key in context:
            if key.startswith("search_default_"):
                [node] = search.xpath(f"//filter[@name='{key[15:]}']")
                domain += safe_eval(node.get("domain"), {"uid": user.id})
        return self.env["collection.case"].with_user(user).search_count(domain)


@tagged("post_install", "-at_install")
class TestOverviewTour(AgingCommon, HttpCase):
    """The landing page in a browser: the figures shown are the data's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, amount, invoiced, due in (
            ("Cliente Navegador Uno", 1000, -40, -10),
            ("Cliente Navegador Dos", 2000, -75, -45),
            ("Cliente Navegador Tres", 4000, -130, -100),
        ):
            customer = cls._cp_customer(name)
            cls._cp_invoice(customer, amount, cls._days(invoiced), cls._days(due))
            if amount == 1000:
                customer.with_company(cls.company).collection_user_id = cls.collector
        cls.env["collection.case"]._sync_cases(cls.company)

    def test_landing_page_shows_the_figures(self):
        self.start_tour(
            "/odoo", "collections_proactive_overview_tour", login="cp_collector"
        )
