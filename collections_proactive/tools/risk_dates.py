"""Payment date of an invoice: candidate predictors, each customer's picked by its
own record, and the 10th-90th percentile interval around it (see
:func:`payment_dates`)."""

import functools
import math
from datetime import timedelta

from .risk_stats import (
    DATE_BACKTEST,
    DATE_HIST,
    DATE_N,
    SHRINK,
    is_business_day,
    next_business_day,
    percentiles,
    shrink,
    shrunk_quantiles,
    weekday_on_or_after,
)

# A customer needs this many paid invoices before its own back-test picks its
# predictor; below, the company's choice applies.
DATE_MIN_OWN = 4
# Pseudo-invoices of the company's median mixed into a customer's median delay and
# days-to-pay: its own median is the best guess of its next payment even from a
# few invoices (a weight of 1 pulled a customer who pays far from the company's
# typical delay toward it: up to 0.07 days more error on the real history's
# samples and on the payer-habit ledgers of bench/risk_quality.py).
DATE_MEDIAN_SHRINK = 0.3
# An overdue invoice whose expected payment date has passed is expected next week.
OVERDUE_HORIZON_DAYS = 7
# The issue date anchors the payment date only when the customer's days after
# issue spread this much less than its days after the due date.
ANCHOR_MARGIN = 2


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
# A weekday or day-of-month habit needs this many days paid on it, and this share
# of the days the customer paid (by chance a fifth fall on any weekday).
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


@functools.lru_cache(maxsize=1 << 14)
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


# Pure functions of a date and the company's holidays, called for every paid
# invoice of every customer (each appears in up to DATE_BACKTEST back-test steps):
# cached, a ledger has a few hundred distinct dates.
@functools.lru_cache(maxsize=1 << 16)
def _monthday_run(day, key, holidays=()):
    """The first run date (see :func:`_monthday_dates`) on or after ``day``."""
    return min(run for run in _monthday_dates(day, key, holidays) if run >= day)


def _frozen(holidays):
    """The holidays as a cache key."""
    return holidays if isinstance(holidays, frozenset) else frozenset(holidays)


@functools.lru_cache(maxsize=1 << 14)
def _business_day(day, holidays):
    return next_business_day(day, holidays)


# A customer's paid invoices are read over and over in its back-test and its
# open invoices' predictions, one customer after the other: a few thousand
# entries hold the current one's.
@functools.lru_cache(maxsize=1 << 12)
def _row_facts(row):
    """What the predictors read of a paid invoice ``(invoice_date, due, paid_on,
    amount)``: days paid after the due date as payers see it, days after issue,
    the term, the weekday and the day-of-month key it was paid on, the day."""
    invoice_date, due, paid, _amount = row
    return (
        (paid - weekday_on_or_after(due)).days,
        (paid - invoice_date).days,
        (due - invoice_date).days,
        paid.weekday(),
        monthday_key(paid),
        paid,
    )


def _habit(counts, n, share):
    """The most frequent value of ``counts`` ({value: count} over ``n`` days
    paid) if it occurs at least HABIT_MIN times and makes ``share`` of them,
    else None (of equally frequent values, the lowest)."""
    if not counts:
        return None
    top = max(counts.values())
    if top < max(HABIT_MIN, share * n):
        return None
    return min(value for value, count in counts.items() if count == top)


def _count(counts, value, step=1):
    counts[value] = counts.get(value, 0) + step
    if not counts[value]:
        del counts[value]


class _Habits:
    """The weekdays and day-of-month keys a customer paid on, counted over the
    distinct days it paid: a payment run settling twenty invoices is one day of
    payment, not twenty (counted per invoice, a single large run made a
    day-of-month habit of a customer that pays whenever its invoices fall due).
    Payments come and go one invoice at a time (:meth:`add`, step -1 to drop)."""

    __slots__ = ("days", "keys", "weekdays")

    def __init__(self, facts=()):
        self.days, self.weekdays, self.keys = {}, {}, {}
        for fact in facts:
            self.add(fact)

    def add(self, fact, step=1):
        count = self.days.get(fact[5], 0) + step
        if count:
            self.days[fact[5]] = count
        else:
            del self.days[fact[5]]
        if count == (1 if step > 0 else 0):
            _count(self.weekdays, fact[3], step)
            _count(self.keys, fact[4], step)

    def habits(self):
        n = len(self.days)
        return (
            _habit(self.weekdays, n, WEEKDAY_SHARE),
            _habit(self.keys, n, MONTHDAY_SHARE),
        )


def _habits(history):
    """The weekday and the day-of-month key the customer pays on, or None, from
    the :func:`_row_facts` of its latest paid invoices."""
    return _Habits(history).habits()


def date_anchors(last, facts, prior, holidays, habits):
    """What the candidates read of a customer's paid invoices ``last`` (its
    latest DATE_N, oldest first) whose :func:`_row_facts` are ``facts``, the
    same for each invoice predicted: the shrunk median delay after the due date
    and days after issue, the usual term, the median of the last 3 delays (None
    with fewer) and, per habit of ``habits`` (see :func:`_habits`), the habit
    and the median wait after its run date (None without the habit)."""
    n = len(last)
    delays = [f[0] for f in facts]
    delay = shrink(
        median(delays) if n else 0.0, n, prior.delay_q[1], DATE_MEDIAN_SHRINK
    )
    dtp = shrink(
        median([f[1] for f in facts]) if n else 0.0,
        n,
        prior.dtp_q[1],
        DATE_MEDIAN_SHRINK,
    )
    usual = sum(f[2] for f in facts) / n if n else prior.term
    recent = median(delays[-3:]) if n >= 3 else None
    runs = []
    for habit, run in zip(habits, (_weekday_run, _monthday_run), strict=True):
        if habit is None or not n:
            runs.append(None)
            continue
        wait = median(
            [(paid - run(d, habit, holidays)).days for _i, d, paid, _a in last]
        )
        runs.append((run, habit, wait))
    return delay, dtp, usual, recent, runs


def anchored_dates(anchors, invoice_date, due, holidays, names=None):
    """{predictor: date} for an invoice issued on ``invoice_date`` and due on
    ``due``, from the customer's :func:`date_anchors` (only ``due`` and
    ``issue`` when ``names`` asks for no other)."""
    delay, dtp, usual, recent, runs = anchors
    # A later due date than usual (a second installment) is not paid before it is
    # due: the issue-anchored dates move by the extra days.
    extra = max((due - invoice_date).days - usual, 0)
    bdue = weekday_on_or_after(due)
    out = {
        "due": _business_day(bdue + timedelta(days=round(delay)), holidays),
        "issue": _business_day(
            invoice_date + timedelta(days=round(dtp + extra)), holidays
        ),
    }
    if names is not None and not any(name not in ("due", "issue") for name in names):
        return out
    out["recent"] = (
        _business_day(bdue + timedelta(days=round(recent)), holidays)
        if recent is not None
        else out["due"]
    )
    for name, habit_run in zip(("weekday", "monthday"), runs, strict=True):
        if habit_run is None:
            out[name] = out["due"]
            continue
        run, habit, wait = habit_run
        out[name] = run(due, habit, holidays) + timedelta(days=round(wait))
        if round(wait):
            out[name] = _business_day(out[name], holidays)
    return out


def past_anchors(past, prior, holidays, names=None, habits=None):
    """The :func:`date_anchors` of ``past``: the customer's paid invoices
    ``(invoice_date, due, paid_on, amount)``, oldest first; the habits only if
    ``names`` asks for a predictor that reads them. ``habits``: the
    :func:`_habits` of ``past``, when the caller has them."""
    last = past[-DATE_N:]
    if names is not None and not any(name not in ("due", "issue") for name in names):
        habits = (None, None)
    elif habits is None:
        habits = _habits([_row_facts(tuple(row)) for row in past[-DATE_HIST:]])
    facts = [_row_facts(tuple(row)) for row in last]
    return date_anchors(last, facts, prior, holidays, habits)


def date_candidates(
    past, prior, invoice_date, due, holidays=(), names=None, habits=None
):
    """{predictor: date} for an invoice, from ``past`` (see :func:`past_anchors`).
    A short record leans on the company's figures (``prior``)."""
    holidays = _frozen(holidays)
    anchors = past_anchors(past, prior, holidays, names, habits)
    return anchored_dates(anchors, invoice_date, due, holidays, names)


def date_backtest(s, prior, holidays=()):
    """{predictor: [actual - predicted, in days]} on the customer's latest
    DATE_BACKTEST paid invoices, each predicted from those paid before it."""
    holidays = _frozen(holidays)
    chrono = s.paid_rows[::-1]
    facts = [_row_facts(tuple(row)) for row in chrono]
    errors = {name: [] for name in DATE_PREDICTORS}
    start = max(len(chrono) - DATE_BACKTEST, 1)
    # The habits of the DATE_HIST invoices before each step, kept step by step.
    window = _Habits(facts[max(start - DATE_HIST, 0) : start])
    for j in range(start, len(chrono)):
        invoice_date, due, paid_on, _amount = chrono[j]
        habits = window.habits()
        first = max(j - DATE_N, 0)
        anchors = date_anchors(chrono[first:j], facts[first:j], prior, holidays, habits)
        for name, day in anchored_dates(anchors, invoice_date, due, holidays).items():
            errors[name].append((paid_on - day).days)
        window.add(facts[j])
        if j >= DATE_HIST:
            window.add(facts[j - DATE_HIST], -1)
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
    (issue date + median days-to-pay, no shrinking, moved to a business day;
    the interval the customer's own 10th-90th percentile of days-to-pay), when
    the back-test found it better on the company's history.
    """
    holidays = _frozen(holidays)
    if rule:
        # Rule 2 on a business day, its interval the customer's own spread of
        # days-to-pay (its 10th and 90th percentiles, shrunk toward the
        # company's for a short record).
        dtp = s.dtp_q[1] if s.dtp_q else prior.dtp_q[1]
        day = _business_day(invoice_date + timedelta(days=round(dtp)), holidays)
        q_low, _mid, q_high = shrunk_quantiles(s.dtp_q, s.date_n, prior.dtp_q)
        low = _business_day(invoice_date + timedelta(days=math.floor(q_low)), holidays)
        high = _business_day(invoice_date + timedelta(days=math.ceil(q_high)), holidays)
    else:
        choice, residuals = date_choice(s, prior, holidays)
        if s.date_anchors is None or s.date_anchors[0] != choice:
            s.date_anchors = (
                choice,
                past_anchors(s.paid_rows[::-1], prior, holidays, names=(choice,)),
            )
        day = anchored_dates(
            s.date_anchors[1], invoice_date, due, holidays, names=(choice,)
        )[choice]
        q_low, q_high = residual_band(residuals, prior)
        low = _business_day(day + timedelta(days=math.floor(scale * q_low)), holidays)
        high = _business_day(day + timedelta(days=math.ceil(scale * q_high)), holidays)
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
