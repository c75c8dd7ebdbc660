"""Measure the reminder engine on a large ledger (a database filled by
``generate_receivables.py``): planning the worklist, then sending batches.

    $VENV/bin/python bench/reminder_bench.py --db bench_big [--batches 3]

Prints the time and query count of planning (one SQL per company plus the bulk
creation of reminders) and of each send batch (lock, policy, render, queue mail
and SMS, log), then rolls everything back. Time is set to a Tuesday 10:00 in the
company's time zone so the contact window is open.
"""

import argparse
import os
from collections import Counter
from datetime import datetime, timedelta

from freezegun import freeze_time
from odoo_env import open_env


def clock():
    """Wall-clock seconds that freezegun does not freeze."""
    return os.times().elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--company-id", type=int)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument(
        "--odoo-path", default=os.environ.get("ODOO_PATH", "/opt/odoo/18.0")
    )
    args = parser.parse_args()
    cr, env = open_env(args.db, args.odoo_path)
    try:
        company = (
            env["res.company"].browse(args.company_id)
            if args.company_id
            else env["res.company"].search([], order="id desc", limit=1)
        )
        reminders = env["collection.reminder"]
        cr.execute(
            """SELECT COUNT(*), COUNT(DISTINCT commercial_partner_id) FROM account_move
                WHERE company_id = %s AND move_type = 'out_invoice' AND state = 'posted'
                  AND payment_state IN ('not_paid', 'partial')""",
            [company.id],
        )
        open_invoices, customers = cr.fetchone()
        print(f"{company.name}: {open_invoices} open invoices, {customers} customers")
        today = datetime.now().replace(hour=13, minute=0, second=0, microsecond=0)
        while today.weekday() != 1:  # a Tuesday, 10:00 in UTC-3
            today += timedelta(days=1)
        with freeze_time(today):
            before, start = cr.sql_log_count, clock()
            rows = reminders._plan_candidates(company, today)
            worklist = clock() - start
            print(
                f"worklist: {len(rows)} invoices reach a step, "
                f"{worklist:.2f} s, {cr.sql_log_count - before} queries"
            )
            before, start = cr.sql_log_count, clock()
            planned = reminders._plan_create(company, rows, today)
            env.flush_all()
            print(
                f"plan: {len(planned)} reminders created in "
                f"{clock() - start:.2f} s, "
                f"{cr.sql_log_count - before} queries"
            )
            todo = planned.filtered(lambda r: r.state == "planned").sorted("id")
            for index in range(args.batches):
                batch = todo[index * args.batch_size : (index + 1) * args.batch_size]
                if not batch:
                    break
                env.invalidate_all()
                before, start = cr.sql_log_count, clock()
                batch._send()
                env.flush_all()
                elapsed = clock() - start
                states = Counter(batch.mapped("state"))
                print(
                    f"send batch {index + 1}: {len(batch)} reminders in"
                    f" {elapsed:.2f} s "
                    f"({elapsed / len(batch) * 1000:.0f} ms each), "
                    f"{cr.sql_log_count - before} queries; {dict(states)}"
                )
    finally:
        cr.rollback()
        cr.close()


if __name__ == "__main__":
    main()
