from datetime import date, timedelta

from odoo import Command
from odoo.tests import HttpCase, tagged

WAIT_JS = """
const selector = %r;
let tries = 0;
const timer = setInterval(() => {
    if (document.querySelector(selector)) {
        clearInterval(timer);
        console.log("test successful");
    } else if (++tries > 300) {
        clearInterval(timer);
        console.error("never showed: " + selector);
    }
}, 50);
"""


@tagged("post_install", "-at_install")
class TestUiSmoke(HttpCase):
    """Every screen the addon adds opens in a real browser without a JS error,
    on the demo data, as the administrator (a collections manager)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["collection.demo.loader"]._load_demo(
            customers_per_profile=1, translations=False
        )
        cls.company = cls.env.ref("collections_proactive.demo_company")
        cls.env["collection.risk.scoring"]._compute_risk(companies=cls.company)
        cls.env["collection.reminder.planner"]._plan_reminders(companies=cls.company)
        cls.customer = cls.env.ref("collections_proactive.demo_customer_chronic_01")
        cls.invoice = cls.env["account.move"].search(
            [("partner_id", "=", cls.customer.id), ("payment_state", "=", "not_paid")],
            limit=1,
        )

    def _overdue_customer(self, name, amount, collector=None):
        """A customer of the demo company with an invoice 10 days overdue, and
        its case."""
        customer = self.env["res.partner"].create(
            {"name": name, "is_company": True, "customer_rank": 1}
        )
        if collector:
            customer.with_company(self.company).collection_user_id = collector
        invoice = (
            self.env["account.move"]
            .with_company(self.company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": customer.id,
                    "invoice_date": date.today() - timedelta(days=40),
                    "invoice_date_due": date.today() - timedelta(days=10),
                    "invoice_line_ids": [
                        Command.create({"name": "Goods", "price_unit": amount})
                    ],
                }
            )
        )
        invoice.action_post()
        self.env["collection.case"]._sync_cases(self.company, partners=customer)
        return customer, invoice

    def test_board_drag_to_escalated_schedules_an_activity(self):
        admin = self.env.ref("base.user_admin")
        admin.company_id = self.company
        customer, _invoice = self._overdue_customer("Cliente Tablero", 500)
        case = self.env["collection.case"].search([("partner_id", "=", customer.id)])
        self.assertEqual(case.stage_id.role, "overdue")
        # The month's target of a collector, shown above the stages.
        self.env["collection.target"].create(
            {
                "user_id": admin.id,
                "company_id": self.company.id,
                "month": date.today().replace(day=1),
                "amount_target": 1000000,
            }
        )
        self.start_tour(
            "/odoo", "collections_proactive_board_tour", login="admin", timeout=120
        )
        case.invalidate_recordset()
        self.assertEqual(case.stage_id.role, "escalated")
        self.assertEqual(len(case.activity_ids), 1)
        # For the company's escalation manager, in the manager's language.
        manager = self.company.collection_escalation_user_id
        self.assertTrue(manager)
        self.assertEqual(case.activity_ids.user_id, manager)
        self.assertEqual(
            case.activity_ids.summary,
            case.with_context(lang=manager.lang).env._(
                "Escalated: %(customer)s", customer=customer.name
            ),
        )

    def test_collector_morning(self):
        """Open Collections, see the figures, open the board and a case, log a
        promise, see its trace on the case and on the invoice."""
        collector = self.env.ref("collections_proactive.demo_user_collector")
        customer, invoice = self._overdue_customer(
            "Cliente Mañana", 700, collector=collector
        )
        # The first page in the collector's language (Spanish) takes seconds to
        # build: loaded once before the browser comes, whose spare connection
        # would otherwise sit idle long enough for the test server to drop it.
        self.authenticate(collector.login, collector.login)
        self.assertEqual(self.url_open("/odoo").status_code, 200)
        self.start_tour(
            "/odoo",
            "collections_proactive_collector_morning_tour",
            login=collector.login,
            timeout=180,
        )
        promise = self.env["collection.promise"].search(
            [("partner_id", "=", customer.id)]
        )
        self.assertEqual(len(promise), 1)
        self.assertEqual(promise.invoice_ids, invoice)
        self.assertEqual(promise.create_uid, collector)
        # The trace on the invoice too, with the note.
        self.assertTrue(
            invoice.message_ids.filtered(
                lambda message: "Paga el viernes por transferencia" in message.body
            )
        )

    def test_case_form(self):
        case = self.env["collection.case"].search(
            [("company_id", "=", self.company.id)], limit=1
        )
        self._open(f"/odoo/collection.case/{case.id}", ".o_form_view .o_notebook")

    def _open(self, path, selector):
        self.browser_js(path, WAIT_JS % selector, login="admin")

    def test_customer_form_risk_and_follow_up(self):
        self._open(f"/odoo/res.partner/{self.customer.id}", ".o_form_view .o_notebook")

    def test_invoice_form_prediction(self):
        self._open(f"/odoo/account.move/{self.invoice.id}", ".o_form_view")

    def test_follow_up_screens(self):
        for xmlid, selector in (
            ("res_partner_action_customers", ".o_list_view"),
            ("account_move_action_open_invoices", ".o_list_view"),
            ("account_move_action_forecast", ".o_graph_view"),
            ("collection_reminder_action", ".o_list_view"),
            ("collection_strategy_action", ".o_list_view"),
            ("collection_holiday_action", ".o_list_view"),
            ("collection_case_action", ".o_kanban_view .o_kanban_record"),
            ("collection_overview_action", ".o_form_view .o_stat_info"),
            ("collection_stage_action", ".o_list_view"),
            ("collection_promise_action", ".o_list_view"),
            ("collection_payment_plan_action", ".o_list_view"),
            ("collection_plan_policy_action", ".o_list_view .o_data_row"),
            ("collection_assignment_rule_action", ".o_list_view"),
            ("collection_kpi_report_action", ".o_pivot_view"),
            ("collection_aging_wizard_action", ".modal .o_form_view"),
        ):
            with self.subTest(xmlid=xmlid):
                self._open(f"/odoo/action-collections_proactive.{xmlid}", selector)

    def test_strategy_form_and_settings(self):
        strategy = self.env["collection.strategy"].search(
            [("company_id", "=", self.company.id)], limit=1
        )
        self._open(
            f"/odoo/collection.strategy/{strategy.id}", ".o_form_view .o_list_renderer"
        )
        # The Collections > Settings menu lands on the Collections block.
        menu = self.env.ref("collections_proactive.res_config_settings_menu")
        self.assertEqual(menu.action.url, "/odoo/settings#collection_risk_window")
        self._open(
            menu.action.url,
            ".settings_tab .tab.selected[data-key=account]",
        )
