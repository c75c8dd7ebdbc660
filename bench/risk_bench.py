"""Measure the risk scoring engine on a large ledger, against a naive way and the floor.

Run on a database filled by ``bench/generate_receivables.py``::

    $VENV/bin/python bench/risk_bench.py --db bench_big [--company-id N]

It prints, for the company's whole ledger:

- the full recompute (model fit included): customers, invoices, seconds;
- the full recompute a week later, over what the first one stored (the weekly
  full run as it goes in use: most predictions move, alerts are raised);
- an incremental recompute after 1% of the customers changed;

and before them, side by side on the same ledger as it is (nothing scored yet),
on the customers holding the first 10,000 invoices, with the same model:

- the bare SQL aggregate that reads the same rows (the physical floor), best of
  3, first, before anything writes;
- the engine (``_risk_score_partners``: SQL aggregates, bulk writes), best of 3;
- the bare read followed by constants written on the rows the engine writes (the
  customers' scores, their open invoices and open receivable lines), best of 3,
  alternated with the engine's runs: the floor of a scoring that stores what the
  engine stores;
- a naive per-customer ORM loop (search the invoices, read their reconciliations,
  compute in Python, write each customer and invoice through the ORM), once;

with the ratios between them. The rows are read once before, so that the three
read a warm cache. Nothing is committed: every measure runs in a transaction
that is rolled back, and each side-by-side run is undone before the next.
"""

import argparse
import os
import time
from datetime import timedelta

from odoo_env import open_env


def timed(label, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    elapsed = time.perf_counter() - start
    print(f"{label:<58} {elapsed:8.2f} s")
    return elapsed, result


def naive_score(env, company, partner_ids, today):
    """What a straightforward implementation does: one customer at a time."""
    from odoo.addons.collections_proactive.tools import risk_model as rm

    predictor = rm.Predictor(company.collection_risk_model_params)
    window_start = today - timedelta(days=company.collection_risk_window_days)
    partners = env["res.partner"].with_company(company).browse(partner_ids)
    for partner in partners:
        invoices = env["account.move"].search(
            [
                ("company_id", "=", company.id),
                ("commercial_partner_id", "=", partner.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("payment_state", "!=", "reversed"),
            ]
        )
        rows = []
        for invoice in invoices:
            lines = invoice.line_ids.filtered(
                lambda l: l.display_type == "payment_term"
            )
            partials = lines.matched_credit_ids
            paid_on = None
            if lines and all(lines.mapped("reconciled")) and partials:
                paid_on = max(partials.mapped("max_date"))
                if paid_on > today:
                    paid_on = None
            rows.append(
                (invoice.invoice_date, invoice.invoice_date_due, paid_on,
                 invoice.amount_total_signed)
            )  # fmt: skip
        s = rm.stats_from_history(rows, today, window_start)
        p = predictor.probability(s, rm.features(s, predictor.prior))
        partner.write({"collection_risk_score": round(100 * p)})
        for invoice, row in zip(invoices, rows, strict=True):
            if row[2] is None:
                probability, predicted, _low, _high = rm.predict_invoice(
                    predictor, s, today, row[0], row[1], row[3]
                )
                invoice.write(
                    {
                        "collection_late_probability": probability,
                        "collection_predicted_payment_date": predicted,
                    }
                )
    env.flush_all()


def floor_sql(env, company, partner_ids, today):
    """The least any scoring must read: every invoice of these customers with its
    reconciliations, aggregated per customer."""
    env.cr.execute(
        """SELECT m.commercial_partner_id, COUNT(*), SUM(m.amount_total_signed),
                  MAX(apr.max_date)
             FROM account_move m
             JOIN account_move_line aml
               ON aml.move_id = m.id AND aml.display_type = 'payment_term'
        LEFT JOIN account_partial_reconcile apr ON apr.debit_move_id = aml.id
            WHERE m.company_id = %s AND m.move_type = 'out_invoice'
              AND m.state = 'posted' AND m.commercial_partner_id = ANY(%s)
         GROUP BY m.commercial_partner_id""",
        [company.id, list(partner_ids)],
    )
    return env.cr.fetchall()


def floor_with_writes(env, company, partner_ids, today):
    """The bare read, then the least any scoring that stores what the engine
    stores must write: a constant score on each of these customers and a
    constant prediction on each of their open invoices (``account_move``) and
    open receivable lines (their narrow table), one statement each. What is
    left between it and the engine is the engine's own reading and computing."""
    rows = floor_sql(env, company, partner_ids, today)
    key = str(company.id)
    env.cr.execute(
        """UPDATE res_partner p
              SET collection_risk_score = COALESCE(p.collection_risk_score,
                      '{}'::jsonb) || jsonb_build_object(%(key)s, 50),
                  collection_risk_band = COALESCE(p.collection_risk_band,
                      '{}'::jsonb) || jsonb_build_object(%(key)s, 'medium'),
                  collection_risk_confidence = COALESCE(
                      p.collection_risk_confidence, '{}'::jsonb)
                      || jsonb_build_object(%(key)s, 'high'),
                  collection_risk_computed_at = COALESCE(
                      p.collection_risk_computed_at, '{}'::jsonb)
                      || jsonb_build_object(%(key)s, %(today)s::text),
                  collection_risk_factors = COALESCE(
                      p.collection_risk_factors, '{}'::jsonb)
                      || jsonb_build_object(%(key)s, '[]'),
                  collection_risk_run_seq = COALESCE(
                      p.collection_risk_run_seq, '{}'::jsonb)
                      || jsonb_build_object(%(key)s, 1)
            WHERE p.id = ANY(%(partners)s)""",
        {"key": key, "today": today, "partners": list(partner_ids)},
    )
    env.cr.execute(
        """UPDATE account_move m
              SET collection_late_probability = 0.5,
                  collection_predicted_payment_date = m.invoice_date_due,
                  collection_predicted_date_low = m.invoice_date_due,
                  collection_predicted_date_high = m.invoice_date_due,
                  collection_expected_on_time_amount = m.amount_residual_signed / 2,
                  collection_risk_band = 'medium'
            WHERE m.company_id = %s AND m.move_type = 'out_invoice'
              AND m.state = 'posted' AND m.payment_state != 'reversed'
              AND m.amount_residual_signed > 0
              AND m.commercial_partner_id = ANY(%s)
        RETURNING m.id""",
        [company.id, list(partner_ids)],
    )
    move_ids = [row[0] for row in env.cr.fetchall()]
    env.cr.execute(
        """INSERT INTO collection_line_prediction AS c
                  (move_line_id, late_probability, predicted_date, date_low,
                   date_high)
           SELECT l.id, 0.5, l.date_maturity, l.date_maturity, l.date_maturity
             FROM account_move_line l
            WHERE l.move_id = ANY(%s) AND l.display_type = 'payment_term'
              AND NOT l.reconciled AND l.amount_residual > 0
           ON CONFLICT (move_line_id) DO UPDATE
              SET late_probability = EXCLUDED.late_probability""",
        [move_ids],
    )
    return rows


def run_once(env, function, *args):
    """Seconds ``function`` takes, its work undone after. What is pending in
    the cache (the model just fitted) is written before the savepoint, so that
    undoing the run does not undo it too (the engine would then fit again)."""
    env.invalidate_all()
    env.cr.execute("SAVEPOINT best_of")
    start = time.perf_counter()
    function(*args)
    elapsed = time.perf_counter() - start
    env.cr.execute("ROLLBACK TO SAVEPOINT best_of")
    env.invalidate_all()
    return elapsed


def best_of(label, repeat, env, function, *args):
    """The best of ``repeat`` runs of ``function``, each undone before the next."""
    times = [run_once(env, function, *args) for _attempt in range(repeat)]
    print(f"{label:<58} {min(times):8.2f} s (best of {repeat})")
    return min(times)


def side_by_side(env, company, today, size):
    """The engine, the naive loop and the bare SQL read on the first customers
    holding ``size`` invoices: the same customers, invoices and model."""
    cr = env.cr
    scoring = env["collection.risk.scoring"]
    cr.execute(
        """SELECT commercial_partner_id, COUNT(*) FROM account_move
            WHERE company_id = %s AND move_type = 'out_invoice' AND state = 'posted'
         GROUP BY commercial_partner_id ORDER BY commercial_partner_id""",
        [company.id],
    )
    subset, total = [], 0
    for partner_id, count in cr.fetchall():
        if total >= size:
            break
        subset.append(partner_id)
        total += count
    print(f"side by side on {len(subset)} customers, {total} invoices:")
    scoring._risk_fit(company, today, force=True)
    # Read once untimed: all then read from the same warm cache.
    floor_sql(env, company, subset, today)
    # The bare read first, on the ledger as it is: each rolled-back write below
    # leaves row versions behind that the reads after it wade through.
    floor = best_of(
        "bare SQL aggregate over the same rows",
        3,
        env,
        floor_sql,
        env,
        company,
        subset,
        today,
    )
    # The engine and the floor that writes alike, alternated (one, the other,
    # the other, the one...): each rolled-back write leaves row versions behind
    # that slow the next writes, and neither side should get the cleaner table.
    engine_times, writes_times = [], []
    for first in (True, False, True):
        for is_engine in (first, not first):
            if is_engine:
                engine_times.append(
                    run_once(env, scoring._risk_score_partners, company, subset, today)
                )
            else:
                writes_times.append(
                    run_once(env, floor_with_writes, env, company, subset, today)
                )
    engine = min(engine_times)
    print(f"{'engine (SQL aggregates, bulk writes)':<58} {engine:8.2f} s (best of 3)")
    floor_writes = min(writes_times)
    print(
        f"{'bare read, then constants written on the same rows':<58}"
        f" {floor_writes:8.2f} s (best of 3, alternated with the engine)"
    )
    naive, _ = timed(
        "naive per-customer ORM loop", naive_score, env, company, subset, today
    )
    print(f"engine is {naive / engine:.1f}x faster than the naive loop")
    print(f"engine takes {engine / floor:.1f}x the bare SQL aggregate")
    print(
        f"engine takes {engine / floor_writes:.1f}x the bare read and writes"
        " (what it adds: its statistics, the model, the payment dates)\n"
    )
    return engine, naive, floor


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--company-id", type=int)
    parser.add_argument(
        "--odoo-path", default=os.environ.get("ODOO_PATH", "/opt/odoo/18.0")
    )
    parser.add_argument("--subset", type=int, default=10000)
    args = parser.parse_args()
    cr, env = open_env(args.db, args.odoo_path)
    try:
        scoring = env["collection.risk.scoring"]
        company = (
            env["res.company"].browse(args.company_id)
            if args.company_id
            else env["res.company"].search([], order="id desc", limit=1)
        )
        today = scoring._risk_today()
        cr.execute(
            "SELECT COUNT(*), COUNT(DISTINCT commercial_partner_id) FROM account_move"
            " WHERE company_id = %s AND move_type = 'out_invoice' AND state = 'posted'",
            [company.id],
        )
        invoices, customers = cr.fetchone()
        print(
            f"{company.name}: {invoices} posted customer invoices,"
            f" {customers} customers"
        )

        # Side by side first, on the ledger as it is (nothing scored yet, the
        # same for the three), then undone: the model fit included.
        cr.execute("SAVEPOINT side_by_side")
        engine, naive, floor = side_by_side(env, company, today, args.subset)
        cr.execute("ROLLBACK TO SAVEPOINT side_by_side")
        env.invalidate_all()

        company.collection_risk_full_requested = True
        full, scored = timed(
            "full recompute, model fit included", scoring._compute_risk, company
        )
        print(
            f"  scored {scored} customers; model {company.collection_risk_model_state}"
            f" on {company.collection_risk_model_samples} samples,"
            f" back-test AUC {company.collection_risk_model_auc:.3f}"
        )

        # The weekly full recompute as it runs in use: over last week's
        # predictions, bands and alerts (every invoice due since then is now
        # overdue, no payment came in), the alerts raised and the cases opened.
        later = scoring.with_context(collection_risk_date=today + timedelta(days=7))
        company.collection_risk_full_requested = True
        env.invalidate_all()
        week, _ = timed(
            "full recompute a week later, alerts included",
            later._compute_risk,
            company,
        )
        cr.execute(
            "SELECT COUNT(*) FROM collection_risk_alert WHERE company_id = %s",
            [company.id],
        )
        print(f"  {cr.fetchone()[0]} risk alerts raised")

        cr.execute(
            """SELECT id FROM account_move WHERE company_id = %s
                  AND move_type = 'out_invoice' AND state = 'posted'
                  AND commercial_partner_id IN (
                      SELECT DISTINCT commercial_partner_id FROM account_move
                       WHERE company_id = %s AND move_type = 'out_invoice'
                    ORDER BY commercial_partner_id LIMIT %s)""",
            [company.id, company.id, max(customers // 100, 1)],
        )
        touched = [row[0] for row in cr.fetchall()]
        cr.execute(
            "UPDATE account_move SET write_date = now() AT TIME ZONE 'UTC'"
            " WHERE id = ANY(%s)",
            [touched],
        )
        cr.execute(
            "UPDATE account_move SET write_date = '2000-01-01'"
            " WHERE company_id = %s AND NOT id = ANY(%s)",
            [company.id, touched],
        )
        env.invalidate_all()
        incremental, rescored = timed(
            "incremental recompute after 1% of customers changed",
            later._compute_risk,
            company,
        )
        print(f"  rescored {rescored} customers")

        print(
            f"\nsummary: full {full:.1f} s for {invoices} invoices /"
            f" {customers} customers; a week later {week:.1f} s;"
            f" incremental (1%) {incremental:.2f} s;"
            f" naive/engine {naive / engine:.1f}x;"
            f" engine/floor {engine / floor:.1f}x"
        )
    finally:
        cr.rollback()
        cr.close()


if __name__ == "__main__":
    main()
