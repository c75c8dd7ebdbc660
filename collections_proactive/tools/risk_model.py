"""Pure-Python risk model: customer statistics, features, logistic regression, metrics.

The scoring engine (``collection.risk.scoring``) computes the same customer
statistics two ways: with SQL aggregates for today's scores, and from raw invoice
rows "as of" past dates to train the model. Both feed :func:`features`, so the model
sees exactly one definition of every feature.

An invoice is *settled* at a date ``t`` once its outcome is known: paid in full by
``t``, or still unpaid after its due date (then it is late for sure).
"""

import math
import random
from dataclasses import dataclass, field
from datetime import timedelta

# Window of "recent" payment behaviour, against which the trend is read.
RECENT_DAYS = 90
# The latest settled invoices weigh most in the recent late share: the weight halves
# every RECENT_HALF_LIFE invoices back.
RECENT_HALF_LIFE = 2.0
# Days before the due date at which still-unpaid invoices are looked at again.
CHECKPOINTS = (10, 3)
# Pseudo-invoices of company average mixed into a customer's own rates: a customer
# with two invoices is mostly the company average, one with fifty is mostly itself.
SHRINK = 4.0
DAYS_LATE_CLIP = (-60, 120)
# Below these, a back-test says nothing and the transparent rules score instead.
MIN_TRAINING_SAMPLES = 200
MIN_CLASS_SAMPLES = 30
MIN_AUC = 0.70
# A pure-Python fit costs samples x features^2 per iteration: cap the samples.
MAX_FIT_SAMPLES = 8000
# An overdue invoice whose expected payment date has passed is expected next week.
OVERDUE_HORIZON_DAYS = 7

# How much history a customer has is not a feature: shrinkage toward the company
# average already accounts for it, and as a feature it mostly learns how old the
# ledger is. It sets the confidence level instead.
FEATURES = (
    "late_share",
    "late_share_unpaid_now",
    "avg_days_late",
    "trend",
    "recent_late",
    "overdue_share",
    "oldest_overdue",
    "days_to_due",
    "amount_ratio",
    "broken_commitments",
    "credit_use",
)


@dataclass
class CustomerStats:
    """What a customer's history says at a reference date (see module docstring)."""

    n_settled: int = 0
    settled: float = 0.0  # amount of settled invoices
    late: float = 0.0  # amount of those settled late
    days_late: float = 0.0  # amount-weighted sum of (clipped) days late, settled
    days_late_on_time: float = 0.0  # same, over invoices paid on time
    days_late_late: float = 0.0  # same, over late ones
    recent_n: int = 0
    recent_settled: float = 0.0
    recent_late: float = 0.0
    decayed_late: float = 0.0  # settled invoices, latest first, weights halving
    decayed_weight: float = 0.0
    unpaid_at: dict = field(default_factory=dict)  # checkpoint -> settled amount
    open: float = 0.0  # amount not paid at the reference date
    overdue: float = 0.0
    oldest_overdue: int = 0
    n_invoices: int = 0
    amount_sum: float = 0.0
    term_sum: float = 0.0
    first_date_days: int = 0  # days from the first invoice to the reference date
    broken_commitments: int = 0
    credit_limit: float = 0.0

    @property
    def on_time(self):
        return self.settled - self.late


@dataclass
class Prior:
    """Company-wide averages a customer's own figures shrink toward."""

    late_share: float = 0.3
    avg_days_late: float = 5.0
    days_on_time: float = -2.0
    days_late: float = 20.0
    term: float = 30.0

    def as_dict(self):
        return dict(self.__dict__)


def clip(value, low, high):
    return max(low, min(high, value))


def shrink(own, weight, prior, strength=SHRINK):
    return (own * weight + prior * strength) / (weight + strength)


def stats_from_history(rows, ref, window_start, broken=0, credit_limit=0.0):
    """Customer statistics at date ``ref`` from raw rows, as the SQL computes them.

    ``rows``: iterable of ``(invoice_date, due, paid_on, amount)`` for one customer,
    ``paid_on`` the date it was paid in full or ``None``. Rows dated after ``ref``
    are ignored, and paid dates after ``ref`` count as not paid yet, so nothing
    from the future leaks into a feature.
    """
    s = CustomerStats(broken_commitments=broken, credit_limit=credit_limit)
    s.unpaid_at = dict.fromkeys(CHECKPOINTS, 0.0)
    first = None
    settled = []
    for invoice_date, due, paid_on, amount in rows:
        if invoice_date > ref:
            continue
        if paid_on is not None and paid_on > ref:
            paid_on = None
        if due < window_start and paid_on is not None:
            continue
        first = invoice_date if first is None else min(first, invoice_date)
        s.n_invoices += 1
        s.amount_sum += amount
        s.term_sum += (due - invoice_date).days
        if paid_on is None:
            s.open += amount
            if due < ref:
                s.overdue += amount
                s.oldest_overdue = max(s.oldest_overdue, (ref - due).days)
        if paid_on is None and due >= ref:
            continue
        # settled
        late_days = (paid_on - due).days if paid_on else (ref - due).days
        late_days = clip(late_days, *DAYS_LATE_CLIP)
        is_late = late_days > 0
        s.n_settled += 1
        settled.append((due, invoice_date, amount, is_late))
        s.settled += amount
        s.days_late += amount * late_days
        if is_late:
            s.late += amount
            s.days_late_late += amount * late_days
        else:
            s.days_late_on_time += amount * late_days
        if (ref - due).days < RECENT_DAYS:
            s.recent_n += 1
            s.recent_settled += amount
            s.recent_late += amount if is_late else 0.0
        for checkpoint in CHECKPOINTS:
            if paid_on is None or (due - paid_on).days < checkpoint:
                s.unpaid_at[checkpoint] += amount
    s.first_date_days = (ref - first).days if first else 0
    settled.sort(reverse=True)
    for rank, (_due, _date, _amount, is_late) in enumerate(settled):
        weight = 0.5 ** (rank / RECENT_HALF_LIFE)
        s.decayed_weight += weight
        s.decayed_late += weight if is_late else 0.0
    return s


def _rate(part, whole, n, prior):
    own = part / whole if whole > 0 else prior
    return shrink(own, n, prior)


def customer_rates(s, prior):
    """Shrunk figures shared by the features, the explanation and the rules."""
    late_share = _rate(s.late, s.settled, s.n_settled, prior.late_share)
    avg_days = shrink(
        s.days_late / s.settled if s.settled > 0 else prior.avg_days_late,
        s.n_settled,
        prior.avg_days_late,
    )
    recent = _rate(s.recent_late, s.recent_settled, s.recent_n, late_share)
    n_late = s.n_settled * (s.late / s.settled) if s.settled > 0 else 0.0
    n_on_time = s.n_settled - n_late
    return {
        "late_share": late_share,
        "avg_days_late": avg_days,
        "trend": recent - late_share,
        "overdue_share": s.overdue / s.open if s.open > 0 else 0.0,
        "oldest_overdue": s.oldest_overdue,
        "days_on_time": shrink(
            s.days_late_on_time / s.on_time if s.on_time > 0 else prior.days_on_time,
            n_on_time,
            prior.days_on_time,
        ),
        "days_late": shrink(
            s.days_late_late / s.late if s.late > 0 else prior.days_late,
            n_late,
            prior.days_late,
        ),
        "avg_amount": s.amount_sum / s.n_invoices if s.n_invoices else 0.0,
        "avg_term": s.term_sum / s.n_invoices if s.n_invoices else prior.term,
    }


def features(s, prior, days_to_due=None, amount=None):
    """Feature vector of an invoice ``days_to_due`` days before its due date.

    Without an invoice (``days_to_due`` None) it describes a new invoice on the
    customer's usual terms: the customer-level score.
    """
    rates = customer_rates(s, prior)
    if days_to_due is None:
        days_to_due = rates["avg_term"]
    late_now = rates["late_share"]
    for checkpoint in sorted(CHECKPOINTS):
        # Still unpaid this close to the due date: judge against the invoices that
        # were also unpaid at that point, of which the late ones are a larger part.
        if days_to_due <= checkpoint:
            late_now = _rate(
                s.late, s.unpaid_at.get(checkpoint, 0.0), s.n_settled, late_now
            )
            break
    avg_amount = rates["avg_amount"]
    amount_ratio = (
        clip(math.log(amount / avg_amount), -2, 2)
        if amount and avg_amount > 0 and amount > 0
        else 0.0
    )
    recent_late = shrink(
        s.decayed_late / s.decayed_weight if s.decayed_weight else 0.0,
        s.decayed_weight,
        rates["late_share"],
        strength=1.0,
    )
    return [
        rates["late_share"],
        late_now,
        clip(rates["avg_days_late"], *DAYS_LATE_CLIP) / 30.0,
        rates["trend"],
        recent_late,
        rates["overdue_share"],
        min(s.oldest_overdue, 180) / 90.0,
        clip(days_to_due, 0, 90) / 30.0,
        amount_ratio,
        min(s.broken_commitments, 5),
        min(s.open / s.credit_limit, 2.0) if s.credit_limit > 0 else 0.0,
    ]


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
# Learning: labelled snapshots, company prior, back-test, fit
# ----------------------------------------------------------------------------


def training_samples(history, today, window_days, prior):
    """Labelled snapshots ``(t, known_on, features, late)``, features as of t.

    ``history``: {customer: [(invoice_date, due, paid_on, amount)]}, ``paid_on`` as
    known today. Each invoice whose outcome is known today gives a snapshot on its
    invoice date and, while still unpaid, at each checkpoint before its due date:
    the model learns what being unpaid that close to the due date means. In its own
    snapshots the invoice counts as open, as it does when it is scored.
    """
    samples = []
    for rows in history.values():
        for index, (invoice_date, due, paid_on, amount) in enumerate(rows):
            if paid_on is None and due >= today:
                continue  # outcome unknown yet
            late = paid_on is None or paid_on > due
            known_on = paid_on if paid_on and not late else due + timedelta(days=1)
            points = [invoice_date]
            for checkpoint in CHECKPOINTS:
                t = due - timedelta(days=checkpoint)
                if t > invoice_date and (paid_on is None or paid_on > t):
                    points.append(t)
            as_open = list(rows)
            as_open[index] = (invoice_date, due, None, amount)
            for t in points:
                s = stats_from_history(as_open, t, t - timedelta(days=window_days))
                row = features(s, prior, (due - t).days, amount)
                samples.append((t, known_on, row, int(late)))
    samples.sort(key=lambda sample: sample[0])
    return samples


def company_prior(history, today, window_days):
    s = stats_from_history(
        [r for rows in history.values() for r in rows],
        today,
        today - timedelta(days=window_days),
    )
    prior = Prior()
    if s.settled > 0:
        prior.late_share = s.late / s.settled
        prior.avg_days_late = s.days_late / s.settled
    if s.on_time > 0:
        prior.days_on_time = s.days_late_on_time / s.on_time
    if s.late > 0:
        prior.days_late = s.days_late_late / s.late
    if s.n_invoices:
        prior.term = s.term_sum / s.n_invoices
    return prior


def fit(samples, size=MAX_FIT_SAMPLES):
    """Fit on at most ``size`` samples, drawn with a fixed seed (same data, same
    model)."""
    if len(samples) > size:
        samples = random.Random(len(samples)).sample(samples, size)
    return LogisticModel.fit([s[2] for s in samples], [s[3] for s in samples])


def backtest(samples):
    """Train on the first 70% of snapshots in time, test on the rest; a training
    snapshot counts only if its outcome was known at the split. Empty when there
    is too little to say anything."""
    if len(samples) < MIN_TRAINING_SAMPLES:
        return {}
    split = samples[int(len(samples) * 0.7)][0]
    train = [s for s in samples if s[0] < split and s[1] <= split]
    test = [s for s in samples if s[0] >= split]
    positives = sum(s[3] for s in train)
    if (
        len(train) < MIN_TRAINING_SAMPLES
        or min(positives, len(train) - positives) < MIN_CLASS_SAMPLES
        or len({s[3] for s in test}) < 2
    ):
        return {}
    model = fit(train)
    probabilities = [model.predict(s[2]) for s in test]
    labels = [s[3] for s in test]
    return {
        "auc": auc(probabilities, labels),
        "accuracy": accuracy(probabilities, labels),
        "brier": brier(probabilities, labels),
        "train": len(train),
        "test": len(test),
    }


# No probability before the due date is shown as certain.
P_FLOOR = 0.02


def predict_invoice(s, prior, model, today, invoice_date, due, amount):
    """Late probability and predicted payment date of an invoice unpaid today.

    Without a model, the customer's shrunk late share (conditioned on how close the
    due date is) is the probability: the transparent fallback.
    """
    rates = customer_rates(s, prior)
    start = max(today, invoice_date)
    days_to_due = (due - start).days
    if days_to_due < 0:
        # Already past due and unpaid: late is a fact, not a probability.
        predicted = due + timedelta(days=round(rates["days_late"]))
        if predicted <= today:
            predicted = today + timedelta(days=OVERDUE_HORIZON_DAYS)
        return 1.0, predicted
    row = features(s, prior, days_to_due, amount)
    p = model.predict(row) if model else row[1]
    delay = (1 - p) * rates["days_on_time"] + p * max(rates["days_late"], 1)
    return p, max(due + timedelta(days=round(delay)), start)


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


# ----------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------


def auc(probabilities, labels):
    """Area under the ROC curve (Mann-Whitney, ties count half); None if undefined."""
    pairs = sorted(zip(probabilities, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2.0  # ranks are 1-based
        rank_sum += average_rank * sum(label for _p, label in pairs[i:j])
        i = j
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def accuracy(probabilities, labels, threshold=0.5):
    hits = sum(
        (p >= threshold) == bool(y) for p, y in zip(probabilities, labels, strict=True)
    )
    return hits / len(labels) if labels else None


def brier(probabilities, labels):
    if not labels:
        return None
    return sum((p - y) ** 2 for p, y in zip(probabilities, labels, strict=True)) / len(
        labels
    )
