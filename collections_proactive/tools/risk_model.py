"""Pure-Python risk model: the learner (logistic regression, calibration,
back-test) and the predictor that scores with what it learnt.

It reads the customer statistics and features of :mod:`.risk_stats` (one
definition of every feature, for the SQL aggregates of today's scores and for the
"as of" snapshots the model learns from), the payment-date model of
:mod:`.risk_dates` and the metrics of :mod:`.risk_metrics`. Callers reach all of
it here, as ``risk_model.<name>`` (see ``__all__``).

What the engine learns (:func:`learn`) and how it is checked:

- a ridge logistic regression on snapshots of the company's own invoices, fitted on
  the older part of the history and *calibrated* (Platt or isotonic, whichever the
  back-test prefers) on the latest part, so that "30%" means 3 in 10;
- a back-test on a time-ordered split that puts the model beside the two rules a
  clerk computes (the customer's own past late rate; issue date + its median
  days-to-pay over the last 10 invoices). When the rule does better on the
  company's own history, the probability leans on it (a blend whose weight the
  back-test picks, down to the rule alone), and so does the payment date;
- a payment-date *distribution* per customer (10th, 50th and 90th percentile of
  its recent delays, shrunk toward the company's for a short history), anchored on
  the due date or on the issue date, whichever the customer's record follows more
  tightly, and moved to the next business day (weekends, the company's holidays).
"""

import bisect
import math
import random
from dataclasses import dataclass
from datetime import timedelta

from .risk_dates import (
    DATE_PREDICTORS,
    date_backtest,
    date_choice,
    month_end,
    payment_dates,
    residual_band,
)
from .risk_metrics import (
    accuracy,
    auc,
    brier,
    classifier_figures,
    date_figures,
    ece,
    log_loss,
    reliability,
)
from .risk_stats import (
    CHECKPOINTS,
    DATE_HIST,
    DATE_N,
    DAYS_LATE_CLIP,
    FACTOR_OF_FEATURE,
    FEATURES,
    LAST_N,
    QUANTILES,
    RECENT_DAYS,
    RECENT_HALF_LIFE,
    SHIFTS,
    CustomerStats,
    Prior,
    clip,
    customer_rates,
    features,
    logit,
    next_business_day,
    percentiles,
    stats_from_history,
    weekday_on_or_after,
)

# What the engine, the wizards, the tests and the benches reach as
# ``risk_model.<name>``, wherever it is defined.
__all__ = [
    "CHECKPOINTS",
    "DATE_HIST",
    "DATE_N",
    "DAYS_LATE_CLIP",
    "FACTOR_OF_FEATURE",
    "FEATURES",
    "INTERVAL_COVERAGE",
    "INTERVAL_SCALES",
    "LAST_N",
    "P_FLOOR",
    "QUANTILES",
    "RECENT_DAYS",
    "RECENT_HALF_LIFE",
    "SHIFTS",
    "Calibration",
    "CustomerStats",
    "LogisticModel",
    "Predictor",
    "Prior",
    "accuracy",
    "auc",
    "blend",
    "brier",
    "clip",
    "company_prior",
    "customer_rates",
    "date_choice",
    "ece",
    "features",
    "interval_scale",
    "learn",
    "logit",
    "month_end",
    "next_business_day",
    "payment_dates",
    "percentiles",
    "predict_invoice",
    "reliability",
    "residual_band",
    "rule_points",
    "rule_rate",
    "sigmoid",
    "stats_from_history",
    "training_samples",
    "within_band",
]

# Below these, a back-test says nothing and the transparent rules score instead.
MIN_TRAINING_SAMPLES = 200
MIN_CLASS_SAMPLES = 30
# A pure-Python fit costs samples x features^2 per iteration: cap the samples.
MAX_FIT_SAMPLES = 6000
# A customer with thousands of invoices would fill the training set: at most this
# many snapshot invoices per customer, spread over its history.
MAX_SNAPSHOTS_PER_CUSTOMER = 120


# ----------------------------------------------------------------------------
# Logistic regression (ridge, Newton-Raphson) on standardised features
# ----------------------------------------------------------------------------


def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def _solve(matrix, vector):
    """Gaussian elimination with partial pivoting (the systems here are ~13x13)."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            continue
        for r in range(col + 1, n):
            f = a[r][col] / a[col][col]
            if f:
                for c in range(col, n + 1):
                    a[r][c] -= f * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        if abs(a[r][r]) < 1e-12:
            continue
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


class LogisticModel:
    """Ridge-penalised logistic regression, serialisable to a dict (JSON)."""

    def __init__(self, coef=None, intercept=0.0, means=None, scales=None):
        self.coef = coef or []
        self.intercept = intercept
        self.means = means or []
        self.scales = scales or []

    @classmethod
    def fit(cls, rows, labels, ridge=1.0, iterations=25):
        d = len(rows[0])
        n = len(rows)
        means = [sum(r[j] for r in rows) / n for j in range(d)]
        scales = []
        for j in range(d):
            var = sum((r[j] - means[j]) ** 2 for r in rows) / n
            scales.append(math.sqrt(var) if var > 1e-12 else 1.0)
        xs = [[1.0] + [(r[j] - means[j]) / scales[j] for j in range(d)] for r in rows]
        beta = [0.0] * (d + 1)
        base = sum(labels) / n
        beta[0] = math.log(max(base, 1e-6) / max(1 - base, 1e-6))
        for _ in range(iterations):
            grad = [0.0] * (d + 1)
            hess = [[0.0] * (d + 1) for _ in range(d + 1)]
            for x, y in zip(xs, labels, strict=True):
                p = sigmoid(sum(b * v for b, v in zip(beta, x, strict=True)))
                w = max(p * (1 - p), 1e-9)
                err = y - p
                for i in range(d + 1):
                    xi = x[i]
                    grad[i] += err * xi
                    wxi = w * xi
                    row = hess[i]
                    for k in range(i, d + 1):
                        row[k] += wxi * x[k]
            for i in range(d + 1):
                for k in range(i):
                    hess[i][k] = hess[k][i]
                if i:  # the intercept is not penalised
                    grad[i] -= ridge * beta[i]
                    hess[i][i] += ridge
            step = _solve(hess, grad)
            beta = [b + s for b, s in zip(beta, step, strict=True)]
            if max(abs(s) for s in step) < 1e-6:
                break
        return cls(beta[1:], beta[0], means, scales)

    def logit_terms(self, row):
        """Each feature's push on the log-odds, against the average customer."""
        return [
            c * (v - m) / s
            for c, v, m, s in zip(self.coef, row, self.means, self.scales, strict=True)
        ]

    def predict(self, row):
        return sigmoid(self.intercept + sum(self.logit_terms(row)))

    def to_dict(self):
        return {
            "coef": self.coef,
            "intercept": self.intercept,
            "means": self.means,
            "scales": self.scales,
        }

    @classmethod
    def from_dict(cls, data):
        return cls(data["coef"], data["intercept"], data["means"], data["scales"])


# ----------------------------------------------------------------------------
# Calibration: Platt scaling or isotonic regression on a later window
# ----------------------------------------------------------------------------


class Calibration:
    """Maps the regression's raw probability to a calibrated one.

    ``platt``: a logistic curve on the raw log-odds. ``isotonic``: a monotone step
    curve (pool adjacent violators), each step's rate smoothed as (late + 1) /
    (n + 2), interpolated between steps: never 0 nor 1, and bounded by how many
    invoices back each step. ``none``: the raw probability.
    """

    def __init__(self, kind="none", a=1.0, b=0.0, xs=None, ys=None):
        self.kind = kind
        self.a, self.b = a, b
        self.xs, self.ys = xs or [], ys or []

    @classmethod
    def fit(cls, kind, raw, labels):
        if kind == "platt":
            model = LogisticModel.fit([[logit(p, 1e-6)] for p in raw], labels, 0.01)
            return cls("platt", model.coef[0] / model.scales[0],
                       model.intercept - model.coef[0] * model.means[0]
                       / model.scales[0])  # fmt: skip
        if kind == "isotonic":
            blocks = []  # [sum of scores, late, n]
            for p, y in sorted(zip(raw, labels, strict=True)):
                blocks.append([p, y, 1])
                while len(blocks) > 1 and (
                    blocks[-2][1] * blocks[-1][2] >= blocks[-1][1] * blocks[-2][2]
                ):
                    last = blocks.pop()
                    for i in range(3):
                        blocks[-1][i] += last[i]
            return cls(
                "isotonic",
                xs=[b[0] / b[2] for b in blocks],
                ys=[(b[1] + 1) / (b[2] + 2) for b in blocks],
            )
        return cls("none")

    def __call__(self, p):
        if self.kind == "platt":
            return sigmoid(self.a * logit(p, 1e-6) + self.b)
        if self.kind == "isotonic" and self.xs:
            i = bisect.bisect_left(self.xs, p)
            if i == 0:
                return self.ys[0]
            if i >= len(self.xs):
                return self.ys[-1]
            x0, x1 = self.xs[i - 1], self.xs[i]
            f = (p - x0) / (x1 - x0) if x1 > x0 else 1.0
            return self.ys[i - 1] + f * (self.ys[i] - self.ys[i - 1])
        return p

    def to_dict(self):
        return {"kind": self.kind, "a": self.a, "b": self.b, "xs": self.xs,
                "ys": self.ys}  # fmt: skip

    @classmethod
    def from_dict(cls, data):
        return cls(**(data or {}))


# ----------------------------------------------------------------------------
# Learning: labelled snapshots, company prior, back-test, fit
# ----------------------------------------------------------------------------


@dataclass
class Sample:
    """A labelled snapshot: features as of ``t``, outcome known on ``known_on``.
    ``rule``: rule 1's probability then; ``dates``: for the snapshot on the
    issue date, (model date, low, high, rule 2's date, actual paid date, and the
    10th and 90th percentile of the date error before widening)."""

    t: object
    known_on: object
    row: list
    late: int
    rule: float
    dates: tuple = None


def rule_rate(s, prior):
    """Rule 1: the customer's own past late rate (the company's for a newcomer)."""
    return s.n_late / s.n_settled if s.n_settled else prior.late_count


def _snapshot_rows(rows):
    """At most MAX_SNAPSHOTS_PER_CUSTOMER of a customer's invoices, spread evenly
    over its history (a deterministic choice)."""
    if len(rows) <= MAX_SNAPSHOTS_PER_CUSTOMER:
        return range(len(rows))
    step = len(rows) / MAX_SNAPSHOTS_PER_CUSTOMER
    return sorted({int(i * step) for i in range(MAX_SNAPSHOTS_PER_CUSTOMER)})


def training_samples(history, today, window_days, prior, holidays=()):
    """Labelled snapshots (:class:`Sample`), features as of their date, sorted.

    ``history``: {customer: [(invoice_date, due, paid_on, amount)]}, ``paid_on`` as
    known today. Each invoice whose outcome is known today gives a snapshot on its
    invoice date and, while still unpaid, at each checkpoint before its due date:
    the model learns what being unpaid that close to the due date means. In its own
    snapshots the invoice counts as open, as it does when it is scored.
    """
    samples = []
    for rows in history.values():
        rows = sorted(rows, key=lambda row: (row[0], row[1]))
        for index in _snapshot_rows(rows):
            invoice_date, due, paid_on, amount = rows[index]
            if paid_on is None and due >= today:
                continue  # outcome unknown yet
            late = paid_on is None or paid_on > due
            known_on = paid_on if paid_on and not late else due + timedelta(days=1)
            points = [invoice_date]
            for checkpoint in CHECKPOINTS:
                t = due - timedelta(days=checkpoint)
                if t > invoice_date and (paid_on is None or paid_on > t):
                    points.append(t)
            # Rows issued after the snapshot never count: stop the scan there.
            end = bisect.bisect_right(rows, points[-1], key=lambda row: row[0])
            as_open = rows[:end]
            as_open[index] = (invoice_date, due, None, amount)
            for t in points:
                s = stats_from_history(as_open, t, t - timedelta(days=window_days))
                row = features(s, prior, (due - t).days, amount, due, holidays)
                dates = None
                if t == invoice_date and paid_on is not None:
                    _choice, residuals = date_choice(s, prior, holidays)
                    dates = (
                        *payment_dates(s, prior, t, invoice_date, due, holidays),
                        payment_dates(
                            s, prior, t, invoice_date, due, holidays, rule=True
                        )[0],
                        paid_on,
                        *residual_band(residuals, prior),
                    )
                samples.append(
                    Sample(t, known_on, row, int(late), rule_rate(s, prior), dates)
                )
    samples.sort(key=lambda sample: sample.t)
    return samples


def company_prior(history, today, window_days, holidays=()):
    window_start = today - timedelta(days=window_days)
    s = stats_from_history(
        [r for rows in history.values() for r in rows], today, window_start
    )
    prior = Prior()
    if s.settled > 0:
        prior.late_share = s.late / s.settled
        prior.late_count = s.n_late / s.n_settled
        prior.avg_days_late = s.days_late / s.settled
    if s.on_time > 0:
        prior.days_on_time = s.days_late_on_time / s.on_time
    if s.late > 0:
        prior.days_late = s.days_late_late / s.late
    if s.n_invoices:
        prior.term = s.term_sum / s.n_invoices
    paid = [
        (paid_on, due, invoice_date)
        for rows in history.values()
        for invoice_date, due, paid_on, _amount in rows
        if paid_on and paid_on <= today and due >= window_start
    ]
    if paid:
        delays = [(p - weekday_on_or_after(due)).days for p, due, _d in paid]
        prior.delay_q = percentiles(delays)
        prior.dtp_q = percentiles([(p - d).days for p, _due, d in paid])
        prior.late_shift = [
            sum(d > -j for d in delays) / len(delays) for j in range(SHIFTS)
        ]
    date_prior(prior, history, today, window_start, holidays)
    return prior


def date_prior(prior, history, today, window_start, holidays=()):
    """The company's payment-date predictor (the one with the lowest error over
    all customers' own back-tests) and the spread of the errors of each
    customer's chosen predictor, the interval of a customer with a short record."""
    customers = []
    for rows in history.values():
        s = stats_from_history(rows, today, window_start)
        if len(s.paid_rows) >= 2:
            customers.append((s, date_backtest(s, prior, holidays)))
    totals = {name: [0, 0] for name in DATE_PREDICTORS}
    for _s, errors in customers:
        for name, values in errors.items():
            totals[name][0] += sum(abs(e) for e in values)
            totals[name][1] += len(values)
    scored = {name: a / n for name, (a, n) in totals.items() if n}
    if not scored:
        return
    prior.date_default = min(scored, key=lambda name: (scored[name], name != "due"))
    residuals = []
    for s, _errors in customers:
        s.date_model = s.date_anchors = None
        residuals.extend(date_choice(s, prior, holidays)[1])
    if len(residuals) >= 20:
        prior.resid_q = percentiles(residuals, (0.1, 0.9))


def fit(samples, size=MAX_FIT_SAMPLES):
    """Fit on at most ``size`` samples, drawn with a fixed seed (same data, same
    model)."""
    if len(samples) > size:
        samples = random.Random(len(samples)).sample(samples, size)
    return LogisticModel.fit([s.row for s in samples], [s.late for s in samples])


def _split(samples, share):
    return samples[min(int(len(samples) * share), len(samples) - 1)].t


def _usable(train):
    positives = sum(s.late for s in train)
    return (
        len(train) >= MIN_TRAINING_SAMPLES
        and min(positives, len(train) - positives) >= MIN_CLASS_SAMPLES
    )


BLEND_WEIGHTS = (1.0, 0.75, 0.5, 0.25, 0.0)


def blend(p_model, p_rule, weight):
    return weight * p_model + (1 - weight) * p_rule


def backtest(samples):
    """The model beside the rules on the latest 30% of the history.

    The regression learns from the first 50% (what was known then), is calibrated
    on the next 20% (Platt or isotonic, whichever predicts the last 30% better),
    and predicts the last 30%, as do the rules. The probability leans on rule 1
    by the weight (1: model alone ... 0: rule alone) with the lowest Brier score
    there; the payment date follows the model or rule 2, whichever is closer.
    Empty when there is too little to say anything."""
    if len(samples) < MIN_TRAINING_SAMPLES:
        return {}
    a, b = _split(samples, 0.5), _split(samples, 0.7)
    train = [s for s in samples if s.t < a and s.known_on <= a]
    calib = [s for s in samples if a <= s.t < b and s.known_on <= b]
    test = [s for s in samples if s.t >= b]
    if (
        not _usable(train)
        or len(calib) < MIN_CLASS_SAMPLES
        or len({s.late for s in test}) < 2
    ):
        return {}
    model = fit(train)
    raw_calib = [model.predict(s.row) for s in calib]
    raw_test = [model.predict(s.row) for s in test]
    labels = [s.late for s in test]
    best = None
    for kind in ("none", "platt", "isotonic"):
        if kind != "none" and len({s.late for s in calib}) < 2:
            continue
        calibration = Calibration.fit(kind, raw_calib, [s.late for s in calib])
        probabilities = [calibration(p) for p in raw_test]
        loss = log_loss(probabilities, labels)
        if best is None or loss < best[0] - 1e-4:
            best = (loss, kind, probabilities)
    _loss, kind, p_model = best
    p_rule = [s.rule for s in test]
    weight = min(
        BLEND_WEIGHTS,
        key=lambda w: brier(
            [blend(m, r, w) for m, r in zip(p_model, p_rule, strict=True)], labels
        ),
    )
    p_final = [blend(m, r, weight) for m, r in zip(p_model, p_rule, strict=True)]
    dated = [s.dates for s in test if s.dates]
    report = {
        "calibration": kind,
        "blend": weight,
        "train": len(train),
        "calibrated_on": len(calib),
        "test": len(test),
        "late_share": sum(labels) / len(labels),
        "model": classifier_figures(p_model, labels),
        "final": classifier_figures(p_final, labels),
        "rule_late": classifier_figures(p_rule, labels),
        "reliability": reliability(p_final, labels),
        "dated": len(dated),
    }
    if dated:
        report["model"].update(
            date_figures([d[0] for d in dated], [d[4] for d in dated])
        )
        report["rule_date"] = date_figures([d[3] for d in dated], [d[4] for d in dated])
        scale = interval_scale([s.dates for s in calib if s.dates] or dated)
        inside = [within_band(d, scale) for d in dated]
        report["interval_scale"] = scale
        report["model"]["interval"] = sum(inside) / len(inside)
        report["date_rule"] = report["rule_date"]["mae"] < report["model"]["mae"]
    return report


# The interval is widened (or narrowed) by the first of these factors with which
# it holds INTERVAL_COVERAGE of the back-test's payments.
INTERVAL_SCALES = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)
INTERVAL_COVERAGE = 0.8


def within_band(dates, scale):
    day, _low, _high, _rule, paid_on, q_low, q_high = dates
    offset = (paid_on - day).days
    return math.floor(scale * q_low) <= offset <= math.ceil(scale * q_high)


def interval_scale(dated):
    """The smallest factor of INTERVAL_SCALES that makes the 10-90% interval hold
    8 payments in 10 of ``dated`` (Sample.dates), the largest if none does."""
    if not dated:
        return 1.0
    for scale in INTERVAL_SCALES:
        if sum(within_band(d, scale) for d in dated) >= INTERVAL_COVERAGE * len(dated):
            return scale
    return INTERVAL_SCALES[-1]


def learn(history, today, window_days, holidays=()):
    """Everything the engine needs to score, as a JSON-able dict: the company
    prior, the back-test and, when the history is enough, the calibrated model.

    The model used in production is fitted on all but the latest 25% of the
    snapshots and calibrated on that latest 25% (the calibration kind and the
    blend with rule 1 are the back-test's)."""
    prior = company_prior(history, today, window_days, holidays)
    samples = training_samples(history, today, window_days, prior, holidays)
    report = backtest(samples)
    params = {
        "prior": prior.as_dict(),
        "features": list(FEATURES),
        "samples": len(samples),
        "backtest": _jsonable(report),
        "mode": "thin",
    }
    if not report:
        return params
    params["date_rule"] = bool(report.get("date_rule"))
    # The interval's width as the latest half of the history calls for it.
    half = _split(samples, 0.5)
    params["interval_scale"] = interval_scale(
        [s.dates for s in samples if s.dates and s.t >= half]
    )
    # Judged against the rule, not against a fixed bar: on a small or noisy
    # history a model with a modest AUC that still beats rule 1 there is better
    # than rule 1 alone (the blend's weight already says how much better).
    if report["blend"] == 0:
        params["mode"] = "weak"
        return params
    c = _split(samples, 0.75)
    train = [s for s in samples if s.t < c and s.known_on <= c]
    calib = [s for s in samples if s.t >= c]
    if not _usable(train) or len({s.late for s in calib}) < 2:
        train, calib = samples, []
    model = fit(train)
    calibration = Calibration.fit(
        report["calibration"] if calib else "none",
        [model.predict(s.row) for s in calib],
        [s.late for s in calib],
    )
    params.update(
        mode="model",
        model=model.to_dict(),
        calibration=calibration.to_dict(),
        blend=report["blend"],
    )
    return params


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Predictor:
    """The learnt parameters, ready to score (see :func:`learn`)."""

    def __init__(self, params):
        params = params or {}
        self.prior = Prior(**params.get("prior", {}))
        self.mode = params.get("mode", "thin")
        self.model = (
            LogisticModel.from_dict(params["model"])
            if self.mode == "model" and params.get("model")
            else None
        )
        self.calibration = Calibration.from_dict(params.get("calibration"))
        self.weight = params.get("blend", 1.0) if self.model else 0.0
        self.date_rule = bool(params.get("date_rule"))
        self.interval_scale = params.get("interval_scale", 1.0)

    def probability(self, s, row, z=None):
        """Late probability before the due date, from the features ``row`` (or
        the log-odds ``z`` of the regression)."""
        if not self.model:
            # No model: the transparent rule (thin: the shrunk late share, as close
            # to the due date as it is; weak: rule 1, which beat the model).
            p = row[3] if self.mode == "thin" else rule_rate(s, self.prior)
        else:
            if z is None:
                z = self.model.intercept + sum(self.model.logit_terms(row))
            p = blend(self.calibration(sigmoid(z)), rule_rate(s, self.prior),
                      self.weight)  # fmt: skip
        return clip(p, P_FLOOR, 1 - P_FLOOR)


# No probability before the due date is shown as certain.
P_FLOOR = 0.02


def predict_invoice(
    predictor, s, today, invoice_date, due, amount, holidays=(), row=None
):
    """Late probability, predicted payment date and its 10-90% interval of an
    invoice (or receivable line) unpaid today: ``(p, date, low, high)``."""
    if not isinstance(predictor, Predictor):
        predictor = Predictor(predictor)
    start = max(today, invoice_date)
    days_to_due = (due - start).days
    rule = predictor.date_rule
    day, low, high = payment_dates(
        s,
        predictor.prior,
        today,
        invoice_date,
        due,
        holidays,
        rule=rule,
        scale=predictor.interval_scale,
    )
    if days_to_due < 0:
        # Already past due and unpaid: late is a fact, not a probability.
        return 1.0, day, low, high
    if row is None:
        row = features(s, predictor.prior, days_to_due, amount, due, holidays)
    return predictor.probability(s, row), day, low, high


# ----------------------------------------------------------------------------
# Transparent rules: used when the learnt model is not good enough
# ----------------------------------------------------------------------------

# Points of the 0-100 score each factor can give at most.
RULE_POINTS = {
    "late_share": 40,
    "avg_days_late": 20,
    "overdue_share": 15,
    "oldest_overdue": 10,
    "trend": 10,
    "broken_commitments": 10,
    "credit_use": 5,
}


def rule_points(s, prior):
    rates = customer_rates(s, prior)
    credit_use = min(s.open / s.credit_limit, 1.0) if s.credit_limit > 0 else 0.0
    return {
        "late_share": RULE_POINTS["late_share"] * rates["late_share"],
        "avg_days_late": RULE_POINTS["avg_days_late"]
        * clip(rates["avg_days_late"], 0, 60)
        / 60,
        "overdue_share": RULE_POINTS["overdue_share"] * rates["overdue_share"],
        "oldest_overdue": RULE_POINTS["oldest_overdue"]
        * min(s.oldest_overdue, 90)
        / 90,
        "trend": RULE_POINTS["trend"] * clip(rates["trend"] * 2, 0, 1),
        "broken_commitments": RULE_POINTS["broken_commitments"]
        * min(s.broken_commitments, 2)
        / 2,
        "credit_use": RULE_POINTS["credit_use"] * credit_use,
    }
