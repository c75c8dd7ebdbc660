"""The case sync and the follow-up board on a large ledger.

    createdb -T bench_cases bench_cases_run   # the script COMMITS the sync
    $VENV/bin/python bench/case_board.py --db bench_cases_run [--naive-sample 200]

Prints:

1. the first sync (every case opened), a second one with nothing changed, one
   after 300 customers paid everything, and one after 300 others paid only what
   was overdue (their cases close unless they still need attention): time and
   queries of each;
2. the same sync done the naive way (one search and one write per customer
   through the ORM), timed on a sample and extrapolated, side by side;
3. opening the board as a collector (record rules on): the ``web_read_group``
   with the progress bar by risk band and the overdue sum, then the
   ``web_search_read`` of each unfolded column (40 cards, the kanban's fields),
   as the web client does; the best of three, server time.
"""

import argparse
import random

from odoo_env import Meter, add_odoo_path, open_env

CARD_SPEC = {
    "partner_id": {"fields": {"display_name": {}}},
    "risk_band": {},
    "amount_overdue": {},
    "amount_due": {},
    "currency_id": {"fields": {}},
    "days_overdue": {},
    "paused_until": {},
    "next_step_id": {"fields": {"display_name": {}}},
    "next_step_date": {},
    "state": {},
    "color": {},
    "user_id": {"fields": {"display_name": {}}},
    "activity_ids": {"fields": {}},
    "activity_exception_decoration": {},
    "activity_exception_icon": {},
    "activity_state": {},
    "activity_summary": {},
    "activity_type_icon": {},
    "activity_type_id": {"fields": {"display_name": {}}},
}
PROGRESS = {
    "field": "risk_band",
    "colors": {
        "low": "success",
        "medium": "info",
        "high": "warning",
        "critical": "danger",
    },
    "sum_field": "amount_overdue",
}


def naive_sync(env, company, partners):
    """What a sync looks like written record by record: per customer, read its open
    invoices, then create or update its case."""
    Case = env["collection.case"].with_context(tracking_disable=True)
    Move = env["account.move"]
    today = env.cr.now().date()
    stage = env["collection.stage"]._for_role("overdue", company)
    for partner in partners:
        invoices = Move.search(
            [
                ("commercial_partner_id", "=", partner.id),
                ("company_id", "=", company.id),
                ("move_type", "in", ("out_invoice", "out_refund")),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
            ]
        )
        overdue = invoices.filtered(
            lambda m: m.invoice_date_due and m.invoice_date_due < today
        )
        values = {
            "amount_due": sum(invoices.mapped("amount_residual_signed")),
            "amount_overdue": sum(overdue.mapped("amount_residual_signed")),
            "days_overdue": max(
                [(today - m.invoice_date_due).days for m in overdue], default=0
            ),
            "invoice_count": len(invoices),
        }
        case = Case.search(
            [
                ("partner_id", "=", partner.id),
                ("company_id", "=", company.id),
                ("state", "=", "open"),
            ]
        )
        if case:
            case.write(values)
        elif overdue:
            Case.create(
                {
                    **values,
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "stage_id": stage.id,
                }
            )
    env.flush_all()


def pay_and_sync(env, company, partner_ids, invoices, label):
    """Settle the ``invoices`` (an SQL condition on ``account_move``) of these
    customers, their receivable lines with them, then time a sync."""
    env.cr.execute(
        f"""WITH settled AS (
               UPDATE account_move SET payment_state = 'paid', amount_residual = 0,
                      amount_residual_signed = 0
                WHERE commercial_partner_id = ANY(%s) AND company_id = %s
                  AND {invoices}
            RETURNING id
           )
           UPDATE account_move_line l
              SET amount_residual = 0, amount_residual_currency = 0, reconciled = TRUE
             FROM settled
            WHERE l.move_id = settled.id AND l.display_type = 'payment_term'
              AND NOT l.reconciled""",
        (partner_ids, company.id),
    )
    env.invalidate_all()
    with Meter(env.cr) as meter:
        result = env["collection.case"]._sync_cases(company)
        env.flush_all()
    print(f"{label}: {meter.seconds:.2f} s, {meter.queries} queries, {result}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    add_odoo_path(parser, "--odoo")
    parser.add_argument("--naive-sample", type=int, default=200)
    parser.add_argument(
        "--cases",
        type=int,
        default=10000,
        help="top up to this many customers with something overdue, by moving the "
        "due date of one open invoice of customers that have none into the past",
    )
    args = parser.parse_args()
    cr, env = open_env(args.db, args.odoo_path)
    Case = env["collection.case"]
    company = env["res.company"].search([], order="id desc", limit=1)
    cr.execute(
        """SELECT COUNT(DISTINCT commercial_partner_id) FILTER (
                      WHERE invoice_date_due < CURRENT_DATE),
                  COUNT(DISTINCT commercial_partner_id)
             FROM account_move
            WHERE company_id = %s AND move_type = 'out_invoice' AND state = 'posted'
              AND payment_state IN ('not_paid', 'partial')""",
        (company.id,),
    )
    overdue, owing = cr.fetchone()
    if overdue < args.cases:
        # The receivable line is what the sync reads; the invoice's due date
        # follows it, as Odoo computes it.
        cr.execute(
            """WITH chosen AS (
                    SELECT DISTINCT ON (commercial_partner_id) id
                      FROM account_move o
                     WHERE o.company_id = %s AND o.move_type = 'out_invoice'
                       AND o.state = 'posted'
                       AND o.payment_state IN ('not_paid', 'partial')
                       AND NOT EXISTS (
                            SELECT 1 FROM account_move x
                             WHERE x.commercial_partner_id = o.commercial_partner_id
                               AND x.company_id = o.company_id
                               AND x.move_type = 'out_invoice' AND x.state = 'posted'
                               AND x.payment_state IN ('not_paid', 'partial')
                               AND x.invoice_date_due < CURRENT_DATE)
                     ORDER BY commercial_partner_id, id
                     LIMIT %s
                ), moved AS (
                    UPDATE account_move m SET invoice_date_due = CURRENT_DATE - 12
                      FROM chosen WHERE m.id = chosen.id
                 RETURNING m.id
                )
                UPDATE account_move_line l SET date_maturity = CURRENT_DATE - 12
                  FROM moved
                 WHERE l.move_id = moved.id AND l.display_type = 'payment_term'
                   AND NOT l.reconciled""",
            (company.id, args.cases - overdue),
        )
        print(
            f"customers owing: {owing}, overdue: {overdue};"
            f" {cr.rowcount} receivable lines made overdue (one invoice of each"
            f" of {args.cases - overdue} more customers)"
        )
        cr.commit()
    for sync_name in ("first sync (opens every case)", "second sync (no change)"):
        with Meter(cr) as meter:
            result = Case._sync_cases(company)
            env.flush_all()
            cr.commit()
        print(f"{sync_name}: {meter.seconds:.2f} s, {meter.queries} queries, {result}")
    open_cases = Case.search_count(
        [("company_id", "=", company.id), ("state", "=", "open")]
    )
    print(f"open cases: {open_cases}")

    # As after a reminder run: some customers paid everything, others fell overdue.
    rng = random.Random(7)
    cases = Case.search([("company_id", "=", company.id), ("state", "=", "open")])
    paid = rng.sample(cases.partner_id.ids, min(300, len(cases)))
    pay_and_sync(
        env, company, paid, "move_type IN ('out_invoice', 'out_refund')",
        "sync after a run (300 customers paid)",
    )  # fmt: skip
    # Then 300 others pay what is overdue and still owe invoices not yet due:
    # their cases close unless they still need attention (a risky customer
    # with an invoice due within the horizon goes back to Upcoming).
    cr.execute(
        """SELECT m.commercial_partner_id
             FROM account_move m
            WHERE m.company_id = %s AND m.move_type = 'out_invoice'
              AND m.state = 'posted' AND m.payment_state IN ('not_paid', 'partial')
              AND NOT m.commercial_partner_id = ANY(%s)
         GROUP BY m.commercial_partner_id
           HAVING BOOL_OR(m.invoice_date_due < CURRENT_DATE)
              AND BOOL_OR(m.invoice_date_due >= CURRENT_DATE)
         ORDER BY m.commercial_partner_id""",
        (company.id, paid),
    )
    candidates = [row[0] for row in cr.fetchall()]
    cured = rng.sample(candidates, min(300, len(candidates)))
    pay_and_sync(
        env, company, cured,
        "move_type = 'out_invoice' AND invoice_date_due < CURRENT_DATE",
        f"sync after {len(cured)} customers paid what was overdue, later invoices"
        " still open",
    )  # fmt: skip
    cr.rollback()
    env.invalidate_all()

    sample = env["res.partner"].browse(
        rng.sample(cases.partner_id.ids, min(args.naive_sample, len(cases)))
    )
    with Meter(cr) as meter:
        naive_sync(env, company, sample)
    cr.rollback()
    env.invalidate_all()
    per = meter.seconds / max(len(sample), 1)
    print(
        f"naive sync (ORM, per customer): {per * 1000:.1f} ms and"
        f" {meter.queries / max(len(sample), 1):.0f} queries per customer on"
        f" {len(sample)}; {per * open_cases:.1f} s for {open_cases} cases"
    )

    group = env.ref("collections_proactive.group_collections_user")
    user = env["res.users"].search([("login", "=", "bench_collector")])
    if not user:
        user = env["res.users"].create(
            {
                "name": "Bench Collector",
                "login": "bench_collector",
                "company_id": company.id,
                "company_ids": [(6, 0, company.ids)],
                "groups_id": [(6, 0, [group.id, env.ref("base.group_user").id])],
            }
        )
    board = (
        env["collection.case"]
        .with_user(user)
        .with_context(allowed_company_ids=company.ids, lang="en_US")
    )
    domain = [("state", "=", "open")]
    timings = []
    for _attempt in range(3):
        env.invalidate_all()
        with Meter(cr) as meter:
            groups = board.web_read_group(
                domain,
                ["amount_overdue:sum"],
                ["stage_id"],
                lazy=True,
            )
            board.read_progress_bar(domain, "stage_id", PROGRESS)
            stages = env["collection.stage"].browse(
                [g["stage_id"][0] for g in groups["groups"] if g["stage_id"]]
            )
            for stage in stages.filtered(lambda s: not s.fold):
                board.web_search_read(
                    [*domain, ("stage_id", "=", stage.id)],
                    CARD_SPEC,
                    limit=40,
                    count_limit=10001,
                )
        timings.append((meter.seconds, meter.queries))
    seconds, queries = min(timings)
    print(
        f"board as a collector on {open_cases} open cases: {seconds:.3f} s,"
        f" {queries} queries (read_group, progress bar, {len(stages)} columns of 40)"
    )
    cr.rollback()
    cr.close()


if __name__ == "__main__":
    main()
