from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import formatLang


class CollectionRiskBacktest(models.TransientModel):
    """The risk model of the current company: its back-test beside the two simple
    rules, a reliability chart, a refit on demand."""

    _name = "collection.risk.backtest"
    _description = "Collections Risk Model Back-test"

    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
    )
    state = fields.Selection(related="company_id.collection_risk_model_state")
    fitted_on = fields.Date(related="company_id.collection_risk_model_date")
    samples = fields.Integer(related="company_id.collection_risk_model_samples")
    auc = fields.Float(related="company_id.collection_risk_model_auc")
    accuracy = fields.Float(related="company_id.collection_risk_model_accuracy")
    brier = fields.Float(related="company_id.collection_risk_model_brier")
    full_requested = fields.Boolean(related="company_id.collection_risk_full_requested")
    comparison_html = fields.Html(
        string="Model and Simple Rules",
        compute="_compute_report_html",
        sanitize=False,
    )
    reliability_html = fields.Html(
        string="Reliability",
        compute="_compute_report_html",
        sanitize=False,
    )

    @api.depends_context("lang")
    @api.depends("company_id.collection_risk_model_params")
    def _compute_report_html(self):
        for wizard in self:
            report = (wizard.company_id.collection_risk_model_params or {}).get(
                "backtest"
            ) or {}
            wizard.comparison_html = wizard._comparison_table(report)
            wizard.reliability_html = wizard._reliability_chart(report)

    def _comparison_table(self, report):
        """The model and both rules side by side, one row per figure, each with
        what it means."""
        if not report.get("final"):
            return False
        model, rule_late = report["final"], report.get("rule_late", {})
        dates, rule_date = report.get("model", {}), report.get("rule_date", {})

        # In the reader's number format, as the fields above the table show theirs.
        def number(value, digits=2):
            return "" if value is None else formatLang(self.env, value, digits=digits)

        def percent(value):
            return "" if value is None else f"{round(100 * value)}%"

        def days(value):
            if value is None:
                return ""
            # Formatted apart: the translation extractor reads literal arguments.
            shown = formatLang(self.env, value, digits=1)
            return self.env._("%(days)s days", days=shown)

        rows = [
            (
                self.env._("Ranking (AUC)"),
                self.env._(
                    "How often a late invoice gets a higher risk than an on-time "
                    "one: 0.5 is chance, 1 is perfect."
                ),
                number(model.get("auc")),
                number(rule_late.get("auc")),
                "",
            ),
            (
                self.env._("Right calls"),
                self.env._(
                    "Share of invoices called right when 'late' means a risk of "
                    "50% or more."
                ),
                percent(model.get("accuracy")),
                percent(rule_late.get("accuracy")),
                "",
            ),
            (
                self.env._("Probability error (Brier)"),
                self.env._(
                    "Mean squared gap between the risk given and what happened: "
                    "lower is better."
                ),
                number(model.get("brier"), 3),
                number(rule_late.get("brier"), 3),
                "",
            ),
            (
                self.env._("Calibration error"),
                self.env._(
                    "Average gap between the risk announced and the share of "
                    "invoices that were late (10 bands): lower is better."
                ),
                percent(model.get("ece")),
                percent(rule_late.get("ece")),
                "",
            ),
            (
                self.env._("Payment date error"),
                self.env._(
                    "Mean distance between the expected and the actual payment date."
                ),
                days(dates.get("mae")),
                "",
                days(rule_date.get("mae")),
            ),
            (
                self.env._("Within 3 days"),
                self.env._(
                    "Share of invoices paid within 3 days of the expected date."
                ),
                percent(dates.get("within3")),
                "",
                percent(rule_date.get("within3")),
            ),
            (
                self.env._("Within 7 days"),
                self.env._(
                    "Share of invoices paid within 7 days of the expected date."
                ),
                percent(dates.get("within7")),
                "",
                percent(rule_date.get("within7")),
            ),
        ]
        head = Markup(
            "<table class='table table-sm o_collection_backtest'><thead><tr>"
            "<th>%s</th><th class='text-end'>%s</th><th class='text-end'>%s</th>"
            "<th class='text-end'>%s</th></tr></thead><tbody>"
        ) % (
            self.env._("On the latest 30% of the history"),
            self.env._("This model"),
            self.env._("Customer's past late rate"),
            self.env._("Median days-to-pay, last 10 invoices"),
        )
        body = Markup().join(
            Markup(
                "<tr><td><strong>%s</strong><br/><small class='text-muted'>%s"
                "</small></td><td class='text-end'>%s</td>"
                "<td class='text-end'>%s</td><td class='text-end'>%s</td></tr>"
            )
            % row
            for row in rows
        )
        notes = []
        weight = report.get("blend")
        if weight is not None and weight < 1:
            notes.append(
                self.env._(
                    "On this company's history the customer's past late rate "
                    "predicts well: the risk shown leans on it for "
                    "%(percent)s%% of its value.",
                    percent=round(100 * (1 - weight)),
                )
            )
        if report.get("date_rule"):
            notes.append(
                self.env._(
                    "Expected payment dates follow the customer's median "
                    "days-to-pay, which was closer on this company's history."
                )
            )
        if "interval" in dates:
            notes.append(
                self.env._(
                    "%(percent)s%% of the invoices were paid within the expected "
                    "range (meant for 8 in 10).",
                    percent=round(100 * dates["interval"]),
                )
            )
        tail = Markup().join(Markup("<p>%s</p>") % note for note in notes)
        return head + body + Markup("</tbody></table>") + tail

    def _reliability_chart(self, report):
        """Per band of announced risk: how many invoices, the risk announced on
        average and the share that was late, as bars."""
        bins = report.get("reliability") or []
        if not bins:
            return False
        head = Markup(
            "<table class='table table-sm'><thead><tr><th>%s</th>"
            "<th class='text-end'>%s</th><th>%s</th></tr></thead><tbody>"
        ) % (
            self.env._("Risk announced"),
            self.env._("Invoices"),
            self.env._("Announced (grey) and late in fact (colour)"),
        )
        rows = Markup()
        for low, high, count, mean, observed in bins:
            rows += Markup(
                "<tr><td>%s</td><td class='text-end'>%s</td><td>"
                "<div class='bg-secondary' style='height:6px;width:%s%%'></div>"
                "<div class='bg-primary' style='height:6px;width:%s%%' "
                "title='%s'></div></td></tr>"
            ) % (
                f"{round(100 * low)}-{round(100 * high)}%",
                count,
                round(100 * mean),
                round(100 * observed),
                self.env._(
                    "announced %(announced)s%%, late %(late)s%%",
                    announced=round(100 * mean),
                    late=round(100 * observed),
                ),
            )
        return head + rows + Markup("</tbody></table>")

    def action_run_backtest(self):
        """Back-test and refit now, then rescore every customer of the company."""
        self.ensure_one()
        if self.company_id not in self.env.companies:
            raise AccessError(
                self.env._("You can only refit the risk model of your own companies.")
            )
        scoring = self.env["collection.risk.scoring"].sudo()
        scoring._risk_fit(self.company_id, scoring._risk_today(), force=True)
        self.company_id.sudo().collection_risk_full_requested = True
        self.env.ref("collections_proactive.ir_cron_compute_risk").sudo()._trigger()
        return self._reopen()

    @api.model
    def action_open(self):
        return self.create({})._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Risk Model"),
        }
