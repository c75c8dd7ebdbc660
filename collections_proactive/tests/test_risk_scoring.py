import json
from dataclasses import asdict
from datetime import date, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import format_date

from ..tools import risk_model as rm
from .common import CollectionsCommon
from .test_risk_model import as_of, synthetic_history

TODAY = date(2026, 6, 30)


def monthly(count, term=30, first=date(2025, 7, 5)):
    """``count`` monthly (invoice date, due date) pairs starting at ``first``."""
    return [
        (first + timedelta(days=30 * i), first + timedelta(days=30 * i + term))
        for i in range(count)
    ]


def paid(dates, delay, amount=1000.0):
    """History rows paid ``delay`` days after due; unpaid when that is after TODAY."""
    rows = []
    for invoice_date, due in dates:
        paid_on = due + timedelta(days=delay)
        rows.append((invoice_date, due, paid_on if paid_on <= TODAY else None, amount))
    return rows


@tagged("post_install", "-at_install")
@freeze_time(TODAY)
class TestRiskScoring(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scoring = cls.env["collection.risk.scoring"]
        cls.early = cls._cp_customer("Early Bird")
        cls.chronic = cls._cp_customer("Chronic Late")
        cls.drifting = cls._cp_customer("Drifting Away")
        cls.newbie = cls._cp_customer("Brand New")
        with freeze_time(TODAY):
            cls._cp_history(cls.early, paid(monthly(12), -6))
            cls.chronic_invoices = cls._cp_history(cls.chronic, paid(monthly(12), 60))
            cls._cp_history(
                cls.drifting,
                paid(monthly(8), -1) + paid(monthly(4, first=date(2026, 3, 3)), 30),
            )
            cls.newbie_invoice = cls._cp_history(
                cls.newbie, [(date(2026, 6, 20), date(2026, 7, 20), None, 500.0)]
            )
        cls.customers = cls.early | cls.chronic | cls.drifting | cls.newbie

    def _score(self):
        self.scoring._compute_risk(companies=self.company)
        return self.customers.with_company(self.company)

    def test_bands_on_thin_history_use_rules(self):
        customers = self._score()
        self.assertEqual(self.company.collection_risk_model_state, "thin")
        early, chronic, drifting, newbie = customers
        self.assertEqual(early.collection_risk_band, "low")
        self.assertIn(chronic.collection_risk_band, ("high", "critical"))
        self.assertGreater(
            chronic.collection_risk_score, drifting.collection_risk_score
        )
        self.assertGreater(drifting.collection_risk_score, early.collection_risk_score)
        self.assertEqual(newbie.collection_risk_confidence, "low")
        self.assertEqual(early.collection_risk_confidence, "medium")
        self.assertIn("No payment history yet", newbie.collection_risk_explanation)
        self.assertIn(
            "Recent invoices are paid late more often than before",
            drifting.collection_risk_explanation,
        )
        self.assertIn("days late on average", chronic.collection_risk_explanation)
        self.assertTrue(early.collection_risk_computed_at)

    def test_new_customer_gets_company_prior(self):
        newbie = self._score()[3]
        prior = rm.Prior(**self.company.collection_risk_model_params["prior"])
        expected = round(
            sum(
                rm.rule_points(
                    rm.CustomerStats(unpaid_at={3: 0, 10: 0}), prior
                ).values()
            )
        )
        self.assertEqual(newbie.collection_risk_score, expected)
        self.assertAlmostEqual(
            self.newbie_invoice.collection_late_probability, prior.late_share, places=3
        )

    def test_invoice_predictions(self):
        self._score()
        open_chronic = self.chronic_invoices.filtered(
            lambda inv: inv.payment_state == "not_paid"
        )
        overdue = open_chronic.filtered(lambda inv: inv.invoice_date_due < TODAY)
        self.assertTrue(overdue)
        for invoice in overdue:
            self.assertEqual(invoice.collection_late_probability, 1.0)
            self.assertGreater(invoice.collection_predicted_payment_date, TODAY)
            self.assertEqual(invoice.collection_expected_on_time_amount, 0.0)
            self.assertEqual(
                invoice.collection_risk_band,
                self.chronic.with_company(self.company).collection_risk_band,
            )
        invoice = self.newbie_invoice
        self.assertTrue(0 < invoice.collection_late_probability < 1)
        self.assertGreaterEqual(invoice.collection_predicted_payment_date, TODAY)
        self.assertAlmostEqual(
            invoice.collection_expected_on_time_amount,
            invoice.amount_residual * (1 - invoice.collection_late_probability),
            delta=0.01,
        )
        paid_invoice = self.chronic_invoices[0]
        self.assertEqual(paid_invoice.payment_state, "paid")
        self.assertFalse(paid_invoice.collection_predicted_payment_date)

    def test_explanation_adds_up_and_nothing_before_due_is_certain(self):
        # A chronic payer's next invoice, not yet due: likely late, not certain.
        upcoming = self._cp_invoice(
            self.chronic, 800, TODAY - timedelta(days=5), TODAY + timedelta(days=25)
        )
        customers = self._score()
        self.assertLess(upcoming.collection_late_probability, 1.0)
        self.assertGreaterEqual(upcoming.collection_late_probability, rm.P_FLOOR)
        for customer in customers:
            factors = json.loads(customer.collection_risk_factors)
            total = sum(f["points"] for f in factors)
            self.assertAlmostEqual(
                total, customer.collection_risk_score, delta=0.01, msg=customer.name
            )
            explanation = str(customer.collection_risk_explanation)
            self.assertIn(str(customer.collection_risk_score), explanation)

    def test_learnt_model_explanation_adds_up_from_its_base(self):
        """With a learnt model the points add up to the score from a stated
        base, however saturated the score (the report was 121 points for 84)."""
        model = rm.LogisticModel(
            coef=[
                2.5,
                1.0,
                0.6,
                1.0,
                1.5,
                0.4,
                0.2,
                0.8,
                0.5,
                1.2,
                1.0,
                -0.2,
                0.1,
                0.3,
                0.4,
                0.9,
                0.3,
            ],
            intercept=-0.8,
            means=[0.3] * len(rm.FEATURES),
            scales=[0.2] * len(rm.FEATURES),
        )
        self.assertEqual(len(model.coef), len(rm.FEATURES))
        prior = rm.Prior()
        # Calibrated and leaning a quarter on rule 1: the points still add up.
        predictor = rm.Predictor(
            {
                "mode": "model",
                "prior": prior.as_dict(),
                "model": model.to_dict(),
                "calibration": {"kind": "platt", "a": 0.8, "b": -0.1},
                "blend": 0.75,
            }
        )
        stats = rm.CustomerStats(
            n_settled=12,
            settled=12000,
            late=11000,
            days_late=600000,
            days_late_late=600000,
            recent_n=4,
            recent_settled=4000,
            recent_late=4000,
            decayed_late=0.9,
            decayed_weight=1.0,
            unpaid_at=dict.fromkeys(rm.CHECKPOINTS, 8000.0),
            open=5000,
            overdue=4000,
            oldest_overdue=80,
            n_invoices=14,
            amount_sum=14000,
            term_sum=420,
            first_date_days=365,
            broken_commitments=2,
        )
        stats.n_late = 11
        score, factors = self.scoring._risk_customer_score(stats, predictor)
        base = [f for f in factors if f["code"] == "base"]
        self.assertEqual(len(base), 1)
        self.assertEqual(sum(f["points"] for f in factors), score)
        self.assertLessEqual(score, 100)
        # The score is the probability the invoices get, weighted by severity.
        rates = rm.customer_rates(stats, prior)
        severity = 0.6 + 0.4 * rm.clip(rates["days_late"], 0, 60) / 60
        p = predictor.probability(stats, rm.features(stats, prior))
        self.assertEqual(score, round(100 * p * severity))
        codes = {f["code"] for f in factors}
        self.assertLessEqual(
            codes, set(rm.FACTOR_OF_FEATURE.values()) | {"base", "history"}
        )

    def test_sql_statistics_match_python_definition(self):
        window_start = TODAY - timedelta(days=365)
        sql = self.scoring._risk_fetch_stats(self.company, TODAY, self.customers.ids)[0]
        history = self.scoring._risk_training_rows(self.company, TODAY)
        for customer in self.customers:
            python = asdict(
                rm.stats_from_history(history[customer.id], TODAY, window_start)
            )
            for name, value in asdict(sql[customer.id]).items():
                if name in ("delay_q", "dtp_q"):
                    self.assertEqual(len(value), len(python[name]), name)
                    for got, want in zip(value, python[name], strict=True):
                        self.assertAlmostEqual(got, want, 6, f"{customer.name} {name}")
                elif isinstance(value, float):
                    self.assertAlmostEqual(
                        value, python[name], 6, f"{customer.name} {name}"
                    )
                else:
                    self.assertEqual(value, python[name], f"{customer.name} {name}")

    def test_paid_date_partial_payments_credit_notes_and_cut_off(self):
        partner = self._cp_customer("Pays In Parts")
        in_two = self._cp_invoice(partner, 1000, date(2026, 3, 1), date(2026, 3, 31))
        self._cp_pay(in_two, 400, date(2026, 3, 20))
        self._cp_pay(in_two, 600, date(2026, 4, 10))
        credited = self._cp_invoice(partner, 1000, date(2026, 4, 1), date(2026, 5, 1))
        refund = self._cp_invoice(
            partner, 300, date(2026, 5, 8), move_type="out_refund"
        )
        (refund.line_ids | credited.line_ids).filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        ).reconcile()
        self._cp_pay(credited, 700, date(2026, 4, 28))
        reversed_invoice = self._cp_invoice(
            partner, 500, date(2026, 4, 2), date(2026, 5, 2)
        )
        reversed_invoice._reverse_moves(cancel=True)
        partly = self._cp_invoice(partner, 1000, date(2026, 5, 1), date(2026, 5, 31))
        self._cp_pay(partly, 300, date(2026, 5, 15))
        after_cut_off = self._cp_invoice(
            partner, 800, date(2026, 5, 5), date(2026, 6, 4)
        )
        self._cp_pay(after_cut_off, 800, date(2026, 7, 15))

        self.env.flush_all()
        self.env.cr.execute(
            self.scoring._risk_invoice_rows_sql(
                self.company, TODAY, partner.ids, TODAY - timedelta(days=365)
            )
        )
        rows = {row[0]: row for row in self.env.cr.fetchall()}
        self.assertNotIn(reversed_invoice.id, rows, "a full reversal is no payment")
        self.assertEqual(rows[in_two.id][-1], date(2026, 4, 10))
        self.assertEqual(rows[credited.id][-1], date(2026, 5, 8))
        self.assertIsNone(rows[partly.id][-1])
        self.assertIsNone(rows[after_cut_off.id][-1], "paid after today: still open")

        stats = self.scoring._risk_fetch_stats(self.company, TODAY, partner.ids)[0][
            partner.id
        ]
        self.assertEqual(stats.n_settled, 4)  # in_two, credited, partly, after_cut_off
        self.assertEqual(stats.late, 3800.0)  # all four were paid or open after due
        self.assertEqual(stats.open, 1800.0)

    def test_multi_company_scores_are_independent(self):
        other = self.setup_other_company(name="Second Company")["company"]
        self._cp_history(self.early, paid(monthly(12), 70), company=other)
        self.scoring._compute_risk(companies=self.company | other)
        here = self.early.with_company(self.company)
        there = self.early.with_company(other)
        self.assertEqual(here.collection_risk_band, "low")
        self.assertIn(there.collection_risk_band, ("high", "critical"))
        self.assertGreater(there.collection_risk_score, here.collection_risk_score)
        self.assertNotIn(
            self.chronic.id,
            self.scoring._risk_fetch_stats(other, TODAY, self.customers.ids)[0],
        )

    def test_incremental_run_touches_only_changed_customers(self):
        self._score()
        seq = self.company.collection_risk_run_seq
        self.assertFalse(self.company.collection_risk_run_start)
        # Pretend the ledger was last changed long before that run.
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE account_move SET write_date = '2000-01-01' WHERE company_id = %s",
            [self.company.id],
        )
        open_invoice = self.chronic_invoices.filtered(
            lambda inv: inv.payment_state == "not_paid"
        )[0]
        self._cp_pay(open_invoice, payment_date=TODAY)
        result = self.scoring._cron_compute_risk()
        self.assertEqual(result, {"done": 1, "remaining": 0})
        self.assertEqual(self.company.collection_risk_run_seq, seq + 1)
        runs = {
            partner: partner.with_company(self.company).collection_risk_run_seq
            for partner in self.customers
        }
        self.assertEqual(runs[self.chronic], seq + 1)
        for partner in self.early | self.drifting | self.newbie:
            self.assertEqual(runs[partner], seq, partner.name)

        # A full recompute on demand scores everyone again.
        self.company.collection_risk_full_requested = True
        self.assertEqual(self.scoring._cron_compute_risk()["done"], 4)

    def test_cron_works_in_batches(self):
        first = self.scoring._cron_compute_risk(batch_size=3)
        self.assertEqual(first["done"], 3)
        self.assertGreaterEqual(first["remaining"], 1)
        self.assertTrue(self.company.collection_risk_run_start, "run still under way")
        while self.scoring._cron_compute_risk(batch_size=3)["remaining"]:
            pass
        self.assertFalse(self.company.collection_risk_run_start)
        for partner in self.customers.with_company(self.company):
            self.assertEqual(
                partner.collection_risk_run_seq, self.company.collection_risk_run_seq
            )

    def test_query_count_does_not_grow_with_customers(self):
        self.scoring._compute_risk(companies=self.company)  # fit the model once
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        self.scoring._risk_score_partners(self.company, self.chronic.ids, TODAY)
        self.env.flush_all()
        one_customer = self.env.cr.sql_log_count - before
        self.env.invalidate_all()
        with self.assertQueryCount(one_customer):
            self.scoring._risk_score_partners(self.company, self.customers.ids, TODAY)
            self.env.flush_all()

    def test_backtest_wizard_access(self):
        with self.assertRaises(AccessError):
            self.env["collection.risk.backtest"].with_user(self.collector).create({})
        wizard = (
            self.env["collection.risk.backtest"]
            .with_user(self.collections_manager)
            .action_open()
        )
        record = self.env["collection.risk.backtest"].browse(wizard["res_id"])
        record.with_user(self.collections_manager).action_run_backtest()
        self.assertEqual(record.state, "thin")
        self.assertEqual(record.fitted_on, TODAY)
        self.assertTrue(self.company.collection_risk_full_requested)

    def test_receivable_line_predictions_and_invoice_display(self):
        """Each due date of an invoice gets its own risk and expected date; the
        invoice shows those of its last due date, as an interval in words."""
        term = self.env["account.payment.term"].create(
            {
                "name": "Half at 30, half at 60",
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
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.chronic.id,
                "invoice_date": TODAY - timedelta(days=3),
                "invoice_payment_term_id": term.id,
                "invoice_line_ids": [
                    Command.create(
                        {"name": "Goods", "quantity": 1, "price_unit": 1000,
                         "tax_ids": [Command.clear()]}
                    )
                ],
            }
        )  # fmt: skip
        invoice.action_post()
        self._score()
        lines = invoice.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        ).sorted("date_maturity")
        self.assertEqual(len(lines), 2)
        for line in lines:
            self.assertTrue(rm.P_FLOOR <= line.collection_late_probability < 1)
            self.assertTrue(
                line.collection_predicted_date_low
                <= line.collection_predicted_payment_date
                <= line.collection_predicted_date_high
            )
            self.assertGreaterEqual(line.collection_predicted_date_low, TODAY)
            self.assertLess(line.collection_predicted_payment_date.weekday(), 5)
            self.assertTrue(line.collection_expected_text.startswith("expected "))
        self.assertLess(
            lines[0].collection_predicted_payment_date,
            lines[1].collection_predicted_payment_date,
        )
        last = lines[1]
        self.assertEqual(
            invoice.collection_late_probability, last.collection_late_probability
        )
        self.assertEqual(
            invoice.collection_predicted_payment_date,
            last.collection_predicted_payment_date,
        )
        self.assertEqual(
            invoice.collection_expected_text, last.collection_expected_text
        )
        high = invoice.collection_predicted_date_high
        text = invoice.collection_expected_text
        self.assertIn(str(high.day), text)
        self.assertTrue(
            format_date(self.env, high, date_format="MMM") in text
            or format_date(self.env, high, date_format="MMMM") in text,
            text,
        )
        # Paid lines are not predicted.
        paid_lines = (
            self.env["account.move"]
            .search([("partner_id", "=", self.early.id)])
            .line_ids.filtered(lambda line: line.display_type == "payment_term")
        )
        self.assertTrue(paid_lines)
        self.assertFalse(any(paid_lines.mapped("collection_predicted_payment_date")))

    def test_line_predictions_in_their_own_table(self):
        """The lines' predictions are rows of ``collection.line.prediction``, one
        per open receivable line: a second run rewrites them in place, a line's
        fields read and write its row, and ``account_move_line`` is not
        written."""
        self._score()
        predictions = self.env["collection.line.prediction"].sudo()
        open_lines = self.env["account.move.line"].search(
            [
                ("partner_id", "in", self.customers.ids),
                ("display_type", "=", "payment_term"),
                ("reconciled", "=", False),
                ("amount_residual", ">", 0),
                ("parent_state", "=", "posted"),
            ]
        )
        rows = predictions.search([("move_line_id", "in", open_lines.ids)])
        self.assertEqual(rows.move_line_id, open_lines)
        self.assertEqual(len(rows), len(open_lines))
        # A manager reads the rows of the companies selected, no others; a
        # collector reads them only through the lines.
        other = self.setup_other_company(name="Predictions Elsewhere")["company"]
        self.collections_manager.company_ids |= other
        as_manager = self.env["collection.line.prediction"].with_user(
            self.collections_manager
        )
        domain = [("move_line_id", "in", open_lines.ids)]
        self.assertEqual(as_manager.with_company(self.company).search(domain), rows)
        self.assertFalse(
            as_manager.with_context(allowed_company_ids=other.ids).search(domain)
        )
        with self.assertRaises(AccessError):
            self.env["collection.line.prediction"].with_user(self.collector).search(
                domain
            )
        as_collector = open_lines.with_user(self.collector)
        self.assertEqual(
            as_collector.mapped("collection_late_probability"),
            rows.sorted(lambda row: open_lines.ids.index(row.move_line_id.id)).mapped(
                "late_probability"
            ),
        )
        self.env.cr.execute(
            "SELECT MAX(write_date) FROM account_move_line WHERE id = ANY(%s)",
            [open_lines.ids],
        )
        written = self.env.cr.fetchone()[0]
        count = predictions.search_count([])
        self.company.collection_risk_full_requested = True
        self.scoring._compute_risk(companies=self.company)
        self.assertEqual(predictions.search_count([]), count)
        self.assertEqual(
            predictions.search([("move_line_id", "in", open_lines.ids)]), rows
        )
        self.env.cr.execute(
            "SELECT MAX(write_date) FROM account_move_line WHERE id = ANY(%s)",
            [open_lines.ids],
        )
        self.assertEqual(self.env.cr.fetchone()[0], written)
        line = open_lines[0]
        line.write(
            {
                "collection_late_probability": 0.42,
                "collection_predicted_payment_date": date(2026, 8, 3),
                "collection_predicted_date_low": date(2026, 7, 30),
                "collection_predicted_date_high": date(2026, 8, 10),
            }
        )
        line.invalidate_recordset()
        row = predictions.search([("move_line_id", "=", line.id)])
        self.assertEqual(len(row), 1)
        self.assertEqual(
            (row.late_probability, row.predicted_date, row.date_low, row.date_high),
            (0.42, date(2026, 8, 3), date(2026, 7, 30), date(2026, 8, 10)),
        )
        self.assertEqual(line.collection_late_probability, 0.42)
        self.assertIn("expected", line.collection_expected_text)
        # Paid since the run: its row waits for the next run, the line shows
        # nothing expected any more.
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=line.move_id.ids
        ).create({"payment_date": TODAY})._create_payments()
        self.assertTrue(line.reconciled)
        self.assertTrue(predictions.search([("move_line_id", "=", line.id)]))
        self.assertEqual(line.collection_late_probability, 0.0)
        self.assertFalse(line.collection_predicted_payment_date)
        self.assertFalse(line.collection_expected_text)

    def test_cash_forecast_spreads_each_line_over_its_weeks(self):
        """The weekly cash-in forecast spreads what is due on each open line over
        the weeks between its expected-from and expected-by dates, all of it."""
        self._score()
        forecast = self.env["collection.cash.forecast"].sudo()
        lines = self.env["account.move.line"].search(
            [
                ("partner_id", "in", self.customers.ids),
                ("display_type", "=", "payment_term"),
                ("reconciled", "=", False),
                ("amount_residual", ">", 0),
                ("parent_state", "=", "posted"),
            ]
        )
        self.assertTrue(lines)
        # A wide interval over several weeks: written as the scoring writes it.
        wide = lines[0]
        low = date(2026, 7, 6)  # a Monday
        self.env["account.move.line"]._collection_write_predictions(
            [(wide.id, 0.5, low + timedelta(days=10), low, low + timedelta(days=40))]
        )
        rows = forecast.search([("move_line_id", "in", lines.ids)])
        by_line = {}
        for row in rows:
            by_line.setdefault(row.move_line_id, forecast)
            by_line[row.move_line_id] |= row
        self.assertEqual(set(by_line), set(lines))
        for line, weeks in by_line.items():
            self.assertAlmostEqual(
                sum(weeks.mapped("amount")), line.amount_residual, 2, line.name
            )
            self.assertAlmostEqual(sum(weeks.mapped("probability")), 1.0, 6)
            first = line.collection_predicted_date_low or line.date_maturity
            last = line.collection_predicted_date_high or line.date_maturity
            for week in weeks:
                self.assertEqual(week.week.weekday(), 0)
                self.assertGreater(week.week + timedelta(days=7), first)
                self.assertLessEqual(week.week, last)
                self.assertGreaterEqual(week.amount, 0)
        weeks = by_line[wide].sorted("week")
        self.assertEqual(len(weeks), 6)  # 6 July to 15 August
        self.assertEqual(weeks[0].week, low)
        # A tenth at each end; half by the expected date (in the second week).
        self.assertAlmostEqual(
            sum(weeks[:2].mapped("probability")), 0.5 + 0.4 * 3 / 30, 6
        )
        self.assertGreater(weeks[0].probability, 0.1)
        self.assertGreater(weeks[-1].probability, 0.1)
        # A collector sees the rows of the companies selected, no others.
        other = self.setup_other_company(name="Forecast Elsewhere")["company"]
        self.collector.company_ids |= other
        as_collector = self.env["collection.cash.forecast"].with_user(self.collector)
        domain = [("move_line_id", "in", lines.ids)]
        self.assertEqual(
            len(as_collector.with_company(self.company).search(domain)), len(rows)
        )
        self.assertFalse(
            as_collector.with_context(allowed_company_ids=other.ids).search(domain)
        )
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.account_move_action_forecast"
        )
        self.assertEqual(action["res_model"], "collection.cash.forecast")

    def test_backtest_wizard_shows_model_beside_rules(self):
        history = as_of(synthetic_history(2), TODAY)
        params = rm.learn(history, TODAY, 365)
        self.company.collection_risk_model_params = params
        wizard = (
            self.env["collection.risk.backtest"]
            .with_user(self.collections_manager)
            .create({})
        )
        html = str(wizard.comparison_html)
        for text in (
            "Customer&#39;s past late rate",
            "Median days-to-pay, last 10 invoices",
            "Calibration error",
            "Within 7 days",
            f"{params['backtest']['final']['auc']:.2f}",
            f"{params['backtest']['rule_late']['auc']:.2f}",
        ):
            self.assertIn(text, html)
        # In Spanish, the figures read with a decimal comma, as the fields do.
        self.env["res.lang"]._activate_lang("es_CL")
        spanish = str(wizard.with_context(lang="es_CL").comparison_html)
        auc = f"{params['backtest']['final']['auc']:.2f}"
        self.assertIn(auc.replace(".", ","), spanish)
        self.assertNotIn(auc, spanish)
        chart = str(wizard.reliability_html)
        self.assertIn("Risk announced", chart)
        self.assertEqual(
            chart.count("<tr>"), len(params["backtest"]["reliability"]) + 1
        )

    def test_backtest_wizard_other_company_refused(self):
        other = self.setup_other_company(name="Not Mine")["company"]
        wizard = (
            self.env["collection.risk.backtest"]
            .with_user(self.collections_manager)
            .create({"company_id": other.id})
        )
        with self.assertRaises(AccessError):
            wizard.with_user(self.collections_manager).action_run_backtest()
        self.assertFalse(other.collection_risk_model_date)

    def test_credit_limit_use_is_a_factor(self):
        self.company.account_use_credit_limit = True
        self.chronic.with_company(self.company).credit_limit = 1000.0
        chronic = self._score()[1]
        factors = {f["code"]: f for f in json.loads(chronic.collection_risk_factors)}
        self.assertAlmostEqual(factors["credit_use"]["value"], 2.0)  # 2000 open
        self.assertGreater(factors["credit_use"]["points"], 0)
        self.assertIn(
            "Uses 200% of its credit limit", chronic.collection_risk_explanation
        )

    def test_collector_rescores_a_customer(self):
        self.chronic.with_user(self.collector).action_collection_compute_risk()
        self.assertTrue(self.chronic.with_company(self.company).collection_risk_band)
        self.assertFalse(self.early.with_company(self.company).collection_risk_band)


@tagged("post_install", "-at_install")
class TestRiskModelOnDemo(CollectionsCommon):
    """With a year of varied history the learnt model takes over from the rules."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["collection.demo.loader"]._load_demo(
            customers_per_profile=4, translations=False
        )
        cls.demo = cls.env.ref("collections_proactive.demo_company")
        cls.env["collection.risk.scoring"]._compute_risk(companies=cls.demo)

    def _profile(self, profile):
        return [
            self.env.ref(
                f"collections_proactive.demo_customer_{profile}_{i:02d}"
            ).with_company(self.demo)
            for i in (1, 2, 3, 4)
        ]

    def test_model_learnt_and_backtested(self):
        self.assertEqual(self.demo.collection_risk_model_state, "model")
        self.assertGreaterEqual(self.demo.collection_risk_model_auc, 0.7)
        self.assertGreater(self.demo.collection_risk_model_accuracy, 0.6)
        self.assertLess(self.demo.collection_risk_model_brier, 0.25)
        self.assertGreater(self.demo.collection_risk_model_samples, 200)

    def test_profiles_land_in_expected_bands(self):
        for partner in self._profile("early"):
            self.assertEqual(partner.collection_risk_band, "low")
            self.assertEqual(partner.collection_risk_confidence, "high")
            self.assertRegex(
                partner.collection_risk_explanation,
                r"Judged on \d+ settled invoices over (9|10|11|12) months",
            )
            self.assertIn("days early on average", partner.collection_risk_explanation)
        for partner in self._profile("chronic"):
            self.assertIn(partner.collection_risk_band, ("high", "critical"))
        # Paying later lately: above the low band, mostly high (the early
        # warnings tell the collector of the turn).
        deteriorating = [p.collection_risk_band for p in self._profile("deteriorating")]
        self.assertNotIn("low", deteriorating)
        self.assertGreaterEqual(
            sum(band in ("high", "critical") for band in deteriorating), 3
        )

        def mean_score(profile):
            scores = [p.collection_risk_score for p in self._profile(profile)]
            return sum(scores) / len(scores)

        self.assertLess(
            max(p.collection_risk_score for p in self._profile("early")),
            min(p.collection_risk_score for p in self._profile("chronic")),
        )
        self.assertLess(mean_score("early"), mean_score("on_time"))
        self.assertLess(mean_score("on_time"), mean_score("slightly_late"))
        self.assertLess(mean_score("slightly_late"), mean_score("chronic"))

    def test_open_invoice_probabilities_rank_payers(self):
        invoices = self.env["account.move"].search(
            [
                ("company_id", "=", self.demo.id),
                ("move_type", "=", "out_invoice"),
                ("payment_state", "in", ("not_paid", "partial")),
                ("invoice_date_due", ">=", date.today()),
            ]
        )
        by_profile = {}
        for invoice in invoices:
            self.assertTrue(0 <= invoice.collection_late_probability <= 1)
            profile = invoice.partner_id.get_external_id()[invoice.partner_id.id]
            by_profile.setdefault(profile.split("_customer_")[1][:5], []).append(
                invoice.collection_late_probability
            )
        if by_profile.get("early") and by_profile.get("chron"):
            self.assertLess(max(by_profile["early"]), min(by_profile["chron"]))
