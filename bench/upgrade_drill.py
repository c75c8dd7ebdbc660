"""Upgrade, uninstall and reinstall drill.

On a database full of data (the demo company, a year of invoices and payments, then
a run of the reminders, cases, a promise and an active payment plan, and settings
changed from their defaults):

1. ``-u collections_proactive`` keeps every record of the addon and every setting;
2. uninstalling removes the addon's tables, columns, views and scheduled actions,
   and leaves the accounting as it was (moves, balances, reconciliations);
3. installing it again works (tables back, the shipped strategies created).

Prints what it compared and exits non-zero on any difference::

    python bench/upgrade_drill.py --db cp_upgrade

With ``--from-ref REF`` (a commit or tag of this repository, for instance the last
commit of 18.0.1.1.0), steps 1 and 2 are an update between versions: the addon of
``REF`` is installed with its demo data and put to work (in a process of its own,
with that version's code), then ``-u`` runs with this checkout's code, and the drill
also checks that the history reached the new unit, the receivable line: every
reminder line of an invoice has its receivable line, every promise and plan the
lines of its invoices::

    python bench/upgrade_drill.py --db cp_upgrade --from-ref 2cb297d^
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import timedelta

from odoo_env import (
    ADDON,
    REPO,
    add_odoo_path,
    clock,
    copy_database,
    demo_template,
    open_env,
    run_odoo,
    template_database,
)

SETTINGS = {
    "collection_contact_hour_from": 9.0,
    "collection_contact_hour_to": 18.0,
    "collection_min_days_between_written": 3,
    "collection_max_written_per_week": 2,
    "collection_promise_grace_days": 4,
    "collection_promise_max_days": 45,
    "collection_case_horizon_days": 9,
}


def odoo(args, odoo_path, db, stdin=None):
    """``odoo-bin`` for one job (``-i``, ``-u`` or ``shell``), exits on failure."""
    options = [*args, "--log-level=warn"]
    if args[0] != "shell":
        options.append("--stop-after-init")
    result = run_odoo(odoo_path, db, *options, stdin=stdin, check=False)
    if result.returncode:
        sys.exit(f"odoo {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result


# What the addon leaves in the database, by kind: each query lists names.
ADDON_LEFTOVERS = {
    "tables": """SELECT table_name FROM information_schema.tables
                  WHERE table_schema = 'public'
                    AND (table_name LIKE 'collection%%'
                         OR table_name LIKE 'collections%%')
                    AND table_type = 'BASE TABLE'
                  ORDER BY table_name""",
    "columns": """SELECT table_name || '.' || column_name
                    FROM information_schema.columns
                   WHERE table_schema = 'public' AND column_name LIKE 'collection%%'
                     AND table_name NOT LIKE 'collection%%'
                   ORDER BY 1""",
    # its indexes on tables that are not its own
    "indexes": """SELECT indexname FROM pg_indexes
                   WHERE schemaname = 'public' AND indexname LIKE '%%collection%%'
                     AND tablename NOT LIKE 'collection%%'
                   ORDER BY 1""",
}


def addon_leftovers(cr, kind):
    cr.execute(ADDON_LEFTOVERS[kind])
    return [row[0] for row in cr.fetchall()]


def accounting(cr):
    """What the addon must never change: moves, their lines' balances per account,
    reconciliations, payments."""
    queries = {
        "moves": "SELECT count(*), count(*) FILTER (WHERE state = 'posted')"
        " FROM account_move",
        "lines": "SELECT count(*), round(sum(balance), 2), round(sum(abs(balance)), 2)"
        " FROM account_move_line",
        "receivable": "SELECT round(sum(l.amount_residual), 2) FROM account_move_line l"
        " JOIN account_account a ON a.id = l.account_id"
        " WHERE a.account_type = 'asset_receivable'",
        "reconciliations": "SELECT count(*), round(sum(amount), 2)"
        " FROM account_partial_reconcile",
        "payments": "SELECT count(*) FROM account_payment",
        "partners": "SELECT count(*) FROM res_partner",
    }
    figures = {}
    for name, query in queries.items():
        cr.execute(query)
        figures[name] = tuple(str(value) for value in cr.fetchone())
    return figures


def addon_snapshot(env):
    """Counts of every table of the addon, and the company settings."""
    cr = env.cr
    counts = {}
    for table in addon_leftovers(cr, "tables"):
        cr.execute(f'SELECT count(*) FROM "{table}"')
        counts[table] = cr.fetchone()[0]
    settings = {
        company.name: {name: company[name] for name in SETTINGS}
        for company in env["res.company"].search([])
    }
    return counts, settings


def fill(env):
    """The addon at work on the demo company: a reminder run, cases, a promise,
    an active plan, and settings away from their defaults."""
    company = env.ref(f"{ADDON}.demo_company")
    company.write(SETTINGS)
    Reminder = env["collection.reminder"].with_company(company)
    # Before 18.0.1.2.0, planning was a method of the reminder.
    planner = env.get("collection.reminder.planner", Reminder)
    planner._plan_reminders(companies=company)
    reminders = Reminder.search([("state", "=", "planned")], limit=200)
    reminders._send()
    env["collection.case"]._sync_cases(company)
    invoices = env["account.move"].search(
        [
            ("company_id", "=", company.id),
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "=", "not_paid"),
        ],
        order="invoice_date_due",
    )
    by_partner = {}
    for invoice in invoices:
        by_partner.setdefault(invoice.commercial_partner_id, invoice)
    (promised_partner, promised), (planned_partner, planned) = list(by_partner.items())[
        1:3
    ]
    from odoo import Command, fields

    env["collection.promise"].with_company(company).create(
        {
            "partner_id": promised_partner.id,
            "company_id": company.id,
            "invoice_ids": [Command.set(promised.ids)],
            "amount": promised.amount_residual,
            "promised_date": fields.Date.today() + timedelta(days=5),
        }
    )
    plan = (
        env["collection.payment.plan"]
        .with_company(company)
        .create(
            {
                "partner_id": planned_partner.id,
                "company_id": company.id,
                "invoice_ids": [Command.set(planned.ids)],
                "installment_count": 3,
                "first_date": fields.Date.today() + timedelta(days=7),
            }
        )
    )
    plan.action_propose()
    plan.action_record_acceptance("Drill", note="upgrade drill")
    env["collection.risk.scoring"]._compute_risk(companies=company)


def fill_and_snapshot(db, odoo_path, repo):
    """Step 1 in this process: put the addon of ``repo`` to work on ``db``
    (a copy of its demo template) and return what to compare after the update."""
    cr, env = open_env(db, odoo_path, repo=repo)
    fill(env)
    cr.commit()
    counts, settings = addon_snapshot(env)
    books = accounting(cr)
    cr.close()
    return {"counts": counts, "settings": settings, "books": books}


def line_history(cr):
    """What the update from a version before the receivable line as the unit
    must fill: reminder lines of an invoice without their receivable line, and
    promises and plans without the lines of their invoices."""
    figures = {}
    cr.execute(
        """SELECT count(*), count(*) FILTER (WHERE move_line_id IS NULL)
             FROM collection_reminder_line WHERE move_id IS NOT NULL"""
    )
    figures["reminder lines"] = cr.fetchone()
    for model, table, rel, key in (
        (
            "promises",
            "collection_promise",
            "collection_promise_move_line_rel",
            "promise_id",
        ),
        (
            "plans",
            "collection_payment_plan",
            "collection_plan_move_line_rel",
            "plan_id",
        ),
    ):
        cr.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (
                       SELECT 1 FROM {rel} r WHERE r.{key} = t.id))
                  FROM {table} t"""
        )
        figures[model] = cr.fetchone()
    return figures


def from_ref_step_1(args):
    """Install the addon as ``args.from_ref`` had it, with its demo data, and
    put it to work with that version's code (in a child process: a process
    loads one version of the addon)."""
    folder = tempfile.mkdtemp(prefix="cp_upgrade_ref_")
    archive = subprocess.run(
        ["git", "-C", REPO, "archive", args.from_ref, ADDON],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
    template = template_database(
        "cp_demo_tpl_ref",
        args.odoo_path,
        modules=(ADDON, "payment_demo"),
        demo=True,
        repo=folder,
    )
    copy_database(template, args.db)
    child = subprocess.run(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--db",
            args.db,
            "--odoo-path",
            args.odoo_path,
            "--fill-with",
            folder,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode:
        sys.exit(f"putting {args.from_ref} to work failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def update(args, before, settings, books):
    """Step 2: ``-u`` keeps every row and setting, and the books. Returns the
    problems and the addon's tables after it."""
    problems = []
    print(f"2. -u {ADDON}" + (" with this checkout's code" if args.from_ref else ""))
    odoo(["-u", ADDON], args.odoo_path, args.db)
    cr, env = open_env(args.db, args.odoo_path)
    after, settings_after = addon_snapshot(env)
    # A newer version adds tables: each table there before keeps its rows.
    for table in sorted(before):
        if before.get(table) != after.get(table):
            problems.append(
                f"update: {table} {before.get(table)} -> {after.get(table)}"
            )
    if not args.from_ref and set(after) != set(before):
        problems.append(f"update: tables {sorted(set(before) ^ set(after))}")
    if json.loads(json.dumps(settings_after)) != settings:
        problems.append(f"update: settings {settings} -> {settings_after}")
    if accounting(cr) != books:
        problems.append("update: the accounting changed")
    history = line_history(cr)
    # Made by init() on update (step 3 checks it is gone after uninstalling).
    cr.execute(
        "SELECT COUNT(*) FROM pg_indexes"
        " WHERE indexname = 'account_move_line_collection_open_index'"
    )
    open_index = cr.fetchone()[0] == 1
    if not open_index:
        problems.append("update: no index of the open receivable lines")
    cr.close()
    kept = sum(after.get(table, 0) for table in before)
    print(
        f"   rows kept: {kept} of {sum(before.values())};"
        f" index of the open receivable lines: {open_index}"
    )
    print(
        "   by receivable line: "
        + "; ".join(
            f"{name} {total}, {missing} without their lines"
            for name, (total, missing) in history.items()
        )
    )
    for name, (_total, missing) in history.items():
        if missing:
            problems.append(f"update: {missing} {name} without their receivable lines")
    return problems, set(after)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="cp_upgrade")
    parser.add_argument(
        "--from-ref",
        help="a git ref of this repository: update from the addon it holds",
    )
    # Internal: step 1 of --from-ref, run by the drill in a child process.
    parser.add_argument("--fill-with", help=argparse.SUPPRESS)
    add_odoo_path(parser)
    args = parser.parse_args()
    if args.fill_with:
        print(json.dumps(fill_and_snapshot(args.db, args.odoo_path, args.fill_with)))
        return
    problems = []
    start = clock()

    if args.from_ref:
        version = f"{ADDON} as {args.from_ref} had it"
        print(f"1. install {version}, with demo data, in {args.db}")
        snapshot = from_ref_step_1(args)
    else:
        print(f"1. install {ADDON} with demo data in {args.db}")
        # Installed once into a template (again when the addon's code changed),
        # then copied: the drill changes its copy.
        copy_database(demo_template(args.odoo_path), args.db)
        snapshot = fill_and_snapshot(args.db, args.odoo_path, REPO)
    before, settings, books = (
        snapshot["counts"],
        snapshot["settings"],
        {name: tuple(value) for name, value in snapshot["books"].items()},
    )
    print(
        f"   {len(before)} tables of the addon, {sum(before.values())} rows;"
        f" {books['moves'][0]} moves, {books['reconciliations'][0]} reconciliations"
    )

    found, tables_updated = update(args, before, settings, books)
    problems += found

    print(f"3. uninstall {ADDON}")
    odoo(
        ["shell"],
        args.odoo_path,
        args.db,
        stdin=(
            "env['ir.module.module'].search([('name', '=', 'collections_proactive')])"
            ".button_immediate_uninstall()\nenv.cr.commit()\n"
        ),
    )
    cr, env = open_env(args.db, args.odoo_path)
    tables, columns, indexes = (
        addon_leftovers(cr, kind) for kind in ("tables", "columns", "indexes")
    )
    # Demo records the books refer to (the demo company, its customers, their
    # invoices) cannot be deleted, so Odoo keeps them and their xml ids; anything
    # else of the addon left behind is a defect.
    cr.execute(
        """SELECT model, count(*) FROM ir_model_data WHERE module = %s
            GROUP BY model ORDER BY model""",
        (ADDON,),
    )
    kept = dict(cr.fetchall())
    xmlids = {
        model: count
        for model, count in kept.items()
        if model not in ("res.company", "res.partner", "res.users", "account.move")
    }
    cr.execute("SELECT state FROM ir_module_module WHERE name = %s", (ADDON,))
    state = cr.fetchone()[0]
    left_books = accounting(cr)
    cr.close()
    if tables:
        problems.append(f"uninstall: tables left {tables}")
    if columns:
        problems.append(f"uninstall: columns left {columns}")
    if indexes:
        problems.append(f"uninstall: indexes left {indexes}")
    if xmlids:
        problems.append(f"uninstall: xml ids left {xmlids}")
    if state != "uninstalled":
        problems.append(f"uninstall: module {state}")
    # The demo company, customers and invoices are demo records of the addon,
    # yet accounting records: uninstalling keeps them (Odoo does not delete
    # posted moves), so the books are compared as they were.
    if left_books != books:
        problems.append(f"uninstall: the accounting changed {books} -> {left_books}")
    print(
        f"   tables left {len(tables)}, columns left {len(columns)}, indexes left"
        f" {len(indexes)}, other xml ids"
        f" left {sum(xmlids.values())}; demo records the books keep: {kept};"
        f" accounting unchanged: {left_books == books}"
    )

    print(f"4. install {ADDON} again")
    odoo(["-i", ADDON], args.odoo_path, args.db)
    cr, env = open_env(args.db, args.odoo_path)
    again = addon_leftovers(cr, "tables")
    strategies = env["collection.strategy"].search_count([])
    cr.close()
    if set(again) != tables_updated:
        problems.append(f"reinstall: tables {sorted(tables_updated ^ set(again))}")
    if not strategies:
        problems.append("reinstall: no strategy")
    print(f"   tables {len(again)}, strategies {strategies}")
    print(f"done in {clock() - start:.0f} s")
    for problem in problems:
        print("PROBLEM:", problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
