"""Customer statistics, the company prior and the features of the risk model.

The scoring engine (``collection.risk.scoring``) computes the same customer
statistics two ways: with SQL aggregates for today's scores, and from raw invoice
rows "as of" past dates to train the model. Both feed :func:`features`, so the model
sees exactly one definition of every feature.

An invoice is *settled* at a date ``t`` once its outcome is known: paid in full by
``t``, or still unpaid after its due date (then it is late for sure).
"""

import math
from dataclasses import dataclass, field
from datetime import timedelta

# Window of "recent" payment behaviour, against which the trend is read.
RECENT_DAYS = 90
# The latest settled invoices weigh most in the recent late share: the weight halves
# every RECENT_HALF_LIFE invoices back.
RECENT_HALF_LIFE = 2.0
# The late share of the last LAST_N settled invoices.
LAST_N = 10
# The payment-date distribution reads the customer's last DATE_N paid invoices
# (as rule 2 does).
DATE_N = 10
QUANTILES = (0.1, 0.5, 0.9)
# The payment-date model reads the last DATE_HIST paid invoices of a customer
# (weekday and day-of-month habits need more than ten), and picks its predictor
# on the latest DATE_BACKTEST of them, each predicted from those paid before.
DATE_HIST = 20
DATE_BACKTEST = 8
# Pseudo-invoices of the company's distribution mixed into a customer's own
# quantiles (its median date: see risk_dates.DATE_MEDIAN_SHRINK).
DATE_SHRINK = 1.0
# Days before the due date at which still-unpaid invoices are looked at again.
CHECKPOINTS = (10, 3)
# Pseudo-invoices of company average mixed into a customer's own rates: a customer
# with two invoices is mostly the company average, one with fifty is mostly itself.
SHRINK = 4.0
DAYS_LATE_CLIP = (-60, 120)
# Saturday and Sunday: no payment lands on them.
WEEKEND = (5, 6)
# Due dates on up to SHIFTS - 1 closed days in a row are told apart.
SHIFTS = 4

# How much history a customer has is not a feature: shrinkage toward the company
# average already accounts for it, and as a feature it mostly learns how old the
# ledger is. It sets the confidence level instead.
FEATURES = (
    "late_share",
    "late_count",
    "last_late",
    "late_share_unpaid_now",
    "avg_days_late",
    "median_delay",
    "delay_spread",
    "trend",
    "recent_late",
    "overdue_share",
    "oldest_overdue",
    "days_to_due",
    "amount_ratio",
    "due_closed",
    "calendar_late",
    "broken_commitments",
    "credit_use",
)
# Which explained factor each feature's push belongs to (the customer's score);
# what is about the invoice rather than the customer goes to the base.
FACTOR_OF_FEATURE = {
    "late_share": "late_share",
    "late_count": "late_share",
    "last_late": "trend",
    "late_share_unpaid_now": "late_share",
    "avg_days_late": "avg_days_late",
    "median_delay": "avg_days_late",
    "delay_spread": "avg_days_late",
    "trend": "trend",
    "recent_late": "trend",
    "overdue_share": "overdue_share",
    "oldest_overdue": "oldest_overdue",
    "broken_commitments": "broken_commitments",
    "credit_use": "credit_use",
}


@dataclass
class CustomerStats:
    """What a customer's history says at a reference date (see module docstring)."""

    n_settled: int = 0
    n_late: int = 0  # settled late, by count
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
    last_n: int = 0  # the last LAST_N settled invoices
    last_late: int = 0  # of which late
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
    # The last DATE_N paid invoices: how many, and the 10/50/90th percentiles of
    # their days paid after due, and after issue.
    date_n: int = 0
    delay_q: list = field(default_factory=list)
    dtp_q: list = field(default_factory=list)
    # Of those, how many were paid more than 0, -1, -2, -3 days after the first
    # weekday on or after their due date.
    late_shift: list = field(default_factory=lambda: [0] * SHIFTS)
    # The last DATE_HIST paid invoices, latest first: (invoice_date, due, paid_on,
    # amount), which the payment-date model reads (see :class:`DateModel`).
    paid_rows: list = field(default_factory=list)
    # (predictor, back-test residuals) once :func:`date_choice` has read them.
    date_model: tuple = None
    # (predictor, what the dates of its invoices read of its paid ones) once
    # :func:`payment_dates` has read them (see :func:`date_anchors`): the same
    # for each of its open invoices.
    date_anchors: tuple = None

    @property
    def on_time(self):
        return self.settled - self.late


@dataclass
class Prior:
    """Company-wide averages a customer's own figures shrink toward."""

    late_share: float = 0.3
    late_count: float = 0.3
    avg_days_late: float = 5.0
    days_on_time: float = -2.0
    days_late: float = 20.0
    term: float = 30.0
    delay_q: list = field(default_factory=lambda: [-3.0, 0.0, 15.0])
    dtp_q: list = field(default_factory=lambda: [20.0, 30.0, 45.0])
    late_shift: list = field(default_factory=lambda: [0.3, 0.4, 0.5, 0.6])
    # The payment-date predictor of a customer with a short record, and the 10th
    # and 90th percentile of the date errors (see :func:`date_choice`).
    date_default: str = "due"
    resid_q: list = field(default_factory=lambda: [-3.0, 5.0])

    def as_dict(self):
        return dict(self.__dict__)


def clip(value, low, high):
    return max(low, min(high, value))


def shrink(own, weight, prior, strength=SHRINK):
    return (own * weight + prior * strength) / (weight + strength)


def logit(p, eps=0.01):
    p = clip(p, eps, 1 - eps)
    return math.log(p / (1 - p))


def percentiles(values, quantiles=QUANTILES):
    """Linear-interpolation percentiles, as PostgreSQL's ``percentile_cont``."""
    ordered = sorted(values)
    if not ordered:
        return []
    out = []
    for q in quantiles:
        position = q * (len(ordered) - 1)
        low = math.floor(position)
        high = math.ceil(position)
        out.append(
            float(ordered[low] + (position - low) * (ordered[high] - ordered[low]))
        )
    return out


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
    paid = []
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
        else:
            paid.append(
                (paid_on, due, invoice_date, amount, (paid_on - invoice_date).days)
            )
        if paid_on is None and due >= ref:
            continue
        # settled
        late_days = (paid_on - due).days if paid_on else (ref - due).days
        late_days = clip(late_days, *DAYS_LATE_CLIP)
        is_late = late_days > 0
        s.n_settled += 1
        s.n_late += is_late
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
        if rank < LAST_N:
            s.last_n += 1
            s.last_late += is_late
    paid.sort(reverse=True)
    last = paid[:DATE_N]
    s.date_n = len(last)
    delays = [(p[0] - weekday_on_or_after(p[1])).days for p in last]
    s.delay_q = percentiles(delays)
    s.dtp_q = percentiles([p[4] for p in last])
    s.late_shift = [sum(d > -j for d in delays) for j in range(SHIFTS)]
    s.paid_rows = [(p[2], p[1], p[0], p[3]) for p in paid[:DATE_HIST]]
    return s


def weekday_on_or_after(day):
    """The due date as payers see it: a Saturday or Sunday moves to Monday (the
    SQL twin does the same; company holidays only shift new due dates)."""
    weekday = day.weekday()
    return day + timedelta(days=7 - weekday) if weekday in WEEKEND else day


def _rate(part, whole, n, prior):
    own = part / whole if whole > 0 else prior
    return shrink(own, n, prior)


def customer_rates(s, prior):
    """Shrunk figures shared by the features, the explanation and the rules."""
    late_share = _rate(s.late, s.settled, s.n_settled, prior.late_share)
    late_count = _rate(s.n_late, s.n_settled, s.n_settled, prior.late_count)
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
        "late_count": late_count,
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


def shrunk_quantiles(own, n, prior, strength=DATE_SHRINK):
    if not own:
        return list(prior)
    return [shrink(o, n, p, strength) for o, p in zip(own, prior, strict=True)]


def is_business_day(day, holidays=()):
    return day.weekday() not in WEEKEND and day not in holidays


def next_business_day(day, holidays=()):
    """``day`` itself when it is a business day, else the next one."""
    for _ in range(30):
        if is_business_day(day, holidays):
            return day
        day += timedelta(days=1)
    return day


def features(s, prior, days_to_due=None, amount=None, due=None, holidays=()):
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
    last_late = _rate(s.last_late, s.last_n, s.last_n, rates["late_count"])
    delay_q = shrunk_quantiles(s.delay_q, s.date_n, prior.delay_q)
    # A due date on a weekend or holiday is paid, at best, the next business day:
    # late by the calendar alone.
    due_closed = (next_business_day(due, holidays) - due).days if due else 0
    # How often the customer's last payments, moved onto this due date (counted
    # from its first business day), would have come after it.
    shift = min(due_closed, SHIFTS - 1)
    calendar_late = shrink(
        s.late_shift[shift] / s.date_n if s.date_n else 0.0,
        s.date_n,
        prior.late_shift[shift],
    )
    return [
        rates["late_share"],
        logit(rates["late_count"]),
        logit(last_late),
        late_now,
        clip(rates["avg_days_late"], *DAYS_LATE_CLIP) / 30.0,
        clip(delay_q[1], *DAYS_LATE_CLIP) / 30.0,
        clip(delay_q[2] - delay_q[0], 0, 120) / 30.0,
        rates["trend"],
        recent_late,
        rates["overdue_share"],
        min(s.oldest_overdue, 180) / 90.0,
        clip(days_to_due, 0, 90) / 30.0,
        amount_ratio,
        min(due_closed, 4),
        logit(calendar_late),
        min(s.broken_commitments, 5),
        min(s.open / s.credit_limit, 2.0) if s.credit_limit > 0 else 0.0,
    ]
