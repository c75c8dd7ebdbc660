"""Pure-Python risk model: customer statistics, features, logistic regression,
calibration, payment-date distribution, metrics.

The scoring engine (``collection.risk.scoring``) computes the same customer
statistics two ways: with SQL aggregates for today's scores, and from raw invoice
rows "as of" past dates to train the model. Both feed :func:`features`, so the model
sees exactly one definition of every feature.

An invoice is *settled* at a date ``t`` once its outcome is known: paid in full by
``t``, or still unpaid after its due date (then it is late for sure).

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
# A customer needs this many paid invoices before its own back-test picks its
# predictor; below, the company's choice applies.
DATE_MIN_OWN = 4
# Pseudo-invoices of the company's distribution mixed into a customer's own.
DATE_SHRINK = 1.0
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
MAX_FIT_SAMPLES = 6000
# A customer with thousands of invoices would fill the training set: at most this
# many snapshot invoices per customer, spread over its history.
MAX_SNAPSHOTS_PER_CUSTOMER = 120
# An overdue invoice whose expected payment date has passed is expected next week.
OVERDUE_HORIZON_DAYS = 7
# The issue date anchors the payment date only when the customer's days after
# issue spread this much less than its days after the due date.
ANCHOR_MARGIN = 2
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


# ----------------------------------------------------------------------------
# Payment date: candidate predictors, each customer's picked by its own record
# ----------------------------------------------------------------------------

# What each predictor says, for an invoice issued on ``invoice_date`` and due on
# ``due``, from the customer's paid invoices before it:
# - ``due``: the first weekday on or after the due date + the median delay after
#   it (a customer paying on the due date, or a week after it, whatever the terms);
# - ``issue``: the issue date + the median days-to-pay (rule 2; a customer paying
#   45 days after issue whatever the terms);
# - ``recent``: the due date + the median of the last 3 delays (a trend);
# - ``weekday``: the first day on or after the due date of the weekday the
#   customer pays on most (a weekly check run) + the median delay after it;
# - ``monthday``: the same with the day of the month it pays on most, or the last
#   business day of the month (a monthly payment run).
DATE_PREDICTORS = ("due", "issue", "recent", "weekday", "monthday")
# A customer's own back-test picks another predictor than the company's only when
# it is better by this many days on average and by this share of the error (a
# few invoices tell little, of an erratic payer even less).
DATE_MARGIN = 1.0
DATE_GAIN = 0.25
# A weekday or day-of-month habit needs this many payments on it, and this share
# of the customer's payments (by chance a fifth fall on any weekday).
HABIT_MIN = 3
WEEKDAY_SHARE = 0.5
MONTHDAY_SHARE = 0.3
# Paid this many days or fewer before the last day of the month: a month-end run.
MONTH_END_DAYS = 2


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def month_end(day):
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def monthday_key(day):
    """0 for a month-end run, else the day of the month."""
    if (day + timedelta(days=MONTH_END_DAYS + 1)).month != day.month:
        return 0
    return day.day


def _monthday_dates(day, key, holidays):
    """The run dates of the months around ``day``: the last business day of the
    month (``key`` 0) or that day of the month, moved to a business day."""
    first = day.replace(day=1)
    months = (
        (first - timedelta(days=1)).replace(day=1),
        first,
        month_end(day) + timedelta(days=1),
    )
    out = []
    for month in months:
        if key == 0:
            run = month_end(month)
            for _ in range(10):
                if is_business_day(run, holidays):
                    break
                run -= timedelta(days=1)
        else:
            run = next_business_day(
                month.replace(day=min(key, month_end(month).day)), holidays
            )
        out.append(run)
    return out


def _weekday_run(day, weekday, _holidays=()):
    """The first ``weekday`` on or after ``day``."""
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _monthday_run(day, key, holidays=()):
    """The first run date (see :func:`_monthday_dates`) on or after ``day``."""
    return min(run for run in _monthday_dates(day, key, holidays) if run >= day)


def _habit(values, share):
    """The most frequent value if it occurs at least HABIT_MIN times and makes
    ``share`` of ``values``, else None."""
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    if not counts:
        return None
    best = max(counts, key=lambda value: (counts[value], -value))
    if counts[best] < max(HABIT_MIN, share * len(values)):
        return None
    return best


def date_candidates(past, prior, invoice_date, due, holidays=(), names=None):
    """{predictor: date} for an invoice, from ``past``: the customer's paid
    invoices ``(invoice_date, due, paid_on, amount)``, oldest first. A short
    record leans on the company's figures (``prior``)."""
    last = past[-DATE_N:]
    n = len(last)
    delays = [(paid - weekday_on_or_after(d)).days for _i, d, paid, _a in last]
    dtps = [(paid - i).days for i, _d, paid, _a in last]
    delay = shrink(median(delays) if n else 0.0, n, prior.delay_q[1], DATE_SHRINK)
    dtp = shrink(median(dtps) if n else 0.0, n, prior.dtp_q[1], DATE_SHRINK)
    # A later due date than usual (a second installment) is not paid before it is
    # due: the issue-anchored dates move by the extra days.
    usual = sum((d - i).days for i, d, _p, _a in last) / n if n else prior.term
    extra = max((due - invoice_date).days - usual, 0)
    bdue = weekday_on_or_after(due)
    out = {
        "due": next_business_day(bdue + timedelta(days=round(delay)), holidays),
        "issue": next_business_day(
            invoice_date + timedelta(days=round(dtp + extra)), holidays
        ),
    }
    if names is not None and not any(name not in ("due", "issue") for name in names):
        return out
    recent = delays[-3:]
    out["recent"] = (
        next_business_day(bdue + timedelta(days=round(median(recent))), holidays)
        if len(recent) == 3
        else out["due"]
    )
    history = past[-DATE_HIST:]
    weekday = _habit([paid.weekday() for _i, _d, paid, _a in history], WEEKDAY_SHARE)
    key = _habit([monthday_key(paid) for _i, _d, paid, _a in history], MONTHDAY_SHARE)
    for name, habit, run in (
        ("weekday", weekday, _weekday_run),
        ("monthday", key, _monthday_run),
    ):
        if habit is None or not n:
            out[name] = out["due"]
            continue
        wait = median(
            [(paid - run(d, habit, holidays)).days for _i, d, paid, _a in last]
        )
        out[name] = run(due, habit, holidays) + timedelta(days=round(wait))
        if round(wait):
            out[name] = next_business_day(out[name], holidays)
    return out


def date_backtest(s, prior, holidays=()):
    """{predictor: [actual - predicted, in days]} on the customer's latest
    DATE_BACKTEST paid invoices, each predicted from those paid before it."""
    chrono = s.paid_rows[::-1]
    errors = {name: [] for name in DATE_PREDICTORS}
    for j in range(max(len(chrono) - DATE_BACKTEST, 1), len(chrono)):
        invoice_date, due, paid_on, _amount = chrono[j]
        candidates = date_candidates(chrono[:j], prior, invoice_date, due, holidays)
        for name, day in candidates.items():
            errors[name].append((paid_on - day).days)
    return errors


def date_choice(s, prior, holidays=()):
    """The customer's predictor and its back-test residuals: the company's
    (``prior.date_default``) unless the customer's own record prefers another by
    DATE_MARGIN days on average. Cached on ``s``."""
    cached = s.date_model
    if cached is not None:
        return cached
    choice, residuals = prior.date_default, []
    if len(s.paid_rows) >= DATE_MIN_OWN:
        errors = date_backtest(s, prior, holidays)
        mae = {
            name: sum(abs(e) for e in values) / len(values)
            for name, values in errors.items()
            if values
        }
        if mae:
            best = min(mae, key=mae.get)
            if (
                mae[best] + DATE_MARGIN > mae[choice]
                or mae[best] > (1 - DATE_GAIN) * mae[choice]
            ):
                best = choice
            choice, residuals = best, errors[best]
    s.date_model = (choice, residuals)
    return s.date_model


def residual_band(residuals, prior):
    """10th and 90th percentile of a customer's date errors, shrunk toward the
    company's (``prior.resid_q``)."""
    if not residuals:
        return list(prior.resid_q)
    own = percentiles(residuals, (0.1, 0.9))
    return shrunk_quantiles(own, len(residuals), prior.resid_q, SHRINK)


def payment_dates(
    s, prior, today, invoice_date, due, holidays=(), rule=False, scale=1.0
):
    """Predicted payment date and its 10th-90th percentile interval.

    The date comes from the predictor that did best on the customer's own latest
    payments (see :data:`DATE_PREDICTORS`), the company's for a short record;
    the interval from that predictor's errors there, shrunk toward the company's
    and widened by ``scale``, the factor with which the company's back-test holds
    8 payments in 10. Every date is a business day. ``rule``: rule 2 instead
    (issue date + median days-to-pay, no shrinking), when the back-test found it
    better on the company's history.
    """
    if rule:
        dtp = s.dtp_q[1] if s.dtp_q else prior.dtp_q[1]
        day = invoice_date + timedelta(days=round(dtp))
        low = high = day
    else:
        choice, residuals = date_choice(s, prior, holidays)
        day = date_candidates(
            s.paid_rows[::-1], prior, invoice_date, due, holidays, names=(choice,)
        )[choice]
        q_low, q_high = residual_band(residuals, prior)
        low = next_business_day(
            day + timedelta(days=math.floor(scale * q_low)), holidays
        )
        high = next_business_day(
            day + timedelta(days=math.ceil(scale * q_high)), holidays
        )
    start = max(today, invoice_date)
    if day < start:
        # Not paid by the date it was expected: soon, but not in the past.
        shift = (next_business_day(
            start + timedelta(days=OVERDUE_HORIZON_DAYS if due < today else 0),
            holidays,
        ) - day)  # fmt: skip
        day, low, high = day + shift, low + shift, high + shift
    low = min(max(low, start), day)
    high = max(high, day)
    return day, low, high


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
                        payment_dates(s, prior, t, invoice_date, due, rule=True)[0],
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
        s.date_model = None
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
    if report["blend"] == 0 or report["model"]["auc"] < MIN_AUC:
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


def log_loss(probabilities, labels):
    eps = 1e-6
    return -sum(
        math.log(clip(p, eps, 1 - eps)) if y else math.log(clip(1 - p, eps, 1 - eps))
        for p, y in zip(probabilities, labels, strict=True)
    ) / max(len(labels), 1)


def reliability(probabilities, labels, bins=10):
    """Per equal-width bin of predicted probability: [low, high, invoices, mean
    predicted, observed late share] (bins without invoices left out)."""
    counts = [[0, 0.0, 0] for _ in range(bins)]
    for p, y in zip(probabilities, labels, strict=True):
        cell = counts[min(int(p * bins), bins - 1)]
        cell[0] += 1
        cell[1] += p
        cell[2] += y
    return [
        [i / bins, (i + 1) / bins, n, total / n, late / n]
        for i, (n, total, late) in enumerate(counts)
        if n
    ]


def ece(probabilities, labels, bins=10):
    """Expected calibration error: the invoice-weighted gap between predicted and
    observed late share over equal-width bins."""
    if not labels:
        return None
    return sum(
        n * abs(mean - observed)
        for _lo, _hi, n, mean, observed in reliability(probabilities, labels, bins)
    ) / len(labels)


def classifier_figures(probabilities, labels):
    return {
        "auc": auc(probabilities, labels),
        "accuracy": accuracy(probabilities, labels),
        "brier": brier(probabilities, labels),
        "ece": ece(probabilities, labels),
    }


def date_figures(predicted, actual):
    """Mean absolute error in days, share within 3 and within 7 days."""
    errors = [abs((p - a).days) for p, a in zip(predicted, actual, strict=True)]
    n = len(errors)
    if not n:
        return {}
    return {
        "mae": sum(errors) / n,
        "within3": sum(e <= 3 for e in errors) / n,
        "within7": sum(e <= 7 for e in errors) / n,
    }
