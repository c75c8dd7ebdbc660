import math
import random
from datetime import date, timedelta

from odoo.tests import BaseCase, tagged

from ..tools import risk_dates as rd
from ..tools import risk_model as rm
from ..tools import risk_stats as rs


@tagged("post_install", "-at_install")
class TestRiskModelMath(BaseCase):
    """The pure-Python pieces: metrics and the logistic fit."""

    def test_auc(self):
        self.assertEqual(rm.auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1.0)
        self.assertEqual(rm.auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0.0)
        self.assertEqual(rm.auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5)
        self.assertAlmostEqual(rm.auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75)
        self.assertIsNone(rm.auc([0.1, 0.2], [1, 1]))

    def test_accuracy_and_brier(self):
        self.assertEqual(rm.accuracy([0.2, 0.7, 0.6], [0, 1, 0]), 2 / 3)
        self.assertAlmostEqual(rm.brier([0.0, 1.0, 0.5], [0, 1, 1]), 0.25 / 3)

    def test_logistic_fit_recovers_signal_and_calibration(self):
        rng = random.Random(3)
        rows, labels = [], []
        for _ in range(2000):
            x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
            p = rm.sigmoid(-0.5 + 2.0 * x1)
            rows.append([x1, x2])
            labels.append(1 if rng.random() < p else 0)
        model = rm.LogisticModel.fit(rows, labels)
        self.assertAlmostEqual(model.coef[0] / model.scales[0], 2.0, delta=0.3)
        self.assertAlmostEqual(model.coef[1], 0.0, delta=0.15)
        probabilities = [model.predict(row) for row in rows]
        self.assertGreater(rm.auc(probabilities, labels), 0.8)
        # Calibrated: the mean prediction matches the observed rate.
        self.assertAlmostEqual(
            sum(probabilities) / len(rows), sum(labels) / len(rows), 2
        )
        clone = rm.LogisticModel.from_dict(model.to_dict())
        self.assertEqual(clone.predict(rows[0]), model.predict(rows[0]))

    def test_constant_feature_does_not_break_fit(self):
        rows = [[i % 7 / 7, 0.0] for i in range(100)]
        labels = [int(i % 7 > 3) for i in range(100)]
        model = rm.LogisticModel.fit(rows, labels)
        self.assertEqual(model.coef[1], 0.0)
        self.assertGreater(model.predict([6 / 7, 0.0]), model.predict([0.0, 0.0]))


def synthetic_history(seed, customers=60, start=date(2024, 1, 1), days=600):
    """{customer: [(invoice_date, due, paid_on, amount)]}: steady payers, late
    payers and payers on the due date (who pay a weekend due date on Monday)."""
    rng = random.Random(seed)
    history = {}
    for customer in range(customers):
        kind = customer % 3
        rows = []
        for _ in range(25):
            issued = start + timedelta(days=rng.randint(0, days))
            due = issued + timedelta(days=rng.choice([30, 30, 45]))
            if kind == 0:
                paid_on = due - timedelta(days=rng.randint(0, 5))
            elif kind == 1:
                paid_on = due + timedelta(days=rng.randint(-2, 25))
            else:
                paid_on = rm.next_business_day(due)
            rows.append((issued, due, paid_on, float(rng.randint(100, 5000))))
        history[customer] = sorted(rows)
    return history


def as_of(history, today):
    return {
        c: [
            (d, due, p if p <= today else None, a)
            for d, due, p, a in rows
            if d <= today
        ]
        for c, rows in history.items()
    }


@tagged("post_install", "-at_install")
class TestRiskModelLearning(BaseCase):
    """Calibration, payment-date distribution and the back-test against the rules."""

    def test_percentiles_as_postgresql(self):
        self.assertEqual(rm.percentiles([1, 2, 3, 4, 5]), [1.4, 3.0, 4.6])
        self.assertEqual(rm.percentiles([7]), [7.0, 7.0, 7.0])
        self.assertEqual(rm.percentiles([]), [])

    def test_ece_and_reliability(self):
        probabilities = [0.25] * 4 + [0.75] * 4
        labels = [1, 0, 0, 0, 1, 1, 1, 0]
        self.assertEqual(rm.ece(probabilities, labels), 0.0)
        self.assertAlmostEqual(rm.ece([0.9] * 4, [0, 0, 0, 0]), 0.9)
        bins = rm.reliability(probabilities, labels)
        self.assertEqual([b[2] for b in bins], [4, 4])

    def test_isotonic_calibration_is_monotone_and_never_certain(self):
        raw = [i / 100 for i in range(100)]
        labels = [int(i >= 50) for i in range(100)]
        calibration = rm.Calibration.fit("isotonic", raw, labels)
        values = [calibration(p) for p in raw]
        self.assertEqual(values, sorted(values))
        self.assertGreater(min(values), 0.0)
        self.assertLess(max(values), 1.0)
        self.assertLess(calibration(0.1), 0.05)
        self.assertGreater(calibration(0.9), 0.95)
        clone = rm.Calibration.from_dict(calibration.to_dict())
        self.assertEqual(clone(0.42), calibration(0.42))

    def test_platt_calibration_fixes_overconfidence(self):
        rng = random.Random(5)
        raw, labels = [], []
        for _ in range(3000):
            true = rng.random()
            # A model that says 0.9 when the truth is 0.7: too sure.
            raw.append(rm.sigmoid(2 * rm.logit(true)))
            labels.append(int(rng.random() < true))
        calibration = rm.Calibration.fit("platt", raw, labels)
        self.assertAlmostEqual(calibration.a, 0.5, delta=0.1)
        self.assertLess(
            rm.ece([calibration(p) for p in raw], labels), rm.ece(raw, labels)
        )

    def test_payment_dates_follow_business_days_and_holidays(self):
        # A customer paying on the first weekday on or after the due date.
        rows = []
        for i in range(10):
            due = date(2026, 1, 5) + timedelta(days=7 * i)  # Mondays
            rows.append((due - timedelta(days=30), due, due, 100.0))
        today = date(2026, 4, 1)
        s = rm.stats_from_history(rows, today, today - timedelta(days=365))
        self.assertEqual(s.delay_q, [0.0, 0.0, 0.0])
        prior = rm.Prior()
        saturday = date(2026, 5, 2)
        day, low, high = rm.payment_dates(s, prior, today, today, saturday)
        self.assertEqual(day, date(2026, 5, 4))  # Monday
        self.assertLessEqual(low, day)
        self.assertLessEqual(day, high)
        for d in (day, low, high):
            self.assertLess(d.weekday(), 5)
        holiday = frozenset({date(2026, 5, 4)})
        day, _low, _high = rm.payment_dates(s, prior, today, today, saturday, holiday)
        self.assertEqual(day, date(2026, 5, 5))
        # A weekend due date makes such a payer late: the feature says so.
        weekday_row = rm.features(s, prior, 30, 100.0, date(2026, 5, 4))
        weekend_row = rm.features(s, prior, 30, 100.0, saturday)
        index = rm.FEATURES.index("calendar_late")
        self.assertGreater(weekend_row[index], weekday_row[index])

    def test_rule_dates_are_business_days_with_an_interval(self):
        """When the company's back-test prefers rule 2 (issue date + median
        days-to-pay), its date is a business day too, and the interval is the
        customer's own spread of days-to-pay, not a single day."""
        rows = []
        for i, days in enumerate((20, 25, 30, 30, 31, 35, 40, 45, 30, 28)):
            issued = date(2026, 1, 5) + timedelta(days=7 * i)
            due, paid = issued + timedelta(days=30), issued + timedelta(days=days)
            rows.append((issued, due, paid, 100.0))
        today = date(2026, 4, 1)
        s = rm.stats_from_history(rows, today, today - timedelta(days=365))
        prior = rm.Prior()
        issued = date(2026, 4, 2)  # + 30 days: a Saturday
        day, low, high = rm.payment_dates(
            s, prior, today, issued, issued + timedelta(days=30), rule=True
        )
        self.assertEqual(day, date(2026, 5, 4))  # the Monday after
        self.assertLess(low, day)
        self.assertLess(day, high)
        for d in (day, low, high):
            self.assertLess(d.weekday(), 5)

    def test_payment_date_finds_check_run_and_month_end(self):
        """A weekly check run (every Thursday, whatever the due date) and a
        month-end run are found on the customer's own record; an erratic payer
        keeps the company's predictor."""
        prior = rm.Prior(date_default="due", resid_q=[-3.0, 5.0])
        today = date(2026, 9, 1)
        thursday, month_end = [], []
        for i in range(24):
            issued = date(2026, 1, 2) + timedelta(days=9 * i)
            due = issued + timedelta(days=30)
            paid = due + timedelta(days=(3 - due.weekday()) % 7)
            thursday.append((issued, due, paid, 100.0))
            run = rm.month_end(due)
            while run.weekday() >= 5:
                run -= timedelta(days=1)
            month_end.append((issued, due, run, 100.0))
        window = today - timedelta(days=365)
        s = rm.stats_from_history(thursday, today, window)
        self.assertEqual(len(s.paid_rows), rm.DATE_HIST)
        self.assertIn(rm.date_choice(s, prior)[0], ("weekday",))
        due = date(2026, 10, 5)  # a Monday: paid on Thursday 8 October
        day, low, high = rm.payment_dates(s, prior, today, due - timedelta(30), due)
        self.assertEqual(day, date(2026, 10, 8))
        self.assertTrue(low <= day <= high)
        s = rm.stats_from_history(month_end, today, window)
        self.assertIn(rm.date_choice(s, prior)[0], ("monthday",))
        day, _low, _high = rm.payment_dates(
            s, prior, today, date(2026, 9, 10), date(2026, 10, 10)
        )
        self.assertEqual(day, date(2026, 10, 30))  # last business day of October
        rng = random.Random(5)
        erratic = [
            (issued, due, due + timedelta(days=rng.randint(-10, 25)), 100.0)
            for issued, due, _paid, _a in thursday
        ]
        s = rm.stats_from_history(erratic, today, window)
        choice, residuals = rm.date_choice(s, prior)
        self.assertEqual(choice, "due")
        # An erratic payer gets a wide interval.
        low_q, high_q = rm.residual_band(residuals, prior)
        self.assertGreater(high_q - low_q, 10)

    def test_date_backtest_steps_as_from_scratch(self):
        """The back-test keeps each step's habits as it goes and caches what it
        reads of a paid invoice: every step must say what predicting that invoice
        from the ones paid before it says, habits counted afresh."""
        rng = random.Random(11)
        holidays = frozenset({date(2026, 5, 1), date(2026, 9, 18), date(2026, 12, 25)})
        for payer in range(60):
            rows, issued = [], date(2025, 1, 6)
            count = rng.randint(4, 30)
            for i in range(count):
                issued += timedelta(days=rng.randint(3, 20))
                due = issued + timedelta(days=rng.choice((0, 30, 30, 60)))
                # Thursdays; month ends; erratic; Mondays, then Thursdays (the
                # habit of the latest DATE_HIST changes along the back-test)
                weekday = 3 if payer % 4 == 0 or 2 * i > count else 0
                paid = (
                    rm.month_end(due)
                    if payer % 4 == 1
                    else due + timedelta(days=rng.randint(-5, 25))
                    if payer % 4 == 2
                    else due + timedelta(days=(weekday - due.weekday()) % 7)
                )
                rows.append((issued, due, paid, 100.0))
            rows.sort(key=lambda row: row[2], reverse=True)
            s = rm.CustomerStats(paid_rows=rows)
            default = ("weekday", "monthday", "due", "recent")[payer % 4]
            prior = rm.Prior(date_default=default)
            errors = rm.date_backtest(s, prior, holidays)
            chrono = rows[::-1]
            start = max(len(chrono) - rs.DATE_BACKTEST, 1)
            for step, j in enumerate(range(start, len(chrono))):
                invoice_date, due, paid_on, _amount = chrono[j]
                expected = rd.date_candidates(
                    chrono[:j], prior, invoice_date, due, set(holidays)
                )
                for name, day in expected.items():
                    self.assertEqual(errors[name][step], (paid_on - day).days)

    def test_interval_scale_holds_eight_in_ten(self):
        day = date(2026, 3, 2)
        # Errors spread from -6 to +6 days; the raw band says +-2.
        dated = [
            (day, day, day, day, day + timedelta(days=e), -2.0, 2.0)
            for e in range(-6, 7)
            for _ in range(3)
        ]
        scale = rm.interval_scale(dated)
        inside = sum(rm.within_band(d, scale) for d in dated) / len(dated)
        self.assertGreaterEqual(inside, rm.INTERVAL_COVERAGE)
        smaller = rm.INTERVAL_SCALES[rm.INTERVAL_SCALES.index(scale) - 1]
        self.assertLess(
            sum(rm.within_band(d, smaller) for d in dated) / len(dated),
            rm.INTERVAL_COVERAGE,
        )

    def test_learn_beats_or_follows_the_rules(self):
        today = date(2025, 6, 1)
        history = as_of(synthetic_history(1), today)
        params = rm.learn(history, today, 365)
        report = params["backtest"]
        self.assertIn(params["mode"], ("model", "weak"))
        self.assertEqual(params["features"], list(rm.FEATURES))
        for key in ("final", "model", "rule_late", "rule_date", "reliability"):
            self.assertTrue(report.get(key), key)
        # The blend with rule 1 is chosen on the back-test: never worse than it.
        self.assertLessEqual(
            report["final"]["brier"], report["rule_late"]["brier"] + 1e-12
        )
        self.assertGreater(report["final"]["auc"], 0.75)
        self.assertIn(report["calibration"], ("none", "platt", "isotonic"))
        predictor = rm.Predictor(params)
        s = rm.stats_from_history(history[2], today, today - timedelta(days=365))
        p, day, low, high = rm.predict_invoice(
            predictor, s, today, today, today + timedelta(days=30), 1000.0
        )
        self.assertTrue(rm.P_FLOOR <= p <= 1 - rm.P_FLOOR)
        self.assertTrue(low <= day <= high)
        # Overdue and unpaid: late for sure, expected in the future.
        p, day, low, high = rm.predict_invoice(
            predictor, s, today, today - timedelta(days=60), today - timedelta(days=5),
            1000.0,
        )  # fmt: skip
        self.assertEqual(p, 1.0)
        self.assertGreater(day, today)

    def test_modest_model_that_beats_the_rule_is_kept(self):
        """Every customer is late half the time, so rule 1 ranks no better than
        chance; large invoices are paid late more often, a weak signal the model
        reads (a back-test AUC under 0.70). It beats the rule there, so it
        scores: judged against the rule, not against a fixed bar."""
        rng = random.Random(0)
        today = date(2025, 6, 1)
        history = {}
        for customer in range(40):
            rows = []
            for i in range(40):
                issued = today - timedelta(days=700 - 17 * i - rng.randint(0, 5))
                z = rng.gauss(0, 1)
                due = issued + timedelta(days=30)
                if rng.random() < rm.sigmoid(0.5 * z):
                    paid_on = due + timedelta(days=rng.randint(3, 20))
                else:
                    paid_on = due - timedelta(days=rng.randint(0, 5))
                rows.append(
                    (issued, due, paid_on if paid_on <= today else None,
                     1000 * math.exp(z))
                )  # fmt: skip
            history[customer] = rows
        params = rm.learn(history, today, 365)
        report = params["backtest"]
        self.assertLess(report["model"]["auc"], 0.70)
        self.assertLess(report["rule_late"]["auc"], 0.55)
        self.assertLess(report["final"]["brier"], report["rule_late"]["brier"])
        self.assertEqual(params["mode"], "model")
        self.assertGreater(params["blend"], 0)
        # Scored by the model: a large invoice riskier than a small one of the
        # same customer.
        predictor = rm.Predictor(params)
        s = rm.stats_from_history(history[0], today, today - timedelta(days=365))
        due = today + timedelta(days=30)
        small, large = (
            rm.predict_invoice(predictor, s, today, today, due, amount)[0]
            for amount in (200.0, 5000.0)
        )
        self.assertGreater(large, small + 0.05)
