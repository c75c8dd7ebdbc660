from datetime import date
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import format_amount, format_date, mute_logger

from .common import CollectionsCommon, PortalCommon


@tagged("post_install", "-at_install")
class TestStatement(CollectionsCommon):
    """The customer statement: opening balance, the period's documents with
    the running balance, the open items and their aging at the period's end."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_user"
        )
        cls.customer = cls._cp_customer("Cliente Estado")
        cls.first = cls._cp_invoice(
            cls.customer, 1000, date(2026, 1, 5), date(2026, 1, 10)
        )
        cls.refund = cls._cp_invoice(
            cls.customer, 200, date(2026, 2, 1), move_type="out_refund"
        )
        cls._cp_pay(cls.first, amount=300, payment_date=date(2026, 2, 15))
        cls.second = cls._cp_invoice(
            cls.customer, 500, date(2026, 3, 1), date(2026, 3, 31)
        )
        # After the period: not on the statement, nor in its open items.
        cls._cp_pay(cls.second, payment_date=date(2026, 3, 20))
        cls.Report = cls.env["report.collections_proactive.report_customer_statement"]

    def _values(self, **data):
        return self.Report._get_report_values(
            self.customer.ids,
            {"date_from": "2026-02-01", "date_to": "2026-03-15", **data},
        )["statements"][self.customer.id]

    def test_balances_and_open_items(self):
        st = self._values()
        self.assertEqual(st["opening"], 1000)
        self.assertEqual(
            [(m["debit"], m["credit"], m["balance"]) for m in st["moves"]],
            [(0, 200, 800), (0, 300, 500), (500, 0, 1000)],
        )
        self.assertEqual(st["closing"], 1000)
        self.assertEqual(
            sorted((item["amount"], item["days_overdue"]) for item in st["open_items"]),
            [(-200, 42), (500, 0), (700, 64)],
        )
        self.assertEqual(st["aging"]["61_90"], 700)
        self.assertEqual(st["aging"]["current"], 500)
        self.assertEqual(st["total_due"], 1000, "what is open adds up to the balance")
        self.assertEqual(st["overdue"], 700)

    def test_documents_named_in_the_customers_language(self):
        self.env["res.lang"]._activate_lang("es_CL")
        self.env["ir.module.module"]._load_module_terms(
            ["collections_proactive"], ["es_CL"]
        )
        self.customer.lang = "es_CL"
        kinds = [move["kind"] for move in self._values()["moves"]]
        self.assertEqual(kinds, ["Nota de crédito", "Pago", "Factura"])
        self.customer.lang = "en_US"
        kinds = [move["kind"] for move in self._values()["moves"]]
        self.assertEqual(kinds, ["Credit Note", "Payment", "Invoice"])

    def test_lines_written_in_the_customers_language(self):
        """The dates and amounts of the lines are written by the report (not
        by a widget per cell), as the widgets write them, in the customer's
        language."""
        self.env["res.lang"]._activate_lang("es_CL")
        currency = self.env.company.currency_id
        for lang in ("es_CL", "en_US"):
            self.customer.lang = lang
            # Formats read from a cold cache query the database: not between
            # a query of the report and the reading of its rows.
            self.env.registry.clear_cache()
            st = self._values()
            refund, payment, invoice = st["moves"]
            self.assertEqual(
                invoice["text"]["debit"], format_amount(self.env, 500, currency, lang)
            )
            self.assertEqual(invoice["text"]["credit"], "", "nothing for no credit")
            self.assertEqual(
                payment["text"]["balance"], format_amount(self.env, 500, currency, lang)
            )
            self.assertEqual(
                refund["text"]["date"],
                format_date(self.env, date(2026, 2, 1), lang_code=lang),
            )
            self.assertEqual(refund["text"]["due"], "", "a credit note falls not due")
            item = next(i for i in st["open_items"] if i["amount"] < 0)
            self.assertEqual(
                item["text"]["amount"], format_amount(self.env, -200, currency, lang)
            )
        self.customer.lang = "es_CL"
        spanish = self._values()["moves"][2]["text"]
        self.assertEqual(spanish["date"], "01/03/2026")
        self.assertIn("1.000", spanish["balance"], "Chile groups thousands by dots")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "collections_proactive.report_customer_statement",
                self.customer.ids,
                {"date_from": "2026-02-01", "date_to": "2026-03-15"},
            )[0]
            .decode()
        )
        self.assertIn(f"<td>{spanish['date']}</td>", html)
        self.assertIn(spanish["debit"], html)

    def test_pdf_waits_for_no_script(self):
        """wkhtmltopdf waits ``report.print_delay`` after loading a report, for
        scripts: not for the statement, which has none; other reports wait."""
        Report = self.env["ir.actions.report"]
        commands = []

        class Process:
            returncode = 0

            def __init__(self, command, **kwargs):
                commands.append(command)

            def communicate(self):
                return "", ""

        popen = "odoo.addons.base.models.ir_actions_report.subprocess.Popen"
        with patch(popen, Process):
            Report._run_wkhtmltopdf(
                ["<html/>"],
                report_ref="collections_proactive.action_report_customer_statement",
            )
            Report._run_wkhtmltopdf(
                ["<html/>"],
                report_ref="collections_proactive.collection_payment_plan_report",
            )
        delays = [c[c.index("--javascript-delay") + 1] for c in commands]
        self.assertEqual(delays[0], "0")
        self.assertEqual(
            delays[1],
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("report.print_delay", "1000"),
        )

    def test_pdf_pages_in_the_lean_bundle(self):
        """wkhtmltopdf lays the statement's pages out with its lean style
        bundle (the rules matched on each of thousands of cells), its header
        and footer with every report's; other reports keep theirs."""
        Report = self.env["ir.actions.report"]
        statement = Report._get_report(
            "collections_proactive.action_report_customer_statement"
        )
        html = Report._render_qweb_html(
            statement, self.customer.ids, {"date_from": "2026-02-01"}
        )[0]
        bodies, _ids, header, footer, _args = statement._prepare_html(
            html, report_model=statement.model
        )
        self.assertIn("collections_proactive.report_assets_statement", bodies[0])
        self.assertNotIn("web.report_assets_common", bodies[0])
        self.assertIn("web.report_assets_common", header)
        self.assertIn("web.report_assets_common", footer)
        self.assertIn("Opening balance", bodies[0])
        # The bundle compiles: a failed one is served as an error notice.
        bundle = self.env["ir.qweb"]._get_asset_bundle(
            "collections_proactive.report_assets_statement", js=False
        )
        css = bundle.css().raw.decode()
        self.assertNotIn("css_error_message", css)
        self.assertIn(".o_collections_statement_lines", css)
        plan = Report._get_report(
            "collections_proactive.collection_payment_plan_report"
        )
        self.assertEqual(plan._get_layout(), self.env.ref("web.minimal_layout"))

    def test_bad_period_and_access(self):
        with self.assertRaises(UserError):
            self._values(date_from="2026-04-01")
        with self.assertRaises(UserError):
            self._values(date_to="not a date")
        clerk = new_test_user(self.env, login="cp_clerk", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Report.with_user(clerk)._get_report_values(self.customer.ids, {})

    def test_print_and_send_from_the_customer(self):
        wizard = Form(
            self.env["collection.statement.wizard"].with_context(
                active_model="res.partner", active_id=self.customer.id
            )
        )
        wizard.date_from = date(2026, 2, 1)
        wizard.date_to = date(2026, 3, 15)
        wizard = wizard.save()
        # A company that chose its document layout prints at once.
        self.env.company.external_report_layout_id = self.env.ref(
            "web.external_layout_standard"
        )
        action = wizard.action_print()
        self.assertEqual(
            action["report_name"], "collections_proactive.report_customer_statement"
        )
        self.assertEqual(action["data"]["date_from"], "2026-02-01")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "collections_proactive.action_report_customer_statement",
                self.customer.ids,
                data=action["data"],
            )[0]
            .decode()
        )
        self.assertIn("Opening balance", html)
        self.assertIn(self.first.name, html)
        composer = wizard.action_send()
        self.assertEqual(composer["res_model"], "mail.compose.message")
        attachment = self.env["ir.attachment"].browse(
            composer["context"]["default_attachment_ids"][0][2]
        )
        self.assertEqual(attachment.mimetype, "application/pdf")


@tagged("post_install", "-at_install")
class TestStatementPortal(PortalCommon):
    def test_my_statement(self):
        self.authenticate("cp_portal", "cp_portal")
        page = self.url_open("/my/statement")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Download PDF", page.text)
        today = self.today.isoformat()
        pdf = self.url_open(f"/my/statement/pdf?date_from=2020-01-01&date_to={today}")
        self.assertEqual(pdf.status_code, 200)
        self.assertEqual(pdf.headers["Content-Type"], "application/pdf")
        # In tests Odoo renders the HTML the PDF is made of.
        self.assertIn(self.overdue[0].name, pdf.text)
        self.assertNotIn(self.other_invoice.name, pdf.text)
        bad = self.url_open("/my/statement/pdf?date_from=2026-05-01&date_to=2026-01-01")
        self.assertEqual(bad.status_code, 400)
        self.assertEqual(
            self.url_open("/my/statement/pdf?date_from=x").status_code, 400
        )

    def test_no_one_elses_statement(self):
        self.authenticate("cp_portal", "cp_portal")
        with mute_logger("odoo.http"):
            response = self.url_open(
                "/report/pdf/collections_proactive.report_customer_statement/"
                f"{self.other.id}"
            )
        self.assertNotEqual(response.status_code, 200)
        self.assertNotIn(self.other_invoice.name, response.text)
