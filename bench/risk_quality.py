"""The risk model against the two simple rules, on a real history and on synthetic
ledgers, side by side.

The evaluation the model must pass freezes a real ledger at a cut-off, scores the
invoices issued after it with what was known at the cut-off, and compares with what
happened. This script does the same, running the model exactly as the scheduled
action does at the cut-off (``tools/risk_model.py``: customer sample, training
snapshots, back-test, calibration, fit, invoice prediction), and prints for the
model and for both rules:

- late or not: AUC, accuracy at 0.5, Brier score, expected calibration error
  (10 equal-width bins);
- payment date: mean absolute error in days, share within 3 and within 7 days.

The rules are those any clerk computes in a spreadsheet, with the history known at
the cut-off: (1) the customer's own past late rate (the company's for a newcomer);
(2) issue date + the customer's median days-to-pay over its last 10 paid invoices
(the company's median for a newcomer).

Data:

- ``--real DIR`` (default ``../shared/data/h2h_closed`` beside the repository):
  ``invoices.csv`` with ``customer, invoice_date, due_date, paid_date, amount``.
  It is read where it is, never copied into the project. When ``invoice_date`` is
  empty (as in h2h_closed) the issue date is taken as the due date minus
  ``--term`` days (30 by default): an assumption, printed with the figures. The
  cut-off is the issue date at the 65% quantile, as in ``baselines.py``.
- synthetic ledgers (``--seeds``): 100 customers, about 2,500 invoices, a third
  paid late, with liquidity crunches, drifting customers and newcomers;
- synthetic payer habits (``--seeds``): 100 customers paying on a weekly check
  run, a monthly run (month end or a fixed day), a constant lag after issue or
  after the due date, or drifting, terms varying per invoice, one payment in ten
  a surprise: whether the date model finds regularities real payers show;
- synthetic steady payers (``--seeds``): 100 customers each paying its own number
  of days after issue, give or take about a week, nothing changing over time:
  where the two rules are close to the best possible, and the model must match
  them.

Pure Python, no Odoo needed: ``python3 bench/risk_quality.py [--seeds 5]``.
``--sklearn`` adds scikit-learn's learners on the same features and snapshots
(run it with a Python that has scikit-learn, e.g. ``$VENV/bin/python``).
"""

import argparse
import importlib
import math
import random
import statistics
import sys
import time
import types
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from generate_receivables import read_history

ROOT = Path(__file__).resolve().parent.parent
# The addon's ``tools`` folder as a package of its own, so that the relative
# imports between its modules resolve, without running its ``__init__.py`` (which
# imports Odoo).
tools = types.ModuleType("cp_tools")
tools.__path__ = [str(ROOT / "collections_proactive" / "tools")]
sys.modules["cp_tools"] = tools
rm = importlib.import_module("cp_tools.risk_model")

START = date(2024, 1, 1)
CUT_OFF = date(2025, 9, 1)
END = date(2026, 1, 1)
WINDOW = 365
# What the engine reads to learn (``collection.risk.scoring``): a seeded sample of
# customers up to this many invoices.
MAX_TRAINING_INVOICES = 8000


# ----------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------


def simulate(seed, customers=100, invoices_per_customer=25):
    """{customer: [(invoice_date, due, paid_on, amount)]}, the full truth."""
    rng = random.Random(seed)
    ledger = {}
    span = (END - START).days
    for customer in range(customers):
        kind = rng.random()
        if kind < 0.55:
            propensity, lateness = rng.uniform(0.02, 0.15), rng.uniform(3, 12)
        elif kind < 0.8:
            propensity, lateness = rng.uniform(0.25, 0.55), rng.uniform(5, 25)
        else:
            propensity, lateness = rng.uniform(0.6, 0.95), rng.uniform(15, 60)
        drift = rng.choice([0.0] * 7 + [0.35, 0.35, -0.2])
        drift_from = START + timedelta(days=rng.randint(200, span - 60))
        first = START + timedelta(days=rng.randint(0, 400) if rng.random() < 0.2 else 0)
        base_amount = math.exp(rng.gauss(13, 1))
        count = max(3, int(rng.gauss(invoices_per_customer, 6)))
        crunch = None
        rows = []
        for _ in range(count):
            invoice_date = first + timedelta(
                days=rng.randint(0, max((END - first).days, 1))
            )
            if rng.random() < 0.03:
                # A liquidity crunch: for a few weeks everything is paid late.
                crunch = (
                    invoice_date,
                    invoice_date + timedelta(days=rng.randint(20, 70)),
                )
            term = rng.choice([30, 30, 30, 15, 45, 60])
            due = invoice_date + timedelta(days=term)
            amount = round(base_amount * math.exp(rng.gauss(0, 0.5)))
            p = propensity + (drift if invoice_date >= drift_from else 0.0)
            p += 0.08 * math.log(amount / base_amount)
            if crunch and crunch[0] <= invoice_date <= crunch[1]:
                p += 0.5
            late = rng.random() < min(max(p, 0.01), 0.99)
            if late:
                paid_on = due + timedelta(
                    days=max(1, round(rng.expovariate(1 / lateness)))
                )
            else:
                paid_on = due - timedelta(days=rng.randint(0, min(term, 12)))
            rows.append((invoice_date, due, paid_on, float(amount)))
        ledger[customer] = sorted(rows)
    return ledger


def simulate_habits(seed, customers=100, invoices_per_customer=30):
    """A ledger of payers with the regularities real B2B payers show, to see
    whether the payment-date model finds them: a weekly check run, a monthly
    payment run (month end or a fixed day), a constant lag after the issue date
    whatever the terms, a constant lag after the due date, a drift; terms vary
    per invoice, and one payment in ten is a surprise (weeks late)."""
    rng = random.Random(1000 + seed)
    ledger = {}
    span = (END - START).days
    for customer in range(customers):
        habit = rng.choice(
            ["due_lag", "issue_lag", "check_run", "month_end", "fixed_day", "drift"]
        )
        lag = rng.choice([-5, -2, 0, 0, 2, 5, 10, 15])
        issue_lag = rng.randint(20, 60)
        weekday = rng.choice([0, 1, 3, 4])
        fixed_day = rng.choice([5, 10, 15, 20, 25])
        terms = rng.sample([15, 30, 30, 45, 60], 2)
        base_amount = math.exp(rng.gauss(12, 1))
        first = START + timedelta(days=rng.randint(0, 300) if rng.random() < 0.2 else 0)
        rows = []
        for _ in range(max(3, int(rng.gauss(invoices_per_customer, 8)))):
            invoice_date = first + timedelta(
                days=rng.randint(0, max((END - first).days, 1))
            )
            due = invoice_date + timedelta(days=rng.choice(terms))
            noise = round(rng.gauss(0, 1.5))
            if habit == "issue_lag":
                paid_on = invoice_date + timedelta(days=issue_lag + noise)
            else:
                drift = lag
                if habit == "drift":
                    drift += round(15 * (invoice_date - START).days / span)
                paid_on = due + timedelta(days=drift + noise)
                if habit == "check_run":
                    paid_on += timedelta(days=(weekday - paid_on.weekday()) % 7)
                elif habit == "month_end":
                    paid_on = _month_end(paid_on)
                elif habit == "fixed_day":
                    run = paid_on.replace(day=fixed_day)
                    if run < paid_on:
                        run = _month_end(paid_on) + timedelta(days=fixed_day)
                    paid_on = run
            if rng.random() < 0.1:
                paid_on += timedelta(days=round(rng.expovariate(1 / 20)))
            while paid_on.weekday() >= 5:
                paid_on -= (
                    timedelta(days=1) if habit == "month_end" else -timedelta(days=1)
                )
            amount = round(base_amount * math.exp(rng.gauss(0, 0.5)))
            rows.append((invoice_date, due, paid_on, float(amount)))
        ledger[customer] = sorted(rows)
    return ledger


def simulate_steady(seed, customers=100, invoices_per_customer=25):
    """A ledger of steady payers, where the two rules are close to the best one
    can do: each customer pays its own number of days after issue (20 to 60)
    give or take about a week, on business days, terms of 30 days, nothing
    changing over time. A model must at least match the rules here."""
    rng = random.Random(2000 + seed)
    ledger = {}
    span = (END - START).days
    for customer in range(customers):
        mean_days = rng.choice([20, 25, 30, 30, 35, 40, 50, 60])
        spread = rng.uniform(4, 12)
        rows = []
        for _ in range(max(3, int(rng.gauss(invoices_per_customer, 6)))):
            invoice_date = START + timedelta(days=rng.randint(0, span))
            paid_on = invoice_date + timedelta(
                days=max(1, round(rng.gauss(mean_days, spread)))
            )
            while paid_on.weekday() >= 5:
                paid_on += timedelta(days=1)
            amount = float(round(math.exp(rng.gauss(9, 1))))
            rows.append(
                (invoice_date, invoice_date + timedelta(days=30), paid_on, amount)
            )
        ledger[customer] = sorted(rows)
    return ledger


def _month_end(day):
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def ledger_of(history):
    """{customer: [(issued, due, paid_on, amount)]} of :func:`read_history`'s rows,
    by issue date, then as listed in the file: the order in which the engine
    reads the same history from Odoo (invoice date, then id)."""
    ledger = defaultdict(list)
    for index, (customer, issued, due, paid_on, amount) in enumerate(history):
        ledger[customer].append((issued, index, due, paid_on, amount))
    return {
        c: [(issued, *rest) for issued, _index, *rest in sorted(rows)]
        for c, rows in ledger.items()
    }


def read_real(directory, term):
    """{customer: rows} from ``invoices.csv`` (see :func:`read_history`), and
    whether issue dates were assumed."""
    history, assumed = read_history(Path(directory) / "invoices.csv", term)
    return ledger_of(history), assumed


def as_of(rows, today):
    """What the ledger shows at ``today``: later invoices absent, later payments
    not yet made."""
    return [
        (d, due, paid if paid and paid <= today else None, amount)
        for d, due, paid, amount in rows
        if d <= today
    ]


def cut_off_of(truth):
    dates = sorted(row[0] for rows in truth.values() for row in rows)
    return dates[int(0.65 * len(dates))]


# ----------------------------------------------------------------------------
# The engine at the cut-off, and the two rules
# ----------------------------------------------------------------------------


def training_sample(known, today, window_days, seed=1):
    """The customers the engine reads to learn: a seeded shuffle, up to
    MAX_TRAINING_INVOICES invoices over two windows (the engine seeds it with the
    company's id and lists the customers by id)."""
    start = today - timedelta(days=2 * window_days)
    counts = [
        (c, sum(1 for row in rows if row[1] >= start))
        for c, rows in sorted(known.items(), key=lambda kv: str(kv[0]))
    ]
    counts = [(c, n) for c, n in counts if n]
    random.Random(seed).shuffle(counts)
    chosen, total = {}, 0
    for customer, count in counts:
        if total >= MAX_TRAINING_INVOICES:
            break
        chosen[customer] = [row for row in known[customer] if row[1] >= start]
        total += count
    return chosen


def run_engine(known, today, tests, holidays=(), seed=1):
    """The model's (probability, predicted date, low, high) for each test
    invoice ``(customer, issued, due, amount)``, and the learnt parameters."""
    sample = training_sample(known, today, WINDOW, seed)
    params = rm.learn(sample, today, WINDOW, holidays=holidays)
    window_start = today - timedelta(days=WINDOW)
    stats = {
        c: rm.stats_from_history(rows, today, window_start) for c, rows in known.items()
    }
    empty = rm.stats_from_history([], today, window_start)
    predictor = rm.Predictor(params)
    out = []
    for customer, issued, due, amount in tests:
        out.append(
            rm.predict_invoice(
                predictor,
                stats.get(customer, empty),
                today,
                issued,
                due,
                amount,
                holidays=holidays,
            )
        )
    return out, params


def run_sklearn(known, today, tests):
    """The same features and training snapshots as the engine, learnt by
    scikit-learn instead: gradient-boosted trees, and a logistic regression
    calibrated by cross-validation. {name: [probability per test invoice]}."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sample = training_sample(known, today, WINDOW)
    prior = rm.company_prior(sample, today, WINDOW)
    samples = rm.training_samples(sample, today, WINDOW, prior)
    rows = [s.row for s in samples]
    labels = [s.late for s in samples]
    window_start = today - timedelta(days=WINDOW)
    stats = {
        c: rm.stats_from_history(rows_, today, window_start)
        for c, rows_ in known.items()
    }
    empty = rm.stats_from_history([], today, window_start)
    test_rows = [
        rm.features(
            stats.get(c, empty),
            prior,
            (due - max(today, issued)).days,
            amount,
            due,
        )
        for c, issued, due, amount in tests
    ]
    learners = {
        "sklearn HistGradientBoosting": HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, random_state=0
        ),
        "sklearn LogisticRegression + CalibratedClassifierCV": CalibratedClassifierCV(
            make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500)),
            method="isotonic",
            cv=5,
        ),
    }
    out = {}
    for name, learner in learners.items():
        start = time.perf_counter()
        learner.fit(rows, labels)
        out[name] = (
            [float(p) for p in learner.predict_proba(test_rows)[:, 1]],
            time.perf_counter() - start,
        )
    return out


def run_rules(known, today, tests):
    """Rule 1's probability and rule 2's date for each test invoice."""
    late, dtp = {}, {}
    all_late, all_dtp = [], []
    for customer, rows in known.items():
        paid = [row for row in rows if row[2] is not None]
        if not paid:
            continue
        flags = [row[2] > row[1] for row in paid]
        late[customer] = sum(flags) / len(flags)
        all_late.extend(flags)
        last = sorted(paid, key=lambda row: (row[2], row[0]))[-10:]
        dtp[customer] = statistics.median((row[2] - row[0]).days for row in last)
        all_dtp.extend((row[2] - row[0]).days for row in paid)
    g_late = sum(all_late) / len(all_late)
    g_dtp = statistics.median(all_dtp)
    return [
        (
            late.get(customer, g_late),
            issued + timedelta(days=round(dtp.get(customer, g_dtp))),
        )
        for customer, issued, _due, _amount in tests
    ]


# ----------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------


def date_metrics(predicted, actual):
    errors = [abs((p - a).days) for p, a in zip(predicted, actual, strict=True)]
    n = len(errors)
    return (
        sum(errors) / n,
        sum(e <= 3 for e in errors) / n,
        sum(e <= 7 for e in errors) / n,
    )


def figures(probabilities, labels, predicted, actual, low=None, high=None):
    out = {}
    if probabilities is not None:
        out.update(
            auc=rm.auc(probabilities, labels),
            accuracy=rm.accuracy(probabilities, labels),
            brier=rm.brier(probabilities, labels),
            ece=rm.ece(probabilities, labels),
        )
    if predicted is not None:
        out["mae"], out["within3"], out["within7"] = date_metrics(predicted, actual)
    if low is not None:
        inside = [lo <= a <= hi for lo, a, hi in zip(low, actual, high, strict=True)]
        out["interval"] = sum(inside) / len(inside)
    return out


def evaluate(truth, today=None, holidays=(), sklearn=False):
    today = today or cut_off_of(truth)
    known = {c: as_of(rows, today) for c, rows in truth.items()}
    known = {c: rows for c, rows in known.items() if rows}
    tests, labels, actual = [], [], []
    for customer, rows in truth.items():
        for issued, due, paid_on, amount in rows:
            if issued >= today and paid_on is not None:
                tests.append((customer, issued, due, amount))
                labels.append(int(paid_on > due))
                actual.append(paid_on)
    start = time.perf_counter()
    engine, params = run_engine(known, today, tests, holidays)
    seconds = time.perf_counter() - start
    rules = run_rules(known, today, tests)
    model = figures(
        [e[0] for e in engine],
        labels,
        [e[1] for e in engine],
        actual,
        [e[2] for e in engine],
        [e[3] for e in engine],
    )
    rule1 = figures([r[0] for r in rules], labels, None, actual)
    extra = []
    if sklearn:
        for name, (probabilities, fit_seconds) in run_sklearn(
            known, today, tests
        ).items():
            extra.append(
                (
                    f"{name} (fit {fit_seconds:.1f} s)",
                    figures(probabilities, labels, None, actual),
                )
            )
    rule2 = figures(None, labels, [r[1] for r in rules], actual)
    info = {
        "cut-off": today,
        "invoices scored": len(tests),
        "late share": sum(labels) / len(labels),
        "learn seconds": seconds,
        "mode": params.get("mode"),
        "calibration": (params.get("calibration") or {}).get("kind"),
    }
    info["extra"] = extra
    return info, model, rule1, rule2


COLUMNS = (
    ("auc", "AUC", "{:.3f}"),
    ("accuracy", "accuracy", "{:.3f}"),
    ("brier", "Brier", "{:.3f}"),
    ("ece", "ECE", "{:.3f}"),
    ("mae", "date MAE (d)", "{:.2f}"),
    ("within3", "within 3 d", "{:.1%}"),
    ("within7", "within 7 d", "{:.1%}"),
    ("interval", "in 10-90% interval", "{:.1%}"),
)


def print_table(title, info, model, rule1, rule2):
    info = dict(info)
    extra = info.pop("extra", [])
    print(f"\n### {title}")
    print(", ".join(f"{k}: {v}" for k, v in info.items() if v is not None))
    print("| | " + " | ".join(label for _k, label, _f in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, values in (
        ("model", model),
        ("rule 1: customer's past late rate", rule1),
        ("rule 2: median days-to-pay, last 10", rule2),
        *extra,
    ):
        cells = [
            fmt.format(values[key]) if values.get(key) is not None else ""
            for key, _label, fmt in COLUMNS
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


def add_history_args(parser):
    """``--real`` (the real history's folder) and ``--term``, shared with
    ``risk_quality_odoo.py``."""
    parser.add_argument(
        "--real", default=str(ROOT.parent / "shared" / "data" / "h2h_closed")
    )
    parser.add_argument(
        "--term",
        type=int,
        default=30,
        help="days from issue to due assumed when the data has no issue date",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    add_history_args(parser)
    parser.add_argument(
        "--sample",
        type=int,
        default=0,
        help="score random samples of this many customers of the real history"
        " (a smaller company), one per --seeds, instead of the whole history:"
        " their mean (--verbose: each)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="one table per seed or sample too"
    )
    parser.add_argument(
        "--sklearn",
        action="store_true",
        help="also scikit-learn's HistGradientBoostingClassifier and calibrated"
        " LogisticRegression on the same features and snapshots (needs"
        " scikit-learn in the Python running this)",
    )
    args = parser.parse_args()
    if args.real and (Path(args.real) / "invoices.csv").exists():
        truth, assumed = read_real(args.real, args.term)
        title = f"real history: {args.real}"
        if assumed:
            title += f" (no issue dates: issue = due - {args.term} days, assumed)"
        if args.sample:
            customers = sorted(truth, key=str)
            print_means(
                f"{title}, samples of {args.sample} customers",
                (
                    (
                        f"sample {seed}",
                        {
                            c: truth[c]
                            for c in random.Random(seed).sample(customers, args.sample)
                        },
                        None,
                    )
                    for seed in range(args.seeds)
                ),
                args,
                "samples",
            )
            return
        print_table(title, *evaluate(truth, sklearn=args.sklearn))
    for label, simulator in (
        ("synthetic ledger", simulate),
        ("synthetic payer habits", simulate_habits),
        ("synthetic steady payers", simulate_steady),
    ):
        print_means(
            label,
            ((f"seed {seed}", simulator(seed), CUT_OFF) for seed in range(args.seeds)),
            args,
        )


def print_means(label, ledgers, args, unit="seeds"):
    """The figures of each ledger ``(name, truth, today)`` (with ``--verbose``)
    and their mean over all of them."""
    totals, names, runs = defaultdict(list), ["model", "rule1", "rule2"], 0
    for name, truth, today in ledgers:
        info, *results = evaluate(truth, today, sklearn=args.sklearn)
        runs += 1
        if args.verbose:
            print_table(f"{label}, {name}", info, *results)
        extra = [(n.split(" (fit")[0], values) for n, values in info["extra"]]
        for n, values in zip(names[:3], results, strict=True):
            for key, value in values.items():
                totals[n, key].append(value)
        for n, values in extra:
            if n not in names:
                names.append(n)
            for key, value in values.items():
                totals[n, key].append(value)
    if not runs:
        return
    mean = {
        name: {key: statistics.mean(v) for (n, key), v in totals.items() if n == name}
        for name in names
    }
    print_table(
        f"{label}, mean over {runs} {unit}",
        {"extra": [(name, mean[name]) for name in names[3:]]},
        mean["model"],
        mean["rule1"],
        mean["rule2"],
    )


if __name__ == "__main__":
    main()
