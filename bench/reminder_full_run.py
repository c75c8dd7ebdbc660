"""One full reminder run on a large ledger, and OCA's account_credit_control side
by side on EQUAL work.

    createdb -T bench_big bench_run   # the script COMMITS, as the cron does
    $VENV/bin/python bench/reminder_full_run.py --db bench_run \\
        [--oca-addons DIR_WITH_account_credit_control]

Time is frozen at ``--today`` 13:00 UTC (the generator's "today"). Both sides get
the same work, set up on this scratch copy before anything is timed:

- the company's contact policy wide open (``OPEN_CONTACT_POLICY``: every day, no
  gap between messages, no weekly cap, no holidays), so nothing is deferred;
- ours: one invoice strategy for every customer (default and every risk band, the
  others archived) with one step, the shipped overdue email (reset from this
  checkout's file: a ledger made by an older version holds its own copy)
  ``--overdue-days`` after each receivable line's due date; OCA's: a policy with
  one level, an email ``--overdue-days`` net days after the line's due date,
  listing the lines
  (``mail_show_invoice_detail``), no PDF (our emails attach none either);
- so both send one email to every customer with an overdue receivable line, and
  each email lists all of that customer's overdue lines. The script checks it:
  the customers and the receivable lines in the emails of both sides are
  compared, and any difference is printed (exit 1).

Prints, for ours: the worklist (open receivable lines that reach a step today,
one SQL), planning (bundled reminders created on the exactly-once key) and send
batches of two sizes (the queries do not grow with the size), all rolled back;
then the full run, timed whole: ``_cron_send_reminders`` called and committed
batch after batch, as ``ir.cron`` does while ``_notify_progress`` reports work
left, until nothing is due (its first call plans, syncs the cases and sends).
For OCA (with ``--oca-addons`` and ``account_credit_control`` installed in the
database): its whole flow in one transaction, as its *Run* then *Mark as
ready* then *Send* buttons do: the run's credit lines, the lines set ready, the
communications (one per customer and level) and their emails posted and queued
(``mail.mail`` rows, ``mail_notify_force_send=False``). Then each side per email
and per receivable line in an email, and the ratios.
"""

import argparse
import sys
from collections import Counter
from datetime import date, datetime, timedelta

from freezegun import freeze_time
from odoo_env import OPEN_CONTACT_POLICY, Meter, add_odoo_path, open_env


def count(cr, query, *args):
    cr.execute(query, args)
    return cr.fetchone()[0]


def equal_work(env, company, overdue_days):
    """Our side of the equal work: the open contact policy, and one strategy
    with one overdue email step for every customer of ``company``."""
    from odoo import Command

    company.write(OPEN_CONTACT_POLICY)
    # The email as this version ships it: a ledger made by an older version
    # keeps its copy on update (noupdate), as a company's database would.
    overdue = env.ref("collections_proactive.mail_template_reminder_overdue")
    overdue.reset_template()
    Strategy = env["collection.strategy"].with_context(active_test=False)
    Strategy.search(
        [("company_id", "=", company.id), ("applies_to", "=", "invoices")]
    ).write(
        {
            "active": False,
            "is_default": False,
            "band_low": False,
            "band_medium": False,
            "band_high": False,
            "band_critical": False,
        }
    )
    strategy = Strategy.create(
        {
            "name": f"Bench: one email {overdue_days} days overdue",
            "company_id": company.id,
            "is_default": True,
            "band_low": True,
            "band_medium": True,
            "band_high": True,
            "band_critical": True,
            "step_ids": [
                Command.create(
                    {
                        "name": f"Reminder {overdue_days} days overdue",
                        "offset_days": overdue_days,
                        "mail_template_id": overdue.id,
                    }
                )
            ],
        }
    )
    # Customers with a strategy of their own follow the bench one too.
    env.cr.execute(
        "UPDATE res_partner SET collection_strategy_id = NULL"
        " WHERE collection_strategy_id IS NOT NULL"
    )
    env.flush_all()
    env.invalidate_all()
    return strategy


def reminders_side(cr, env, company, batch_sizes):
    """Ours. First the parts, in a transaction rolled back: the worklist, the
    planning, send batches of several sizes (each rolled back to a savepoint).
    Then the whole run from scratch, as the scheduled action does it: its first
    call plans, syncs the cases and sends a batch, the next ones send, each
    committed, until nothing is due."""
    Reminder = env["collection.reminder"]
    now = datetime.now()
    with Meter(cr) as worklist:
        rows = Reminder.env["collection.reminder.planner"]._plan_candidates(
            company, now
        )
    print(
        f"  worklist: {len(rows)} open receivable lines reach a step today"
        f" ({len({row[1] for row in rows})} invoices), {worklist.seconds:.2f} s,"
        f" {worklist.queries} queries"
    )
    with Meter(cr) as plan:
        planned = Reminder.env["collection.reminder.planner"]._plan_reminders(
            companies=company
        )
        env.flush_all()
    print(
        f"  planning: {len(planned)} reminders for"
        f" {len(set(planned.partner_id.ids))} customers,"
        f" {plan.seconds:.2f} s, {plan.queries} queries"
        f" (channels: {dict(Counter(planned.mapped('channel')))})"
    )
    todo = planned.filtered(lambda r: r.state == "planned").sorted("id")
    # The first batch fills Odoo's caches (views, xml ids, parameters).
    per_size = {}
    for size in (10, *batch_sizes):
        env.invalidate_all()
        cr.execute("SAVEPOINT bench_batch")
        with Meter(cr) as batch:
            todo[:size]._send()
            env.flush_all()
        cr.execute("ROLLBACK TO SAVEPOINT bench_batch")
        env.invalidate_all()
        per_size[size] = batch.queries
        print(
            f"  send batch of {size}: {batch.seconds:.2f} s, {batch.queries} queries"
            " (rolled back)"
        )
    cr.rollback()
    env.invalidate_all()
    mails0 = count(cr, "SELECT COUNT(*) FROM mail_mail")
    reminders0 = count(cr, "SELECT COALESCE(MAX(id), 0) FROM collection_reminder")
    batch_size = max(batch_sizes)
    calls, per_call = 0, []
    cron = env.ref("collections_proactive.ir_cron_send_reminders")
    with Meter(cr) as run:
        while True:
            with Meter(cr) as call:
                # As ir.cron runs a job: a progress record per call, so that calls
                # after the first continue the run instead of planning again.
                job, _progress = cron._add_progress()
                result = job.env["collection.reminder"]._cron_send_reminders(
                    batch_size=batch_size
                )
                cr.commit()
            env.invalidate_all()
            calls += 1
            per_call.append((result["done"], call.queries, call.seconds))
            if not result["remaining"]:
                break
    cr.execute(
        """SELECT state, COUNT(*) FROM collection_reminder
            WHERE id > %s AND company_id = %s GROUP BY state""",
        [reminders0, company.id],
    )
    states = dict(cr.fetchall())
    mails = count(cr, "SELECT COUNT(*) FROM mail_mail") - mails0
    print(
        f"  full run: {calls} calls of up to {batch_size} customers, committed one"
        f" by one: {run.seconds:.1f} s, {run.queries} queries; reminders {states};"
        f" {mails} mails queued (mail.mail)"
    )
    seconds = sorted(s for _d, _q, s in per_call[1:])
    if seconds:
        print(
            f"  first call (plans, syncs the cases, sends): {per_call[0][2]:.1f} s;"
            f" the others (send only): median {seconds[len(seconds) // 2]:.1f} s"
        )
    queries = [q for _d, q, _s in per_call[1:-1]]
    if queries:
        print(
            f"  send-only calls of {batch_size}: queries per call min {min(queries)}"
            f" / max {max(queries)}"
        )
    cr.execute(
        """SELECT r.partner_id, l.move_line_id
             FROM collection_reminder r
             JOIN collection_reminder_line l ON l.reminder_id = r.id
            WHERE r.id > %s AND r.company_id = %s AND r.state = 'sent'
              AND r.channel = 'email'""",
        [reminders0, company.id],
    )
    content = set(cr.fetchall())
    print(
        f"  ours total (the full run): {run.seconds:.1f} s for"
        f" {states.get('sent', 0)} emails listing {len(content)} receivable lines"
    )
    return {
        "seconds": run.seconds,
        "messages": mails,
        "lines": len(content),
        "content": content,
        "queries": per_size,
    }


def oca_side(cr, env, company, today, overdue_days):
    env = env(
        context=dict(
            env.context,
            allowed_company_ids=[company.id],
            mail_notify_force_send=False,
            tracking_disable=True,
        )
    )
    receivable = env["account.account"].search(
        [("company_ids", "in", company.ids), ("account_type", "=", "asset_receivable")]
    )
    shipped = env.ref("account_credit_control.credit_control_3_time")
    first = shipped.level_ids.sorted("level")[:1]
    policy = shipped.copy({"name": "Bench: one level", "level_ids": False})
    policy.level_ids.unlink()
    first.copy(
        {
            "policy_id": policy.id,
            "name": f"{overdue_days} days net",
            "computation_mode": "net_days",
            "delay_days": overdue_days,
            "channel": "email",
            "mail_show_invoice_detail": True,
        }
    )
    policy.account_ids = receivable
    company.credit_policy_id = policy
    # Our emails attach no PDF by default: neither do OCA's here (its shipped
    # template attaches a summary report, one wkhtmltopdf run per email).
    policy.level_ids.email_template_id.report_template_ids = False
    env.flush_all()
    mails0 = count(cr, "SELECT COUNT(*) FROM mail_mail")
    run = env["credit.control.run"].create(
        {"date": today, "policy_ids": [(6, 0, policy.ids)], "company_id": company.id}
    )
    Communication = env["credit.control.communication"]
    with Meter(cr) as whole:
        with Meter(cr) as lines_meter:
            run.generate_credit_lines()
            env.flush_all()
        with Meter(cr) as ready_meter:
            run.set_to_ready_lines()
            env.flush_all()
        # Its *Send* button (``run_channel_action``), the email branch, in two
        # timed halves.
        lines = run.line_ids.filtered(lambda line: line.state == "to_be_sent")
        email_lines = lines.filtered(lambda line: line.channel == "email")
        with Meter(cr) as comm_meter:
            comms = Communication._generate_comm_from_credit_lines(email_lines)
            env.flush_all()
        with Meter(cr) as mail_meter:
            comms._generate_emails()
            env.flush_all()
    mails = count(cr, "SELECT COUNT(*) FROM mail_mail") - mails0
    print(
        f"  run: {len(run.line_ids)} credit lines ({len(email_lines)} by email),"
        f" {lines_meter.seconds:.1f} s, {lines_meter.queries} queries;"
        f" set ready {ready_meter.seconds:.1f} s"
    )
    print(
        f"  communications: {len(comms)}, {comm_meter.seconds:.1f} s"
        f" ({comm_meter.queries} queries)"
    )
    print(
        f"  emails: {len(comms)} posted, {mails} mails queued (mail.mail),"
        f" {mail_meter.seconds:.1f} s ({mail_meter.queries / max(len(comms), 1):.0f}"
        " queries each)"
    )
    cr.execute(
        """SELECT partner_id, move_line_id FROM credit_control_line
            WHERE id = ANY(%s) AND communication_id IS NOT NULL""",
        [email_lines.ids],
    )
    content = set(cr.fetchall())
    print(
        f"  OCA total (lines + ready + communications + emails, one transaction):"
        f" {whole.seconds:.1f} s for {mails} emails listing {len(content)}"
        " receivable lines"
    )
    cr.rollback()
    return {
        "seconds": whole.seconds,
        "messages": mails,
        "lines": len(content),
        "content": content,
    }


def compare(ours, theirs):
    """Whether both sides did the same work: same customers, same lines."""
    same = True
    for label, pick in (("customers", lambda c: {p for p, _l in c}), ("lines", set)):
        a, b = pick(ours["content"]), pick(theirs["content"])
        print(
            f"  {label} in the emails: ours {len(a)}, OCA {len(b)},"
            f" only ours {len(a - b)}, only OCA {len(b - a)}"
        )
        same = same and a == b
    return same


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--company-id", type=int)
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    parser.add_argument(
        "--batch-sizes",
        type=lambda text: [int(size) for size in text.split(",")],
        default=[100, 400],
        help="send batches measured for their queries; the largest is the run's",
    )
    parser.add_argument("--overdue-days", type=int, default=5)
    parser.add_argument("--oca-addons", help="folder holding account_credit_control")
    parser.add_argument(
        "--no-case-sync",
        action="store_true",
        help="our run without the case sync of the scheduled action's first call"
        " (said in the output): on some ledgers the first sync takes minutes",
    )
    add_odoo_path(parser)
    args = parser.parse_args()
    extra = [args.oca_addons] if args.oca_addons else []
    cr, env = open_env(args.db, args.odoo_path, extra)
    same = True
    try:
        company = (
            env["res.company"].browse(args.company_id)
            if args.company_id
            else env["res.company"].search([], order="id desc", limit=1)
        )
        env = env(context=dict(env.context, allowed_company_ids=[company.id]))
        cr.execute(
            """SELECT COUNT(DISTINCT m.id), COUNT(*),
                      COUNT(*) FILTER (WHERE l.date_maturity + %s <= %s),
                      COUNT(DISTINCT m.commercial_partner_id)
                 FROM account_move_line l JOIN account_move m ON m.id = l.move_id
                WHERE l.company_id = %s AND m.move_type = 'out_invoice'
                  AND l.parent_state = 'posted' AND NOT l.reconciled
                  AND l.amount_residual > 0 AND l.display_type = 'payment_term'""",
            [args.overdue_days, args.today, company.id],
        )
        invoices, lines, overdue, owing = cr.fetchone()
        customers = count(
            cr,
            """SELECT COUNT(DISTINCT commercial_partner_id) FROM account_move
                WHERE company_id = %s AND move_type = 'out_invoice'""",
            company.id,
        )
        print(
            f"{company.name}: {customers} customers, {invoices} open invoices,"
            f" {lines} open receivable lines ({overdue} at least"
            f" {args.overdue_days} days overdue) of {owing} customers"
        )
        equal_work(env, company, args.overdue_days)
        cr.commit()
        if args.no_case_sync:
            # Not part of the work both sides do; timed apart by case_board.py.
            type(env["collection.case"])._sync_cases = lambda self: None
            print("ours WITHOUT the case sync (--no-case-sync)")
        print(
            f"Both sides: contact policy open (nothing deferred); one email per"
            f" customer with a receivable line {args.overdue_days}+ days overdue,"
            " listing all of them; no PDF; mails queued, not sent."
        )
        noon = datetime.combine(args.today, datetime.min.time()) + timedelta(hours=13)
        with freeze_time(noon):
            print(
                "ours (collections_proactive): planning on the exactly-once key"
                " (line, step, channel), then the scheduled action's batches,"
                " committed one by one (the first also syncs the cases):"
            )
            ours = reminders_side(cr, env, company, args.batch_sizes)
            if args.oca_addons:
                print(
                    "OCA account_credit_control 18.0: its run, lines set ready,"
                    " communications, emails posted and queued, in one transaction"
                    " (rolled back after):"
                )
                theirs = oca_side(cr, env, company, args.today, args.overdue_days)
                same = compare(ours, theirs)
                sizes = sorted(ours["queries"])[1:]
                print(
                    "side by side: ours {:.1f} s, OCA {:.1f} s: {:.1f}x the run;"
                    " per email {:.1f} ms vs {:.1f} ms: {:.1f}x; per receivable line"
                    " {:.2f} ms vs {:.2f} ms: {:.1f}x; our queries per send batch of"
                    " {}: {}; equal work: {}".format(
                        ours["seconds"],
                        theirs["seconds"],
                        theirs["seconds"] / ours["seconds"],
                        1000 * ours["seconds"] / max(ours["messages"], 1),
                        1000 * theirs["seconds"] / max(theirs["messages"], 1),
                        (theirs["seconds"] / max(theirs["messages"], 1))
                        / (ours["seconds"] / max(ours["messages"], 1)),
                        1000 * ours["seconds"] / max(ours["lines"], 1),
                        1000 * theirs["seconds"] / max(theirs["lines"], 1),
                        (theirs["seconds"] / max(theirs["lines"], 1))
                        / (ours["seconds"] / max(ours["lines"], 1)),
                        " / ".join(map(str, sizes)),
                        " / ".join(str(ours["queries"][size]) for size in sizes),
                        "yes" if same else "NO",
                    )
                )
    finally:
        cr.rollback()
        cr.close()
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
