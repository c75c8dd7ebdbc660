"""Fault drills of the reminder engine with real Odoo processes: two cron workers
and *Send now* at once, then the server killed with SIGKILL mid-run and restarted.

    $VENV/bin/python bench/fault_drill.py [--customers 5000 --invoices 50000]

1. Prepare a template database ``cp_drill_tpl`` from scratch: ``odoo-bin -i
   collections_proactive --without-demo=all``, ``generate_receivables.py`` (due
   dates relative to today: a real server cannot be frozen), the customers spread
   over the low, medium and high risk bands (half of them with a mobile number, so
   that email, SMS, SMS-to-email fallback and calls all go out), the contact policy
   wide open (every day, 0-24 h, no gap, no weekly cap, no holidays), the admin in
   the generated company. What planning makes now is computed in a plan rolled
   back at once and kept in the table ``cp_drill_expected`` (invoice, step,
   customer, state): the expectation both drills are checked against.
   The scheduled action sends batches of ``--batch-size`` (100). Odoo runs one job
   at a time per job row (``FOR NO KEY UPDATE SKIP LOCKED`` on ``ir_cron``), so a
   second ``ir.cron`` with the same code is added: each cron worker runs its own
   job, both plan on their first call and send at once, as two servers would. The
   other scheduled actions are switched off, so that both cron workers work on the
   reminders and the mail and SMS queues keep what was queued for counting (no
   SMTP server here).
2. Drill (a), on ``createdb -T`` copy ``cp_drill_a``: ``odoo-bin --workers=2
   --max-cron-threads=2`` on port 8869, both jobs due now, and at the same moment
   ``--send-now`` customers with due reminders get *Send now*
   (``res.partner.action_collection_send_now``) through JSON-RPC as admin, two
   requests at a time (both HTTP workers). Waits until both jobs are done and
   nothing due is left planned, then stops the server.
3. Drill (b), on a fresh copy ``cp_drill_b`` (same start as (a)): the server and
   its two cron jobs alone (no *Send now*, so that this drill is about the crash
   only), then when ``--kill-at`` (30 %) of what is due is sent, ``kill -9`` of the
   server's whole process group (master, HTTP and cron workers, mid-transaction);
   the database is checked as the crash left it, the server restarted, and the
   drill waits until done. A run that ends before the kill point is a failure.
4. After each drill: reminders due at start, sent, duplicates per (invoice, step,
   channel), mails or SMS per reminder message, customers sent the same step
   twice, reminders left planned and due (deferred ones printed apart with their
   reasons), messages queued against reminders sent, and nothing lost: every
   invoice due for a step has its reminder line and that reminder went out. When
   something was lost or left due, one more scheduled run is triggered and the
   counts printed again (late, but not lost?), still counted as a failure
   (``--no-next-run`` skips it: a few minutes less).

When one job fails on its first call while the other still sends (both plan and
sync the cases at once), it is started again once, as its next scheduled run
would be: otherwise one cron worker would send alone.

Exits 1 on any violation. Databases ``cp_drill*`` only; all dropped at the end
unless ``--keep``. ``ODOO_NOTIFY_CRON_CHANGES=1`` is set for the server: a cron
worker that stops after 10 batches of a job still to do then wakes the others at
once instead of sleeping 60 s. The cron workers are woken at start with the
``cron_trigger`` notification Odoo itself sends, for the same reason. Odoo's
limits are its defaults (``limit_time_real`` 120 s also bounds a cron worker's
10 calls of a job in a row); the server logs are kept in a temporary folder.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from odoo_env import (
    ADDON,
    OPEN_CONTACT_POLICY,
    REPO,
    OdooServer,
    add_odoo_path,
    clock,
    close_all,
    connect,
    copy_database,
    drop_database,
    open_env,
    q,
    q1,
    template_database,
)

CRON = f"{ADDON}.ir_cron_send_reminders"
# What the server's log says about races and failures (counted per drill).
LOG_EVENTS = {
    "planning race: installment reminders left to another worker": (
        "installment reminders were planned by another"
    ),
    "planning race: lines left to another worker": "lines were planned by another",
    "planning race: reminders dropped": "already planned by another worker",
    "sending race: reminders waiting for their portal token": "portal token meanwhile",
    "sending race: reminders left to another worker": "sent by another worker",
    "delivery failures": r"Collection reminder \d+ failed",
    "cron jobs failed (exception)": r"server action #\d+ failed",
    "workers killed by the watchdog": "timeout after",
    "RPC retried on concurrency errors": "tries left, try again",
    "RPC given up after 5 tries": "maximum number of tries reached",
    "bulk deliveries redone one at a time (follower key)": (
        r"violates unique constraint \"mail_followers_mail_followers_res_partner"
    ),
}


# ----------------------------------------------------------------------------
# Template
# ----------------------------------------------------------------------------


def prepare(args, tpl):
    timings = {}
    start = clock()
    # Made afresh (the generator fills it): never an earlier template.
    template_database(tpl, args.odoo_path, rebuild=True, log=lambda _text: None)
    timings["install"] = clock() - start
    start = clock()
    subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "bench", "generate_receivables.py"),
            "--db",
            tpl,
            "--customers",
            str(args.customers),
            "--invoices",
            str(args.invoices),
        ],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    timings["generate"] = clock() - start
    start = clock()
    cr, env = open_env(tpl, args.odoo_path)
    from odoo import Command

    company = env["res.company"].search(
        [("name", "=like", "Bench Receivables%")], limit=1
    )
    company.write(OPEN_CONTACT_POLICY)
    env.ref("base.user_admin").write({"company_ids": [Command.link(company.id)]})
    env.flush_all()
    # Risk bands (company-dependent jsonb), a mobile for every other customer.
    cr.execute(
        """UPDATE res_partner
              SET collection_risk_band = jsonb_build_object(
                      %s::text, (ARRAY['low', 'medium', 'high'])[1 + id %% 3]),
                  mobile = CASE WHEN id %% 2 = 0
                           THEN '+569' || lpad(id::text, 8, '0') END,
                  phone_sanitized = CASE WHEN id %% 2 = 0
                           THEN '+569' || lpad(id::text, 8, '0') END
            WHERE name LIKE 'Bench Customer %%'""",
        [company.id],
    )
    env.invalidate_all()
    cron = env.ref(CRON)
    cron.write({"code": f"model._cron_send_reminders(batch_size={args.batch_size})"})
    second = cron.copy({"name": "Collections: send reminders (second job)"})
    (env["ir.cron"].with_context(active_test=False).search([]) - cron - second).write(
        {"active": False}
    )
    env.flush_all()
    cr.commit()
    # What planning makes now, rolled back: the expectation of both drills.
    planned = env["collection.reminder.planner"]._plan_reminders(companies=company)
    env.flush_all()
    cr.execute(
        """SELECT l.move_id, r.partner_id, l.step_id, l.channel, r.state, r.id
             FROM collection_reminder_line l
             JOIN collection_reminder r ON r.id = l.reminder_id
            WHERE r.id = ANY(%s)""",
        [planned.ids],
    )
    expected = cr.fetchall()
    cr.rollback()
    env.invalidate_all()
    cr.execute(
        """CREATE TABLE cp_drill_expected (move_id int PRIMARY KEY, partner_id int,
           step_id int, channel varchar, state varchar, reminder_key int)"""
    )
    cr.executemany(
        "INSERT INTO cp_drill_expected VALUES (%s, %s, %s, %s, %s, %s)", expected
    )
    cr.commit()
    cr.close()
    close_all()
    timings["configure and expect"] = clock() - start
    return company.id, [cron.id, second.id], timings


# ----------------------------------------------------------------------------
# Server and Send now
# ----------------------------------------------------------------------------


def server_for(args, db, logfile):
    """Odoo with two HTTP and two cron workers on ``db``; INFO from the addon,
    the cron runner and the server in its log."""
    return OdooServer(
        args.odoo_path,
        db,
        args.port,
        workers=2,
        cron_threads=2,
        logfile=logfile,
        options=[
            "--log-level=warn",
            f"--log-handler=odoo.addons.{ADDON}:INFO",
            "--log-handler=odoo.addons.base.models.ir_cron:INFO",
            "--log-handler=odoo.service.model:INFO",
            "--log-handler=odoo.service.server:INFO",
        ],
        env={"ODOO_NOTIFY_CRON_CHANGES": "1"},
    )


def send_now(server, company_id, partner_ids, results):
    """*Send now* for each customer, two requests at a time, as admin."""

    def one(partner_id):
        try:
            uid = server.rpc("common", "login", server.db, "admin", "admin")
            result = server.rpc(
                "object",
                "execute_kw",
                server.db,
                uid,
                "admin",
                "res.partner",
                "action_collection_send_now",
                [[partner_id]],
                {"context": {"allowed_company_ids": [company_id]}},
            )
            match = re.match(r"(\d+) reminder", result["params"]["message"])
            results[partner_id] = ("ok", int(match.group(1)) if match else None)
        except (requests.RequestException, RuntimeError, ValueError) as error:
            results[partner_id] = ("error", str(error)[:160])

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, partner_ids))


def wake_crons(conn, db, crons, timeout=120):
    """Send Odoo's ``cron_trigger`` notification until every job due has started
    (the cron workers otherwise sleep up to 70 s between polls)."""
    progress0 = q1(conn, "SELECT COALESCE(MAX(id), 0) FROM ir_cron_progress")
    waker = connect("postgres")
    deadline = clock() + timeout
    try:
        while clock() < deadline:
            due = q1(
                conn,
                """SELECT COUNT(*) FROM ir_cron WHERE id = ANY(%s) AND active
                      AND nextcall <= now() AT TIME ZONE 'UTC'""",
                crons,
            )
            started = q1(
                conn,
                """SELECT COUNT(DISTINCT cron_id) FROM ir_cron_progress
                    WHERE cron_id = ANY(%s) AND id > %s""",
                crons,
                progress0,
            )
            if started >= due:
                return
            q(waker, "SELECT pg_notify('cron_trigger', %s)", db)
            time.sleep(2)
    finally:
        waker.close()


def crons_done(conn, crons):
    """Both jobs ran to completion: Odoo moves ``nextcall`` past now only when a
    job is fully done (or failed)."""
    return bool(
        q1(
            conn,
            """SELECT COALESCE(bool_and(nextcall > now() AT TIME ZONE 'UTC'), TRUE)
                 FROM ir_cron WHERE id = ANY(%s) AND active""",
            crons,
        )
    )


def sent_count(conn):
    return q1(conn, "SELECT COUNT(*) FROM collection_reminder WHERE state = 'sent'")


def planned_due(conn):
    return q1(
        conn,
        """SELECT COUNT(*) FROM collection_reminder
            WHERE state = 'planned' AND planned_date <= now() AT TIME ZONE 'UTC'""",
    )


# ----------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------


def expectation(conn):
    return dict(
        zip(
            ("pairs", "sendable", "reminders", "to_send", "customers"),
            q(
                conn,
                """SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'planned'),
                          COUNT(DISTINCT reminder_key),
                          COUNT(DISTINCT reminder_key) FILTER (WHERE state = 'planned'),
                          COUNT(DISTINCT partner_id)
                     FROM cp_drill_expected""",
            )[0],
            strict=True,
        )
    )


def baseline(conn):
    return {
        table: q1(conn, f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        for table in ("mail_mail", "sms_sms", "mail_activity", "ir_cron_progress")
    }


def consistency(conn, base):
    """Messages against reminders: what a crash could tear apart."""
    checks = {}
    checks["sent email reminders without their mail"] = q1(
        conn,
        """SELECT COUNT(*) FROM collection_reminder r
            WHERE r.state = 'sent' AND r.channel = 'email' AND NOT EXISTS (
                  SELECT 1 FROM mail_mail m WHERE m.mail_message_id = r.message_id)""",
    )
    checks["sent SMS reminders without their SMS"] = q1(
        conn,
        """SELECT COUNT(*) FROM collection_reminder r
            WHERE r.state = 'sent' AND r.channel = 'sms' AND NOT EXISTS (
                  SELECT 1 FROM sms_sms s WHERE s.mail_message_id = r.message_id)""",
    )
    checks["sent call reminders without their activity"] = q1(
        conn,
        """SELECT COUNT(*) FROM collection_reminder
            WHERE state = 'sent' AND channel = 'call' AND activity_id IS NULL""",
    )
    checks["mails queued for no sent reminder"] = q1(
        conn,
        """SELECT COUNT(*) FROM mail_mail m WHERE m.id > %s AND NOT EXISTS (
               SELECT 1 FROM collection_reminder r
                WHERE r.state = 'sent' AND r.message_id = m.mail_message_id)""",
        base["mail_mail"],
    )
    checks["SMS queued for no sent reminder"] = q1(
        conn,
        """SELECT COUNT(*) FROM sms_sms s WHERE s.id > %s AND NOT EXISTS (
               SELECT 1 FROM collection_reminder r
                WHERE r.state = 'sent' AND r.message_id = s.mail_message_id)""",
        base["sms_sms"],
    )
    checks["reminders with more than one mail or SMS"] = q1(
        conn,
        """SELECT COUNT(*) FROM (
               SELECT r.id FROM collection_reminder r
                 JOIN (SELECT mail_message_id FROM mail_mail
                       UNION ALL SELECT mail_message_id FROM sms_sms) m
                   ON m.mail_message_id = r.message_id
                GROUP BY r.id HAVING COUNT(*) > 1) d""",
    )
    checks["messages or activities shared by two reminders"] = q1(
        conn,
        """SELECT (SELECT COUNT(*) FROM (SELECT message_id FROM collection_reminder
                    WHERE message_id IS NOT NULL GROUP BY 1 HAVING COUNT(*) > 1) a)
                + (SELECT COUNT(*) FROM (SELECT activity_id FROM collection_reminder
                    WHERE activity_id IS NOT NULL GROUP BY 1 HAVING COUNT(*) > 1) b)""",
    )
    return checks


def check(conn, base, exp):
    """``(figures to print, violations)`` of the database as it is now."""
    lines, bad = [], []

    def report(label, value, ok=True):
        lines.append(f"    {label:<58} {value}")
        if not ok:
            bad.append(f"{label}: {value}")

    states = dict(q(conn, "SELECT state, COUNT(*) FROM collection_reminder GROUP BY 1"))
    sent = states.get("sent", 0)
    by_channel = dict(
        q(
            conn,
            """SELECT channel, COUNT(*) FROM collection_reminder
                WHERE state = 'sent' GROUP BY 1 ORDER BY 1""",
        )
    )
    by_whom = dict(
        q(
            conn,
            """SELECT CASE WHEN write_uid = 2 THEN 'Send now' ELSE 'crons' END,
                      COUNT(*) FROM collection_reminder WHERE state = 'sent'
                GROUP BY 1""",
        )
    )
    report("reminders by state", dict(sorted(states.items())))
    report(
        f"reminders sent (expected {exp['to_send']})",
        f"{sent}  by channel {by_channel}, by {by_whom}",
        sent == exp["to_send"],
    )
    twice = q1(
        conn,
        """SELECT COUNT(*) FROM (SELECT move_id, step_id, channel
             FROM collection_reminder_line GROUP BY 1, 2, 3 HAVING COUNT(*) > 1) d""",
    )
    report("invoices with a step twice on a channel", twice, not twice)
    twice_any = q1(
        conn,
        """SELECT COUNT(*) FROM (SELECT move_id, step_id FROM collection_reminder_line
             GROUP BY 1, 2 HAVING COUNT(*) > 1) d""",
    )
    report("invoices with a step twice, any channel", twice_any, not twice_any)
    same_step = q1(
        conn,
        """SELECT COUNT(*) FROM (SELECT partner_id, step_id FROM collection_reminder
             WHERE state = 'sent' GROUP BY 1, 2 HAVING COUNT(*) > 1) d""",
    )
    report("customers sent the same step twice", same_step, not same_step)
    for label, value in consistency(conn, base).items():
        report(label, value, not value)
    mails = q1(conn, "SELECT COUNT(*) FROM mail_mail WHERE id > %s", base["mail_mail"])
    sms = q1(conn, "SELECT COUNT(*) FROM sms_sms WHERE id > %s", base["sms_sms"])
    report(
        "messages queued: mails / SMS (= sent by email / SMS)",
        f"{mails} / {sms}",
        mails == by_channel.get("email", 0) and sms == by_channel.get("sms", 0),
    )
    stuck = planned_due(conn)
    report("reminders left planned and due", stuck, not stuck)
    deferred = q(
        conn,
        """SELECT reason, COUNT(*) FROM collection_reminder
            WHERE state = 'planned' AND planned_date > now() AT TIME ZONE 'UTC'
            GROUP BY 1 ORDER BY 2 DESC""",
    )
    report("deferred by the contact policy (not due)", sum(n for _r, n in deferred))
    for reason, count in deferred[:5]:
        lines.append(f"      {count} x {reason}")
    lost = q1(
        conn,
        """SELECT COUNT(*) FROM cp_drill_expected e WHERE NOT EXISTS (
               SELECT 1 FROM collection_reminder_line l
                WHERE l.move_id = e.move_id AND l.step_id = e.step_id)""",
    )
    report(
        f"invoices due for a step without its line (of {exp['pairs']})", lost, not lost
    )
    unsent = q(
        conn,
        """SELECT r.state, COALESCE(r.reason, ''), COUNT(*) FROM cp_drill_expected e
             JOIN collection_reminder_line l
               ON l.move_id = e.move_id AND l.step_id = e.step_id
             JOIN collection_reminder r ON r.id = l.reminder_id
            WHERE e.state = 'planned' AND r.state <> 'sent'
            GROUP BY 1, 2 ORDER BY 3 DESC""",
    )
    report(
        f"invoices due to be reminded whose reminder did not go out"
        f" (of {exp['sendable']})",
        sum(n for _s, _r, n in unsent),
        not unsent,
    )
    for state, reason, count in unsent[:5]:
        lines.append(f"      {count} x {state}: {reason}")
    extra = q1(
        conn,
        """SELECT COUNT(*) FROM collection_reminder_line l WHERE NOT EXISTS (
               SELECT 1 FROM cp_drill_expected e
                WHERE e.move_id = l.move_id AND e.step_id = l.step_id)""",
    )
    report("reminder lines not in the expectation", extra, not extra)
    empty = q1(
        conn,
        """SELECT COUNT(*) FROM collection_reminder r
            WHERE r.installment_id IS NULL AND NOT EXISTS (
                  SELECT 1 FROM collection_reminder_line l
                   WHERE l.reminder_id = r.id)""",
    )
    report("reminders without any invoice", empty, not empty)
    return lines, bad


def log_summary(logfile, since=0):
    """``({event: count}, [first distinct ERROR lines], size)`` from ``since``."""
    try:
        with open(logfile, errors="replace") as handle:
            handle.seek(since)
            text = handle.read()
    except FileNotFoundError:
        return {}, [], since
    events = {
        label: len(re.findall(pattern, text)) for label, pattern in LOG_EVENTS.items()
    }
    errors = []
    for line in text.splitlines():
        if " ERROR " in line:
            message = line.split(" ERROR ", 1)[1][:160]
            if message not in errors:
                errors.append(message)
    return events, errors, since + len(text.encode())


# ----------------------------------------------------------------------------
# Drill
# ----------------------------------------------------------------------------


def crash(server, conn, base, exp, sent, figures):
    """kill -9 of the server, the database checked as the crash left it, then the
    server started again. Returns the violations seen at the crash."""
    server.kill9()
    print(
        f"  kill -9 of the server's process group after {figures['killed at']:.1f} s,"
        f" {sent} of {exp['to_send']} sent",
        flush=True,
    )
    states = q(conn, "SELECT state, COUNT(*) FROM collection_reminder GROUP BY 1")
    print(f"    as the crash left it: reminders {dict(states)}")
    leftovers = q1(
        conn,
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid()",
    )
    print(f"    sessions of the dead server still open: {leftovers}")
    violations = []
    for label, value in consistency(conn, base).items():
        print(f"    {label:<56} {value}")
        if value:
            violations.append(f"after the crash: {label}: {value}")
    restart = clock()
    server.start()
    figures["restart (server up again)"] = clock() - restart
    return violations


def rearm(args, conn, db, crons, rearmed):
    """A job that failed (its first call meets the other job's case sync) while
    the other still sends is started again once, as its next scheduled run would:
    without it, one cron worker sends alone. Returns the jobs started again."""
    rows = q(
        conn,
        """SELECT id, nextcall <= now() AT TIME ZONE 'UTC', failure_count
             FROM ir_cron WHERE id = ANY(%s) AND active""",
        crons,
    )
    running = [job for job, due, _failures in rows if due]
    failed = [
        job
        for job, due, failures in rows
        if not due and failures and job not in rearmed
    ]
    if not running or not failed or planned_due(conn) < 2 * args.batch_size:
        return []
    q(
        conn,
        """UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' - interval '1 minute'
            WHERE id = ANY(%s)""",
        failed,
    )
    print(
        f"  job {failed} failed on its first call while job {running} sends:"
        " started again",
        flush=True,
    )
    wake_crons(conn, db, crons)
    return failed


def next_run(args, conn, db, crons, figures):
    """Late or lost? One more scheduled run of the first job, as the next hour
    would start it, until it is done."""
    q(
        conn,
        """UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' - interval '1 minute'
            WHERE id = %s""",
        crons[0],
    )
    start = clock()
    wake_crons(conn, db, crons[:1])
    while not crons_done(conn, crons) and clock() - start < args.timeout:
        time.sleep(0.5)
    figures["one more scheduled run"] = clock() - start


def drill(args, name, tpl, db, info, logdir, send_now_count, kill_at=None):
    company_id, crons = info
    print(f"\n== drill ({name}) on {db}", flush=True)
    start = clock()
    copy_database(tpl, db)
    copy_seconds = clock() - start
    conn = connect(db)
    base = baseline(conn)
    exp = expectation(conn)
    q(
        conn,
        """UPDATE ir_cron SET active = TRUE,
                  nextcall = now() AT TIME ZONE 'UTC' - interval '1 minute'
            WHERE id = ANY(%s)""",
        crons,
    )
    partners = [
        row[0]
        for row in q(
            conn,
            """SELECT DISTINCT partner_id FROM cp_drill_expected
                WHERE state = 'planned' ORDER BY 1""",
        )
    ]
    step = max(len(partners) // max(send_now_count, 1), 1)
    chosen = partners[::step][:send_now_count]
    print(
        f"  due at start: {exp['reminders']} reminders ({exp['to_send']} to send,"
        f" {exp['reminders'] - exp['to_send']} skipped when planned) for"
        f" {exp['customers']} customers, on {exp['pairs']} invoices;"
        f" copy {copy_seconds:.1f} s",
        flush=True,
    )
    logfile = os.path.join(logdir, f"{db}.log")
    server = server_for(args, db, logfile)
    results, figures, violations = {}, {}, []
    try:
        start = clock()
        server.start()
        figures["server up"] = clock() - start
        t0 = clock()
        sender = threading.Thread(
            target=send_now, args=(server, company_id, chosen, results)
        )
        sender.start()
        wake_crons(conn, db, crons)
        killed = False
        first_sent = None
        rearmed, look = [], clock()
        while True:
            if clock() >= look:
                rearmed += rearm(args, conn, db, crons, rearmed)
                look = clock() + 2
            sent = sent_count(conn)
            if sent and first_sent is None:
                first_sent = clock() - t0
            if kill_at is not None and not killed and sent >= kill_at * exp["to_send"]:
                killed = True
                figures["killed at"] = clock() - t0
                violations += crash(server, conn, base, exp, sent, figures)
                wake_crons(conn, db, crons)
            if not sender.is_alive() and crons_done(conn, crons):
                if kill_at is not None and not killed:
                    violations.append(
                        f"the run ended with {sent} of {exp['to_send']} sent,"
                        f" before the kill point ({kill_at:.0%}): no crash drilled"
                    )
                break
            if clock() - t0 > args.timeout:
                violations.append(f"not done after {args.timeout} s")
                break
            time.sleep(0.5)
        figures["until done"] = clock() - t0
        if first_sent is not None:
            figures["first reminder sent after"] = first_sent
        sender.join()
        lines, bad = check(conn, base, exp)
        violations += bad
        again = None
        late = any("without its line" in v or "planned and due" in v for v in bad)
        if late and not args.no_next_run:
            next_run(args, conn, db, crons, figures)
            again, _bad = check(conn, base, exp)
    finally:
        server.stop()
    calls = q(
        conn,
        """SELECT cron_id, COUNT(*), SUM(done), MAX(timed_out_counter)
             FROM ir_cron_progress WHERE id > %s GROUP BY 1 ORDER BY 1""",
        base["ir_cron_progress"],
    )
    failures = q(
        conn, "SELECT id, failure_count FROM ir_cron WHERE id = ANY(%s)", crons
    )
    conn.close()
    ok = [res[1] for res in results.values() if res[0] == "ok"]
    errors = [res[1] for res in results.values() if res[0] == "error"]
    if chosen:
        print(
            f"  Send now: {len(chosen)} customers, {len(ok)} answered"
            f" ({sum(n or 0 for n in ok)} reminders sent by them),"
            f" {len(errors)} errors{': ' + errors[0] if errors else ''}"
        )
    for cron_id, count, done, timed_out in calls:
        failed = dict(failures).get(cron_id)
        print(
            f"  cron job {cron_id}: {count} calls, {done} reminders in their"
            f" batches, timed-out counter {timed_out}, failure count {failed}"
        )
    events, log_errors, _size = log_summary(logfile)
    print(f"  server log ({logfile}): {events}")
    for message in log_errors[:3]:
        print(f"    ERROR {message}")
    print("  checks:")
    print("\n".join(lines))
    if again:
        print("  after one more scheduled run (still a failure of the drill):")
        print("\n".join(again))
    print("  timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in figures.items()))
    if errors:
        violations.append(f"{len(errors)} Send now calls failed")
    return violations


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--invoices", type=int, default=50000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--send-now", type=int, default=50)
    parser.add_argument("--kill-at", type=float, default=0.3)
    parser.add_argument("--port", type=int, default=8869)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--prefix", default="cp_drill")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the template of an earlier --keep"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--no-next-run",
        action="store_true",
        help="no extra scheduled run when something was lost or left due",
    )
    add_odoo_path(parser)
    args = parser.parse_args()
    if not args.prefix.startswith("cp_drill"):
        parser.error("--prefix must start with cp_drill")
    tpl, db_a, db_b = (f"{args.prefix}_{s}" for s in ("tpl", "a", "b"))
    started = clock()
    logdir = tempfile.mkdtemp(prefix="cp_drill_logs_")
    violations = []
    try:
        if args.reuse:
            conn = connect(tpl)
            company_id = q1(
                conn,
                "SELECT id FROM res_company WHERE name LIKE 'Bench Receivables%%'",
            )
            crons = [
                row[0]
                for row in q(
                    conn,
                    """SELECT c.id FROM ir_cron c JOIN ir_act_server a
                          ON a.id = c.ir_actions_server_id
                        WHERE a.code LIKE 'model._cron_send_reminders(%%'
                        ORDER BY c.id""",
                )
            ]
            conn.close()
            timings = {}
        else:
            print(
                f"preparing {tpl}: install, {args.customers} customers and"
                f" {args.invoices} invoices (a few minutes)",
                flush=True,
            )
            company_id, crons, timings = prepare(args, tpl)
        print(
            "template ready: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()),
            flush=True,
        )
        info = (company_id, crons)
        for name, db, send_now_count, kill_at in (
            ("a: two cron jobs and Send now at once", db_a, args.send_now, None),
            ("b: two cron jobs, kill -9 mid-run, restart", db_b, 0, args.kill_at),
        ):
            found = drill(args, name, tpl, db, info, logdir, send_now_count, kill_at)
            violations += [f"({name[0]}) {v}" for v in found]
    finally:
        if not args.keep:
            for db in (db_a, db_b, tpl):
                drop_database(db)
    print(f"\ntotal {clock() - started:.0f} s; server logs in {logdir}")
    if violations:
        print("VIOLATIONS:")
        for violation in violations:
            print(f"  {violation}")
        raise SystemExit(1)
    print("no violation")


if __name__ == "__main__":
    main()
