"""The risk model scored in real Odoo on a real history, against what happened.

``risk_quality.py`` runs the model's code (``tools/risk_model.py``) on the history
in plain Python. This script runs it the way a company meets it: the history is
written into an Odoo database as it stood at the cut-off (``generate_receivables.py
--history``: invoices and reconciled payments; a payment dated after the cut-off not
made yet; the invoices issued after it posted, unpaid), the scheduled action's full
recompute runs with the cut-off as today, and the predictions stored on the invoices
issued after the cut-off are compared with when they were really paid. Printed side
by side: what Odoo stored, the plain-Python run of the same model, the two rules,
and how far the two runs of the model differ invoice by invoice (the SQL statistics
against the Python ones, the same training customers drawn).

    $VENV/bin/python bench/risk_quality_odoo.py [--real DIR] [--db cp_quality]

It makes the template database ``cp_quality_tpl`` once (the addon, no demo data) and
copies it into ``--db`` for each run. The data is read where it is, never copied
into the project.
"""

import argparse
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import risk_quality as rq
from generate_receivables import read_history
from odoo_env import (
    REPO,
    add_odoo_path,
    clock,
    close_all,
    copy_database,
    drop_database,
    open_env,
    template_database,
)

HERE = Path(__file__).resolve().parent
# Later than any date of a history: with it, the ledger holds every payment.
LAST_DAY = date(2100, 1, 1)


def load(args, cut_off):
    """The history written into a fresh copy of the template, as of ``cut_off``
    (with ``--all-payments``, every payment made, later ones too): the
    company's id."""
    template = template_database("cp_quality_tpl", args.odoo_path)
    close_all()
    drop_database(args.db)
    copy_database(template, args.db)
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / "generate_receivables.py"),
            "--db",
            args.db,
            "--history",
            str(Path(args.real) / "invoices.csv"),
            "--history-term",
            str(args.term),
            "--today",
            (LAST_DAY if args.all_payments else cut_off).isoformat(),
            "--seed",
            "1",
            "--odoo-path",
            args.odoo_path,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if result.returncode:
        raise SystemExit(f"loading the history failed:\n{result.stdout}{result.stderr}")
    return int(re.search(r"company id (\d+)", result.stdout).group(1))


def score(args, company_id, cut_off):
    """Run the full recompute with ``cut_off`` as today; the stored predictions
    by row number: {row: (probability, date, low, high)}, and the seconds."""
    cr, env = open_env(args.db, args.odoo_path)
    try:
        company = env["res.company"].browse(company_id)
        scoring = env["collection.risk.scoring"].with_context(
            collection_risk_date=cut_off
        )
        start = clock()
        scoring._compute_risk(companies=company, full=True)
        env.flush_all()
        seconds = clock() - start
        cr.execute(
            """SELECT sequence_number, collection_late_probability,
                      collection_predicted_payment_date,
                      collection_predicted_date_low, collection_predicted_date_high
                 FROM account_move
                WHERE company_id = %s AND sequence_prefix = 'BINV1/'""",
            [company_id],
        )
        stored = {row[0]: row[1:] for row in cr.fetchall()}
        cr.commit()
    finally:
        cr.close()
    return stored, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    rq.add_history_args(parser)
    parser.add_argument("--db", default="cp_quality")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (dropped otherwise)"
    )
    parser.add_argument(
        "--all-payments",
        action="store_true",
        help="write the whole history, payments after the cut-off included, and"
        " score with the cut-off as today: the engine must ignore what it could"
        " not have known (a payment dated later counts as not made yet)",
    )
    add_odoo_path(parser)
    args = parser.parse_args()
    if not (Path(args.real) / "invoices.csv").exists():
        raise SystemExit(f"no invoices.csv in {args.real}")
    history, assumed = read_history(Path(args.real) / "invoices.csv", args.term)
    truth = rq.ledger_of(history)
    cut_off = rq.cut_off_of(truth)

    start = clock()
    company_id = load(args, cut_off)
    loaded = "with every payment" if args.all_payments else f"as of {cut_off}"
    print(f"history of {len(history)} invoices loaded {loaded}"
          f" in {clock() - start:.0f} s")  # fmt: skip
    stored, seconds = score(args, company_id, cut_off)
    print(f"full recompute at the cut-off: {seconds:.1f} s")

    # Issued after the cut-off and still unpaid at it (with assumed issue dates, a
    # few were paid before their "issue": prepaid, nothing to predict).
    rows = [
        (g, row)
        for g, row in enumerate(history)
        if row[1] >= cut_off and row[3] is not None and row[3] > cut_off
    ]
    prepaid = sum(1 for row in history if row[1] >= cut_off and row[3] <= cut_off)
    missing = [g for g, _row in rows if not stored.get(g) or stored[g][1] is None]
    if missing:
        raise SystemExit(f"{len(missing)} invoices issued after the cut-off have no"
                         " prediction stored")  # fmt: skip
    tests = [(c, issued, due, amount) for _g, (c, issued, due, _p, amount) in rows]
    labels = [int(paid > due) for _g, (_c, _i, due, paid, _a) in rows]
    actual = [paid for _g, (_c, _i, _d, paid, _a) in rows]
    odoo = [stored[g] for g, _row in rows]

    known = {c: rq.as_of(r, cut_off) for c, r in truth.items()}
    known = {c: r for c, r in known.items() if r}
    # The same training customers as the engine: its shuffle is seeded with the
    # company's id, over the customers in the order of their ids (the generator
    # numbers them as the file's customers sort).
    python, _params = rq.run_engine(known, cut_off, tests, seed=company_id)
    rules = rq.run_rules(known, cut_off, tests)

    def model_figures(predictions):
        return rq.figures(
            [float(p[0]) for p in predictions],
            labels,
            [p[1] for p in predictions],
            actual,
            [p[2] for p in predictions],
            [p[3] for p in predictions],
        )

    title = f"real history in Odoo: {args.real}"
    if assumed:
        title += f" (no issue dates: issue = due - {args.term} days, assumed)"
    info = {
        "cut-off": cut_off,
        "invoices scored": len(tests),
        "left out, paid before the cut-off": prepaid,
        "late share": sum(labels) / len(labels),
        "extra": [("model, plain Python run", model_figures(python))],
    }
    rq.print_table(
        title,
        info,
        model_figures(odoo),
        rq.figures([r[0] for r in rules], labels, None, actual),
        rq.figures(None, labels, [r[1] for r in rules], actual),
    )
    pairs = list(zip(odoo, python, strict=True))
    gaps = [abs(float(o[0]) - p[0]) for o, p in pairs]
    same_date = sum(o[1] == p[1] for o, p in pairs)
    near_date = sum(abs((o[1] - p[1]).days) <= 1 for o, p in pairs)
    print(
        f"\nOdoo against the plain-Python run, invoice by invoice: probability"
        f" differs by {sum(gaps) / len(gaps):.4f} on average (at most"
        f" {max(gaps):.4f}); same expected date for {same_date} of {len(odoo)}"
        f" ({same_date / len(odoo):.1%}), within a day for {near_date}"
    )
    if not args.keep:
        close_all()
        drop_database(args.db)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PGAPPNAME", "risk_quality_odoo")
    sys.exit(main())
