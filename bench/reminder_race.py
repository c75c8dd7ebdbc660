"""Race the reminder engine against itself on a real database: several worker
processes run the scheduled action and *Send now* at the same moment, each in its
own transaction, committing after every batch. Then count: every reminder planned
once, every message queued once.

    $VENV/bin/python bench/reminder_race.py --db bench_small [--workers 3]

It commits what it sends: run it on a scratch copy of a generated database.
"""

import argparse
import multiprocessing
from datetime import datetime, timedelta

from freezegun import freeze_time
from odoo_env import add_odoo_path, open_env
from psycopg2 import errors


def moment():
    """Next Tuesday 10:00 in UTC-3 (a contact window open under the Chile preset)."""
    now = datetime.now().replace(hour=13, minute=0, second=0, microsecond=0)
    while now.weekday() != 1:
        now += timedelta(days=1)
    return now


def worker(args, index, when):
    cr, env = open_env(args.db, args.odoo_path)
    company = env["res.company"].search([], order="id desc", limit=1)
    reminders = env["collection.reminder"]
    with freeze_time(when):
        for round_ in range(args.rounds):
            if index == 0 and round_ == 1:
                # One worker plays a collector pressing Send now on busy customers.
                partners = env["res.partner"].search(
                    [("customer_rank", ">", 0)], limit=20, order="id"
                )
                for partner in partners:
                    reminders.env["collection.reminder.planner"]._plan_reminders(
                        companies=company, partners=partner
                    )
                    try:
                        reminders.search(
                            [("partner_id", "=", partner.id), ("state", "=", "planned")]
                        )._send()
                        cr.commit()
                    except errors.SerializationFailure:
                        cr.rollback()
                        env.invalidate_all()
            try:
                reminders._cron_send_reminders(batch_size=args.batch_size)
                cr.commit()
            except errors.SerializationFailure:
                # What Odoo's cron runner does too: the batch rolls back whole, and
                # the next run takes it up.
                cr.rollback()
                env.invalidate_all()
                print(
                    f"worker {index}: concurrent update, batch rolled back", flush=True
                )
    cr.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=100)
    add_odoo_path(parser)
    args = parser.parse_args()
    when = moment()
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=worker, args=(args, index, when))
        for index in range(args.workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    # One last run after the race, as the next scheduled run would.
    worker(args, args.workers, when)
    cr, _env = open_env(args.db, args.odoo_path)
    cr.execute("SELECT state, COUNT(*) FROM collection_reminder GROUP BY state")
    print("reminders by state:", dict(cr.fetchall()))
    cr.execute(
        """SELECT COUNT(*) FROM (SELECT move_line_id, step_id, channel
             FROM collection_reminder_line GROUP BY 1, 2, 3 HAVING COUNT(*) > 1) d"""
    )
    # The exactly-once key: a receivable line gets each step once per channel.
    print("receivable lines with a step twice on a channel:", cr.fetchone()[0])
    cr.execute(
        """SELECT COUNT(*) FROM collection_reminder
            WHERE state = 'sent' AND channel IN ('email', 'sms')"""
    )
    sent = cr.fetchone()[0]
    cr.execute(
        """SELECT COUNT(DISTINCT message_id), COUNT(*) FROM collection_reminder
            WHERE state = 'sent' AND channel IN ('email', 'sms')"""
    )
    distinct, total = cr.fetchone()
    cr.execute(
        """SELECT COUNT(*) FROM (SELECT partner_id, step_id, channel
             FROM collection_reminder WHERE state = 'sent'
           GROUP BY 1, 2, 3 HAVING COUNT(*) > 1) d"""
    )
    twice = cr.fetchone()[0]
    print(f"sent emails and SMS: {sent}, one message each: {distinct == total}")
    print("customers sent the same step twice on a channel:", twice)
    cr.execute(
        "SELECT COUNT(*) FROM collection_reminder"
        " WHERE state = 'planned' AND planned_date <= %s",
        [when],
    )
    print("planned reminders left due (should be 0):", cr.fetchone()[0])
    cr.close()
    if twice:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
