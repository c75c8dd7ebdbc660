"""One full reminder run on a large ledger, and OCA's account_credit_control side
by side on the same data.

    createdb -T bench_big bench_run   # the script COMMITS, as the cron does
    $VENV/bin/python bench/reminder_full_run.py --db bench_run \\
        [--oca-addons DIR_WITH_account_credit_control]

Time is frozen at ``--today`` 13:00 UTC (the generator's "today"), in the contact
window of the Chile preset. Prints:

1. the worklist: open invoices that reach a step today (one SQL), time, queries;
2. planning: the bundled reminders created (bulk insert on the exactly-once key);
3. send batches of two sizes, each rolled back: queries do not grow with the size;
4. the full run: ``_cron_send_reminders`` called and committed batch after batch,
   as ``ir.cron`` does while ``_notify_progress`` reports work left, until nothing
   is due: time, queries per batch, what was queued;
5. with ``--oca-addons`` (and ``account_credit_control`` installed in the
   database): on the same ledger, OCA's run (credit lines for the same company),
   then its communications (one per customer and level) and their emails timed on
   a sample (``--oca-sample``) and extrapolated to all communications. Its mails
   are queued too (``mail_notify_force_send=False``) and carry no PDF (as ours by
   default), so both sides do the same work.
"""

import argparse
import os
from collections import Counter
from datetime import date, datetime, timedelta

from freezegun import freeze_time
from odoo_env import Meter, open_env


def count(cr, query, *args):
    cr.execute(query, args)
    return cr.fetchone()[0]


def reminders_side(cr, env, company, batch_size):
    Reminder = env["collection.reminder"]
    mails0 = count(cr, "SELECT COUNT(*) FROM mail_mail")
    sms0 = count(cr, "SELECT COUNT(*) FROM sms_sms")
    now = datetime.now()
    with Meter(cr) as worklist:
        rows = Reminder._plan_candidates(company, now)
    print(
        f"worklist: {len(rows)} invoices reach a step today,"
        f" {worklist.seconds:.2f} s, {worklist.queries} queries"
    )
    with Meter(cr) as plan:
        planned = Reminder._plan_reminders(companies=company)
        env.flush_all()
        cr.commit()
    print(
        f"planning: {len(planned)} reminders for"
        f" {len(set(planned.partner_id.ids))} customers,"
        f" {plan.seconds:.2f} s, {plan.queries} queries"
        f" (channels: {dict(Counter(planned.mapped('channel')))})"
    )
    todo = planned.filtered(lambda r: r.state == "planned").sorted("id")
    # The first batch fills Odoo's caches (views, xml ids, parameters).
    for size in (10, batch_size // 4, batch_size):
        env.invalidate_all()
        with Meter(cr) as batch:
            todo[:size]._send()
            env.flush_all()
        cr.rollback()
        env.invalidate_all()
        print(
            f"send batch of {size}: {batch.seconds:.2f} s, {batch.queries} queries"
            " (rolled back)"
        )
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
    states = Counter(planned.mapped("state"))
    sent = planned.filtered(lambda r: r.state == "sent")
    mails = count(cr, "SELECT COUNT(*) FROM mail_mail") - mails0
    sms = count(cr, "SELECT COUNT(*) FROM sms_sms") - sms0
    full = [(done, queries) for done, queries, _s in per_call if done == batch_size]
    print(
        f"full run: {calls} calls of up to {batch_size}, committed one by one:"
        f" {run.seconds:.1f} s, {run.queries} queries; reminders {dict(states)},"
        f" sent by {dict(Counter(sent.mapped('channel')))};"
        f" queued {mails} mails, {sms} SMS"
    )
    seconds = sorted(s for _d, _q, s in per_call[1:])
    if seconds:
        print(
            f"  first call (plans, syncs the cases, sends): {per_call[0][2]:.1f} s;"
            f" the others (send only): median {seconds[len(seconds) // 2]:.1f} s"
        )
    if full:
        queries = [q for _d, q in full]
        print(
            f"  full batches: {len(full)}, queries per batch"
            f" min {min(queries)} / max {max(queries)}"
        )
    total = worklist.seconds + plan.seconds + run.seconds
    print(f"reminders total (worklist + planning + full run): {total:.1f} s")
    return total, len(sent)


def oca_side(cr, env, company, today, sample):
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
    policy = shipped.copy({"name": "Bench 3 time policy"})
    policy.account_ids = receivable
    if not policy.level_ids:
        for level in shipped.level_ids:
            level.copy({"policy_id": policy.id})
    company.credit_policy_id = policy
    # Our emails attach no PDF by default: neither do OCA's here (its shipped
    # template attaches a summary report, one wkhtmltopdf run per email).
    policy.level_ids.email_template_id.report_template_ids = False
    env.flush_all()
    run = env["credit.control.run"].create(
        {"date": today, "policy_ids": [(6, 0, policy.ids)], "company_id": company.id}
    )
    with Meter(cr) as lines_meter:
        run.generate_credit_lines()
        env.flush_all()
    lines = run.line_ids
    print(
        f"OCA credit lines: {len(lines)} lines,"
        f" {lines_meter.seconds:.1f} s, {lines_meter.queries} queries"
    )
    run.set_to_ready_lines()
    email_lines = lines.filtered(lambda line: line.channel == "email")
    email_lines.flush_recordset()
    # Its communications: one per customer, level and currency, each gathering its
    # lines with a search over the whole list of the run's lines
    # (``_aggregate_credit_lines``). Timed on a sample of groups with that same
    # call, extrapolated to all of them.
    cr.execute(
        """SELECT DISTINCT partner_id, policy_level_id, currency_id, company_id
             FROM credit_control_line WHERE id = ANY(%s)""",
        [email_lines.ids],
    )
    groups = cr.fetchall()
    comm_model = env["credit.control.communication"]
    with Meter(cr) as comm_meter:
        datas = [
            {
                "partner_id": partner_id,
                "policy_level_id": level_id,
                "currency_id": currency_id or company.currency_id.id,
                "company_id": company_id or company.id,
                "credit_control_line_ids": [
                    (
                        6,
                        0,
                        comm_model._get_credit_lines(
                            email_lines.ids,
                            partner_id,
                            level_id,
                            currency_id,
                            company_id,
                        ).ids,
                    )
                ],
            }
            for partner_id, level_id, currency_id, company_id in groups[:sample]
        ]
        comms = comm_model.create(datas)
        comms._onchange_partner_id()
        env.flush_all()
    per_comm = comm_meter.seconds / max(len(comms), 1)
    print(
        f"OCA communications: {len(groups)} for {len(email_lines)} email lines;"
        f" {len(comms)} gathered in {comm_meter.seconds:.1f} s"
        f" ({per_comm * 1000:.0f} ms each): all {len(groups)}, about"
        f" {per_comm * len(groups):.0f} s"
    )
    with Meter(cr) as mail_meter:
        comms._generate_emails()
        env.flush_all()
    each = mail_meter.seconds / max(len(comms), 1)
    print(
        f"OCA emails: {len(comms)} rendered and queued in"
        f" {mail_meter.seconds:.1f} s ({each * 1000:.0f} ms and"
        f" {mail_meter.queries / max(len(comms), 1):.0f} queries each);"
        f" all {len(groups)}: about {each * len(groups):.0f} s"
    )
    total = lines_meter.seconds + (per_comm + each) * len(groups)
    print(f"OCA total (lines + communications + emails): about {total:.0f} s")
    cr.rollback()
    return total, len(groups)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--company-id", type=int)
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    parser.add_argument("--batch-size", type=int, default=400)
    parser.add_argument("--oca-addons", help="folder holding account_credit_control")
    parser.add_argument("--oca-sample", type=int, default=300)
    parser.add_argument(
        "--odoo-path", default=os.environ.get("ODOO_PATH", "/opt/odoo/18.0")
    )
    args = parser.parse_args()
    extra = [args.oca_addons] if args.oca_addons else []
    cr, env = open_env(args.db, args.odoo_path, extra)
    try:
        company = (
            env["res.company"].browse(args.company_id)
            if args.company_id
            else env["res.company"].search([], order="id desc", limit=1)
        )
        env = env(context=dict(env.context, allowed_company_ids=[company.id]))
        open_invoices = count(
            cr,
            """SELECT COUNT(*) FROM account_move WHERE company_id = %s
                  AND move_type = 'out_invoice' AND state = 'posted'
                  AND payment_state IN ('not_paid', 'partial')""",
            company.id,
        )
        customers = count(
            cr,
            """SELECT COUNT(DISTINCT commercial_partner_id) FROM account_move
                WHERE company_id = %s AND move_type = 'out_invoice'""",
            company.id,
        )
        print(f"{company.name}: {open_invoices} open invoices, {customers} customers")
        noon = datetime.combine(args.today, datetime.min.time()) + timedelta(hours=13)
        with freeze_time(noon):
            ours, sent = reminders_side(cr, env, company, args.batch_size)
            if args.oca_addons:
                theirs, comms = oca_side(cr, env, company, args.today, args.oca_sample)
                print(
                    f"side by side: reminders {ours:.1f} s for {sent} messages sent,"
                    f" OCA about {theirs:.0f} s for {comms} emails:"
                    f" {theirs / ours:.1f}x"
                )
    finally:
        cr.rollback()
        cr.close()


if __name__ == "__main__":
    main()
