"""Fill an Odoo database with a large, valid receivables ledger, fast.

The ORM posts about 25 invoices a second; a million would take half a day. So a
handful of documents are made through the ORM (a posted customer invoice and its
reconciled payment), and their rows in ``account_move``, ``account_move_line``,
``account_partial_reconcile`` and ``account_full_reconcile`` serve as templates:
every generated row copies every column of its template and overrides only what
differs (ids, names, partner, dates, amounts, residuals, reconciliation links).
Payments are journal entries reconciled with the invoices (no ``account.payment``
rows: nothing in the risk engine reads them). The script then checks a sample with
the ORM: residuals and payment states recomputed from the lines match what was
written.

    $VENV/bin/python bench/generate_receivables.py --db bench_big \\
        --customers 50000 --invoices 1000000

Payer profiles are drawn per customer with a seeded generator (early, on time,
slightly late, chronically late with unpaid invoices, drifting late recently).

Multi-term invoices: ``--terms 30,60,90`` gives a share of the invoices
(``--terms-share``, default all of them) a payment term of equal installments due
that many days after the invoice date, one receivable line each with its own
``date_maturity``; each installment is paid (or not) on its own, by its customer's
profile. Without ``--terms`` the ledger is the same as before, draw for draw.

    $VENV/bin/python bench/generate_receivables.py --db bench_terms \\
        --customers 5000 --invoices 200000 --terms 30,60,90 --terms-share 0.5

A real history instead of drawn profiles: ``--history invoices.csv`` (columns
``customer, invoice_date, due_date, paid_date, amount``) writes one customer per
``customer`` and one invoice per row, ``Bench Customer <n>`` and
``BINV<seed>/<row number>``, as the ledger stood on ``--today``: a payment dated
later is not made yet, and an invoice issued later is posted, unpaid (it is what
``risk_quality_odoo.py`` scores). Without an issue date, the issue is the due date
minus ``--history-term`` days.
"""

import argparse
import csv
import io
import random
import sys
import time
from datetime import date, timedelta

from odoo_env import add_odoo_path, open_env

PROFILES = [  # share, (low, high) days paid after due, share never paid
    (0.40, (-10, 2), 0.0),
    (0.25, (3, 20), 0.01),
    (0.15, (25, 90), 0.15),
    (0.10, (-3, 3), 0.0),  # drifting: late in the last 90 days, see below
    (0.10, (0, 10), 0.02),
]


def term_shares(terms):
    """Equal installments in hundredths of a percent, the last one rounding up to
    100% (as Odoo puts the remainder on the last line)."""
    share = 10000 // len(terms)
    return [share] * (len(terms) - 1) + [10000 - share * (len(terms) - 1)]


def step(label, start):
    print(f"  {label:<48} {time.perf_counter() - start:7.1f} s", flush=True)
    return time.perf_counter()


def columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = %s ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cr.fetchall()]


def clone(cr, table, template_id, source, overrides):
    """INSERT INTO table SELECT template columns, overridden from ``source``."""
    cols = columns(cr, table)
    exprs = [overrides.get(col, f"t.{col}") for col in cols]
    cr.execute(
        f"""INSERT INTO {table} ({", ".join(cols)})
            SELECT {", ".join(exprs)}
              FROM {source} s, {table} t WHERE t.id = {int(template_id)}"""
    )
    return cr.rowcount


def copy_rows(cr, table, cols, rows):
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    cr._obj.copy_expert(f"COPY {table} ({', '.join(cols)}) FROM STDIN", buffer)


def read_history(path, term):
    """``([(customer, issued, due, paid or None, amount)], assumed)`` from a CSV
    history, in file order (a row's number names its invoice); ``assumed``: some
    issue date was missing, taken as the due date minus ``term`` days."""
    rows, assumed = [], False
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            due = date.fromisoformat(r["due_date"])
            if r["invoice_date"]:
                issued = date.fromisoformat(r["invoice_date"])
            else:
                issued, assumed = due - timedelta(days=term), True
            paid = date.fromisoformat(r["paid_date"]) if r["paid_date"] else None
            amount = round(float(r["amount"] or 0), 2)
            if amount > 0:
                rows.append((r["customer"], issued, due, paid, amount))
    return rows, assumed


def history_rows(history, partner_of, move_ids, today):
    """The invoice, receivable line and payment rows of a real history as it
    stood on ``today``."""
    inv_rows, term_rows, pay_rows = [], [], []
    for g, (customer, issued, due, paid_on, amount) in enumerate(history):
        pid, move_id = partner_of[customer], move_ids[g]
        paid = paid_on is not None and paid_on <= today
        term_rows.append((g, move_id, due, amount, 0 if paid else amount))
        if paid:
            pay_rows.append((g, pid, paid_on, amount, True))
        state = "paid" if paid else "not_paid"
        inv_rows.append(
            (move_id, g, pid, issued, due, amount, 0 if paid else amount, state, False)
        )
    return inv_rows, term_rows, pay_rows


def make_templates(env, company, customer):
    """One posted invoice fully paid by a reconciled payment, through the ORM."""
    from odoo import Command

    env = env(context=dict(env.context, tracking_disable=True))
    invoice = (
        env["account.move"]
        .with_company(company)
        .create(
            {
                "move_type": "out_invoice",
                "partner_id": customer.id,
                "invoice_date": date(2025, 1, 1),
                "invoice_date_due": date(2025, 1, 31),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Goods",
                            "quantity": 1,
                            "price_unit": 100.0,
                            "tax_ids": [],
                        }
                    )
                ],
            }
        )
    )
    invoice.action_post()
    payment = (
        env["account.payment.register"]
        .with_company(company)
        .with_context(active_model="account.move", active_ids=invoice.ids)
        .create({"payment_date": date(2025, 1, 20)})
        ._create_payments()
    )
    env.flush_all()
    return invoice, payment.move_id


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--customers", type=int, default=50000)
    parser.add_argument("--invoices", type=int, default=1000000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    parser.add_argument(
        "--terms",
        type=lambda text: [int(days) for days in text.split(",")],
        help="multi-term invoices: installments due these many days after the "
        "invoice date, e.g. 30,60,90",
    )
    parser.add_argument(
        "--terms-share",
        type=float,
        default=1.0,
        help="with --terms: the share of invoices split in installments (the "
        "others keep one due date)",
    )
    parser.add_argument(
        "--history",
        help="a real history (CSV) instead of drawn customers and invoices",
    )
    parser.add_argument(
        "--history-term",
        type=int,
        default=30,
        help="with --history: days from issue to due when a row has no issue date",
    )
    parser.add_argument(
        "--extra-addons",
        action="append",
        default=[],
        help="another addons folder installed in the database (OCA's, say)",
    )
    add_odoo_path(parser)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    history = read_history(args.history, args.history_term)[0] if args.history else None
    if history:
        customers = sorted({row[0] for row in history})
        args.customers, args.invoices = len(customers), len(history)
    cr, env = open_env(args.db, args.odoo_path, args.extra_addons)
    from odoo import Command

    started = start = time.perf_counter()
    print(f"Generating {args.invoices} invoices for {args.customers} customers")

    company = env["res.company"].create({"name": f"Bench Receivables {args.seed}"})
    env["account.chart.template"].try_loading("generic_coa", company=company)
    env.user.company_ids += company
    template_partner = env["res.partner"].create(
        {"name": "Bench Customer 0", "is_company": True, "customer_rank": 1}
    )
    invoice, payment = make_templates(env, company, template_partner)
    inv_lines = {line.display_type: line.id for line in invoice.line_ids}
    pay_receivable = payment.line_ids.filtered(
        lambda line: (
            line.account_id
            == invoice.line_ids.filtered(
                lambda line: line.display_type == "payment_term"
            ).account_id
        )
    )
    pay_liquidity = payment.line_ids - pay_receivable
    partial = invoice.line_ids.matched_credit_ids
    full = invoice.line_ids.full_reconcile_id
    start = step("templates through the ORM", start)

    # Customers -------------------------------------------------------------
    cr.execute("SELECT nextval('res_partner_id_seq') FROM generate_series(1, %s)",
               [args.customers])  # fmt: skip
    partner_ids = [row[0] for row in cr.fetchall()]
    cr.execute("CREATE TEMP TABLE bench_partner (id int, g int)")
    copy_rows(
        cr,
        "bench_partner",
        ["id", "g"],
        ((pid, i) for i, pid in enumerate(partner_ids)),
    )
    clone(
        cr,
        "res_partner",
        template_partner.id,
        "bench_partner",
        {
            "id": "s.id",
            "name": "'Bench Customer ' || s.g",
            "complete_name": "'Bench Customer ' || s.g",
            "commercial_partner_id": "s.id",
            "email": "'customer' || s.g || '@example.com'",
        },
    )
    start = step(f"{len(partner_ids)} customers", start)

    # Invoices and payments, drawn in Python ---------------------------------
    profile_of = {}
    for pid in partner_ids:
        draw, acc = rng.random(), 0.0
        for index, (share, _delay, _never) in enumerate(PROFILES):
            acc += share
            if draw <= acc:
                profile_of[pid] = index
                break
        else:
            profile_of[pid] = 0
    shares = term_shares(args.terms) if args.terms and not history else None
    payment_term = (
        env["account.payment.term"].create(
            {
                "name": "Bench " + "/".join(map(str, args.terms)),
                "company_id": company.id,
                "line_ids": [
                    Command.create(
                        {
                            "value": "percent",
                            "value_amount": share / 100,
                            "nb_days": days,
                        }
                    )
                    for days, share in zip(args.terms, shares, strict=True)
                ],
            }
        )
        if shares
        else None
    )
    # One row per invoice, one per receivable line (its installments), one per
    # payment of a receivable line.
    inv_rows, term_rows, pay_rows = [], [], []
    cr.execute(
        "SELECT nextval('account_move_id_seq') FROM generate_series(1, %s)",
        [args.invoices],
    )
    move_ids = [row[0] for row in cr.fetchall()]
    span = 450
    if history:
        inv_rows, term_rows, pay_rows = history_rows(
            history,
            dict(zip(customers, partner_ids, strict=True)),
            move_ids,
            args.today,
        )
    for g, move_id in enumerate(move_ids if not history else ()):
        pid = (
            partner_ids[g % len(partner_ids)]
            if g < len(partner_ids)
            else rng.choice(partner_ids)
        )
        invoice_date = args.today - timedelta(days=rng.randint(0, span))
        term = rng.choice((15, 30, 30, 45))
        amount = rng.randint(50, 5000) * 1000
        # Drawn only with --terms: without, the ledger is the one it always was.
        multi = bool(args.terms) and rng.random() < args.terms_share
        if multi:
            dues = [invoice_date + timedelta(days=days) for days in args.terms]
            parts = [amount * share // 10000 for share in shares[:-1]]
            parts.append(amount - sum(parts))
        else:
            dues, parts = [invoice_date + timedelta(days=term)], [amount]
        _share, (low, high), never = PROFILES[profile_of[pid]]
        residual = 0
        for due, part in zip(dues, parts, strict=True):
            early, late = low, high
            if profile_of[pid] == 3 and (args.today - due).days < 90:
                early, late = 20, 60
            pay_date = (
                None
                if rng.random() < never
                else due + timedelta(days=rng.randint(early, late))
            )
            if pay_date and pay_date < invoice_date:
                pay_date = invoice_date
            paid = 0
            if pay_date and pay_date <= args.today:
                paid = part
            elif rng.random() < 0.1 and due < args.today:
                pay_date, paid = min(args.today, due + timedelta(days=5)), part // 2
            key = len(term_rows)
            term_rows.append((key, move_id, due, part, part - paid))
            if paid:
                pay_rows.append((key, pid, pay_date, paid, paid == part))
            residual += part - paid
        state = (
            "not_paid" if residual == amount else "paid" if not residual else "partial"
        )
        inv_rows.append(
            (move_id, g, pid, invoice_date, max(dues), amount, residual, state, multi)
        )
    start = step(
        f"{len(inv_rows)} invoices ({len(term_rows)} receivable lines),"
        f" {len(pay_rows)} payments drawn",
        start,
    )

    cr.execute(
        """CREATE TEMP TABLE bench_inv (id int PRIMARY KEY, g int, partner_id int,
           invoice_date date, due date, amount numeric, residual numeric,
           state varchar, multi boolean, product_line int)"""
    )
    copy_rows(
        cr,
        "bench_inv",
        ["id", "g", "partner_id", "invoice_date", "due", "amount", "residual", "state",
         "multi"],
        inv_rows,
    )  # fmt: skip
    cr.execute(
        "UPDATE bench_inv SET product_line = nextval('account_move_line_id_seq')"
    )
    cr.execute(
        """CREATE TEMP TABLE bench_term (k int PRIMARY KEY, move_id int, due date,
           amount numeric, residual numeric, pt_line int, full_id int)"""
    )
    copy_rows(cr, "bench_term", ["k", "move_id", "due", "amount", "residual"],
              term_rows)  # fmt: skip
    cr.execute("UPDATE bench_term SET pt_line = nextval('account_move_line_id_seq')")
    cr.execute(
        """CREATE TEMP TABLE bench_pay (term int, partner_id int, pay_date date,
           amount numeric, full_paid boolean, id int, receivable_line int,
           liquidity_line int, partial_id int, g serial, pt_line int, full_id int)"""
    )
    copy_rows(
        cr,
        "bench_pay",
        ["term", "partner_id", "pay_date", "amount", "full_paid"],
        pay_rows,
    )
    cr.execute(
        """UPDATE bench_pay SET id = nextval('account_move_id_seq'),
                  receivable_line = nextval('account_move_line_id_seq'),
                  liquidity_line = nextval('account_move_line_id_seq'),
                  partial_id = nextval('account_partial_reconcile_id_seq')"""
    )
    cr.execute(
        """UPDATE bench_term t SET full_id = nextval('account_full_reconcile_id_seq')
             FROM bench_pay p WHERE p.term = t.k AND p.full_paid"""
    )
    cr.execute(
        """UPDATE bench_pay p SET pt_line = t.pt_line, full_id = t.full_id
             FROM bench_term t WHERE t.k = p.term"""
    )
    cr.execute("ANALYZE bench_inv; ANALYZE bench_term; ANALYZE bench_pay")
    start = step("staging tables", start)

    prefix = f"BINV{args.seed}/"
    ts = "now() AT TIME ZONE 'UTC'"
    money = {
        "amount_untaxed": "s.amount",
        "amount_tax": "0",
        "amount_total": "s.amount",
        "amount_residual": "s.residual",
        "amount_untaxed_signed": "s.amount",
        "amount_untaxed_in_currency_signed": "s.amount",
        "amount_tax_signed": "0",
        "amount_total_signed": "s.amount",
        "amount_total_in_currency_signed": "s.amount",
        "amount_residual_signed": "s.residual",
    }
    # Full reconciliations first: the lines point to them.
    clone(
        cr,
        "account_full_reconcile",
        full.id,
        "(SELECT full_id AS id FROM bench_term WHERE full_id IS NOT NULL)",
        {"id": "s.id", "create_date": ts, "write_date": ts},
    )
    clone(
        cr,
        "account_move",
        invoice.id,
        "bench_inv",
        {
            "id": "s.id",
            "name": f"'{prefix}' || s.g",
            "sequence_prefix": f"'{prefix}'",
            "sequence_number": "s.g",
            "payment_reference": f"'{prefix}' || s.g",
            "partner_id": "s.partner_id",
            "commercial_partner_id": "s.partner_id",
            "date": "s.invoice_date",
            "invoice_date": "s.invoice_date",
            "invoice_date_due": "s.due",
            "payment_state": "s.state",
            "invoice_payment_term_id": (
                f"CASE WHEN s.multi THEN {payment_term.id}"
                " ELSE t.invoice_payment_term_id END"
                if payment_term
                else "t.invoice_payment_term_id"
            ),
            "access_token": "NULL",
            "inalterable_hash": "NULL",
            "secure_sequence_number": "NULL",
            "create_date": ts,
            "write_date": ts,
            **money,
        },
    )
    start = step("account_move: invoices", start)
    line = {
        "move_id": "s.id",
        "partner_id": "s.partner_id",
        "date": "s.invoice_date",
        "invoice_date": "s.invoice_date",
        "move_name": f"'{prefix}' || s.g",
        "create_date": ts,
        "write_date": ts,
    }
    # One receivable line per installment, each due on its own date.
    clone(
        cr,
        "account_move_line",
        inv_lines["payment_term"],
        """(SELECT i.id, i.partner_id, i.invoice_date, i.g, t.pt_line, t.due,
                   t.amount, t.residual, t.full_id
              FROM bench_term t JOIN bench_inv i ON i.id = t.move_id)""",
        {
            **line,
            "id": "s.pt_line",
            "date_maturity": "s.due",
            "balance": "s.amount",
            "debit": "s.amount",
            "credit": "0",
            "amount_currency": "s.amount",
            "price_unit": "-s.amount",
            "price_subtotal": "-s.amount",
            "price_total": "-s.amount",
            "amount_residual": "s.residual",
            "amount_residual_currency": "s.residual",
            "reconciled": "s.residual = 0",
            "full_reconcile_id": "s.full_id",
            "matching_number": "CASE WHEN s.full_id IS NOT NULL THEN s.full_id::varchar"
            " WHEN s.residual < s.amount THEN 'P' || s.pt_line END",
        },
    )
    clone(
        cr,
        "account_move_line",
        inv_lines["product"],
        "bench_inv",
        {
            **line,
            "id": "s.product_line",
            "balance": "-s.amount",
            "debit": "0",
            "credit": "s.amount",
            "amount_currency": "-s.amount",
            "price_unit": "s.amount",
            "price_subtotal": "s.amount",
            "price_total": "s.amount",
        },
    )
    start = step("account_move_line: invoice lines", start)

    pay_prefix = f"BPAY{args.seed}/"
    clone(
        cr,
        "account_move",
        payment.id,
        "bench_pay",
        {
            "id": "s.id",
            "name": f"'{pay_prefix}' || s.g",
            "sequence_prefix": f"'{pay_prefix}'",
            "sequence_number": "s.g",
            "partner_id": "s.partner_id",
            "commercial_partner_id": "s.partner_id",
            "date": "s.pay_date",
            "origin_payment_id": "NULL",
            "amount_total": "s.amount",
            "amount_total_signed": "s.amount",
            "amount_total_in_currency_signed": "s.amount",
            "inalterable_hash": "NULL",
            "secure_sequence_number": "NULL",
            "create_date": ts,
            "write_date": ts,
        },
    )
    pay_line = {
        "move_id": "s.id",
        "partner_id": "s.partner_id",
        "date": "s.pay_date",
        "move_name": f"'{pay_prefix}' || s.g",
        "payment_id": "NULL",
        "create_date": ts,
        "write_date": ts,
    }
    clone(
        cr,
        "account_move_line",
        pay_receivable.id,
        "bench_pay",
        {
            **pay_line,
            "id": "s.receivable_line",
            "balance": "-s.amount",
            "debit": "0",
            "credit": "s.amount",
            "amount_currency": "-s.amount",
            "amount_residual": "0",
            "amount_residual_currency": "0",
            "reconciled": "TRUE",
            "full_reconcile_id": "s.full_id",
            "matching_number": "COALESCE(s.full_id::varchar, 'P' || s.pt_line)",
        },
    )
    clone(
        cr,
        "account_move_line",
        pay_liquidity.id,
        "bench_pay",
        {
            **pay_line,
            "id": "s.liquidity_line",
            "balance": "s.amount",
            "debit": "s.amount",
            "credit": "0",
            "amount_currency": "s.amount",
        },
    )
    start = step("account_move(+_line): payments", start)

    clone(
        cr,
        "account_partial_reconcile",
        partial.id,
        "bench_pay",
        {
            "id": "s.partial_id",
            "debit_move_id": "s.pt_line",
            "credit_move_id": "s.receivable_line",
            "full_reconcile_id": "s.full_id",
            "amount": "s.amount",
            "debit_amount_currency": "s.amount",
            "credit_amount_currency": "s.amount",
            "max_date": "s.pay_date",
            "create_date": ts,
            "write_date": ts,
        },
    )
    for seq, table in (
        ("account_move_id_seq", "account_move"),
        ("account_move_line_id_seq", "account_move_line"),
        ("account_partial_reconcile_id_seq", "account_partial_reconcile"),
        ("account_full_reconcile_id_seq", "account_full_reconcile"),
        ("res_partner_id_seq", "res_partner"),
    ):
        cr.execute(f"SELECT setval('{seq}', (SELECT MAX(id) FROM {table}))")
    cr.execute("ANALYZE account_move; ANALYZE account_move_line;"
               " ANALYZE account_partial_reconcile")  # fmt: skip
    start = step("reconciliations, sequences, ANALYZE", start)
    cr.commit()

    # Check a sample with the ORM ------------------------------------------
    env.invalidate_all()
    cr.execute(
        "SELECT move_id, SUM(balance) FROM account_move_line WHERE move_id IN"
        " (SELECT id FROM bench_inv UNION ALL SELECT id FROM bench_pay)"
        " GROUP BY move_id HAVING SUM(balance) <> 0 LIMIT 5"
    )
    unbalanced = cr.fetchall()
    sample = env["account.move"].browse(rng.sample([r[0] for r in inv_rows], 200))
    stored = {m.id: (m.amount_residual, m.payment_state) for m in sample}
    lines = sample.line_ids
    env.add_to_compute(lines._fields["amount_residual"], lines)
    env.add_to_compute(sample._fields["amount_residual"], sample)
    env.add_to_compute(sample._fields["payment_state"], sample)
    sample._recompute_recordset(["amount_residual", "payment_state"])
    lines._recompute_recordset(["amount_residual"])
    mismatches = [
        m.id for m in sample if (m.amount_residual, m.payment_state) != stored[m.id]
    ]
    cr.rollback()
    print(
        f"checked: {len(unbalanced)} unbalanced moves; {len(mismatches)} of"
        f" {len(sample)} sampled invoices differ from the ORM's own recompute"
    )
    print(f"company id {company.id}; total {time.perf_counter() - started:.0f} s")
    cr.close()
    if unbalanced or mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
