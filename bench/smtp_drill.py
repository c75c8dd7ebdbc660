"""SMTP drill: reminders through a real SMTP server on localhost, cut mid-run.

Odoo's test runner never opens an SMTP connection, so this runs a real Odoo
in-process against a scratch database and an ``aiosmtpd`` server on 127.0.0.1:

    $VENV/bin/python bench/smtp_drill.py [--customers 300] [--stop-after 120]

1. Database: ``--db`` (default ``cp_smtp_drill``) is dropped and copied from
   ``--template`` (default ``cp_smtp_base``), which is built once with
   ``-i collections_proactive --without-demo=all`` and rebuilt whenever the addon's
   files change (their hash is kept in the template's database comment).
2. Setting: a company whose contact policy allows every hour of every day, an
   ``ir.mail_server`` on the local SMTP server (no encryption, no login), es_CL
   activated with the addon's terms, the default strategy's overdue step
   attaching the invoice PDFs; ``--customers`` customers (``--spanish`` of them
   in es_CL, America/Santiago), each with one or two invoices reaching either the
   pre-due notice or, for ``--pdf-customers``, the overdue step.
3. Run 1: the reminder cron as ``ir.cron`` calls it, then the mail queue as its
   cron does; the SMTP server stops itself after ``--stop-after`` messages (by
   default 40% of the queue), in the middle of the queue:
   the open session is cut, new connections are refused. Checked on every
   message that arrives, in this run or later: recipient, subject in the
   customer's language, every invoice's signed link (``/collections/invoice/``,
   the portal token made when it is followed), the opt-out link and its text in
   the customer's language, one PDF per invoice where the step attaches them.
   Checked after the cut: each undelivered mail failed with a reason.
4. Later runs, ``--next-run-after`` hours apart (time moved with freezegun):
   ``--outage-runs`` with the server still down, then ``--runs`` with it back on
   the same port, each the reminder cron then the mail queue. When the server
   is back, a collector first clicks Resend on ``--chatter-resends`` failed
   messages in the customers' chatter, as Odoo offers. Checked: each reminder of
   an undelivered mail was ``failed`` with the mail's reason at some point; it
   arrived within ``--retry-within`` runs of the server being back (or is left
   ``failed`` after the company's attempts); each customer got each reminder
   exactly once (messages per recipient and subject, and per reminder); nothing
   ``sent`` is lost; nothing due is left ``planned`` or ``failed``; no failed
   message a retry replaced can still be re-sent by hand (Resend in the chatter,
   Retry in the mail queue).

Prints the figures and exits 1 on any violation. ``--serve`` instead runs the
SMTP server alone (the demo setting: see ``--help``).
"""

import argparse
import asyncio
import logging
import os
import re
import socket
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import odoo_env
from aiosmtpd.controller import Controller

ADDON = odoo_env.ADDON
COMPANY = "SMTP Drill"
SERVER_NAME = "Local SMTP (smtp_drill)"
# Subjects of the shipped templates after the company name, per language.
SUBJECTS = {
    ("notice", "en_US"): "upcoming due date",
    ("notice", "es_CL"): "próximo vencimiento",
    ("overdue", "en_US"): "overdue invoices",
    ("overdue", "es_CL"): "facturas vencidas",
}
OPTOUT_TEXT = {
    "en_US": "Stop payment reminder emails",
    "es_CL": "Dejar de recibir correos de recordatorio de pago",
}
# Mail failures a retry cannot fix: the address itself is wrong.
PERMANENT = ("mail_email_invalid", "mail_email_missing", "mail_bounce")


# ----------------------------------------------------------------------
# The SMTP server
# ----------------------------------------------------------------------


class Sink:
    """aiosmtpd handler keeping every message; after ``stop_after`` messages it
    asks for the server to be stopped (``stop_wanted``), which a watcher thread
    does: the loop cannot stop itself from within a handler."""

    def __init__(self, stop_after=None, maildir=None, verbose=False):
        self.messages = []  # (phase, mail_from, rcpt_tos, raw bytes)
        self.phase = "run 1"
        self.stop_after = stop_after
        self.stop_wanted = threading.Event()
        self.maildir = maildir
        self.verbose = verbose

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        self.messages.append(
            (self.phase, envelope.mail_from, list(envelope.rcpt_tos), raw)
        )
        if self.maildir:
            path = os.path.join(self.maildir, f"{len(self.messages):06d}.eml")
            await asyncio.get_running_loop().run_in_executor(None, save, path, raw)
        if self.verbose:
            msg = message_from_bytes(raw, policy=policy.default)
            files = [part.get_filename() for part in msg.iter_attachments()]
            print(
                f"{time.strftime('%H:%M:%S')} {', '.join(envelope.rcpt_tos)}:"
                f" {msg['subject']}" + (f" [{', '.join(files)}]" if files else ""),
                flush=True,
            )
        if self.stop_after and len(self.messages) >= self.stop_after:
            self.stop_wanted.set()
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that can be stopped and started again on
    the same port with the same sink."""

    def __init__(self, sink, port=None):
        self.sink = sink
        self.port = port or free_port()
        self.controller = None
        self.lock = threading.Lock()

    def start(self):
        with self.lock:
            self.controller = Controller(
                self.sink, hostname="127.0.0.1", port=self.port
            )
            self.controller.start()

    def stop(self):
        with self.lock:
            if self.controller is not None:
                # Cancels the open sessions (clients see the connection close) and
                # closes the listening socket (new connections are refused).
                self.controller.stop()
                self.controller = None

    def stop_when_wanted(self):
        """A thread that stops the server as soon as the sink asks for it."""

        def watch():
            self.sink.stop_wanted.wait()
            self.stop()

        thread = threading.Thread(target=watch, daemon=True, name="smtp-stopper")
        thread.start()
        return thread


def save(path, raw):
    with open(path, "wb") as file:
        file.write(raw)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ----------------------------------------------------------------------
# The database
# ----------------------------------------------------------------------


def prepare_database(args):
    """Copy the template into ``args.db``, building the template first when it is
    missing or was built from other addon files."""
    template = odoo_env.template_database(
        args.template,
        args.odoo_path,
        repo=args.addons,
        rebuild=args.rebuild,
        log=lambda text: print(text, flush=True),
    )
    odoo_env.copy_database(template, args.db)


def open_env(args):
    """``odoo_env.open_env`` with ``--addons`` on the addons path (a patched copy
    of the addon can be drilled before it lands)."""
    return odoo_env.open_env(
        args.db, args.odoo_path, repo=args.addons, options=["--http-port=8669"]
    )


class LogCounter(logging.Handler):
    """Counts (and keeps the first line of) what the muted loggers say."""

    def __init__(self, names):
        super().__init__(logging.WARNING)
        self.names, self.records = names, []

    def __enter__(self):
        self.saved = []
        for name in self.names:
            logger = logging.getLogger(name)
            self.saved.append((logger, logger.propagate))
            logger.addHandler(self)
            logger.propagate = False
        return self

    def __exit__(self, *exc):
        for logger, propagate in self.saved:
            logger.removeHandler(self)
            logger.propagate = propagate

    def emit(self, record):
        self.records.append((record.name, record.levelname, record.getMessage()))

    def summary(self):
        return dict(Counter(f"{name} {level}" for name, level, _m in self.records))


# ----------------------------------------------------------------------
# The data
# ----------------------------------------------------------------------


def setup(env, args, port):
    """The company, its policy, the mail server, the customers and invoices."""
    from odoo import Command, fields

    env["res.lang"]._activate_lang("es_CL")
    env["ir.module.module"]._load_module_terms([ADDON], ["es_CL"])
    # The address is set after: on a new company with an email domain,
    # partner_autocomplete would call its IAP service to enrich it.
    company = env["res.company"].create({"name": COMPANY})
    company.email = "billing@smtp-drill.example.com"
    env["account.chart.template"].try_loading("generic_coa", company=company)
    env.user.company_ids += company
    company.write(odoo_env.OPEN_CONTACT_POLICY)
    server = configure_mail_server(env, port)
    env = env(
        context=dict(
            env.context, allowed_company_ids=company.ids, tracking_disable=True
        )
    )
    default = env["collection.strategy"]._strategy_by_band(company)["default"]
    steps = env["collection.strategy"].browse(default).step_ids
    overdue = steps.filtered(lambda step: step.offset_days > 0)[:1]
    notice = steps.filtered(lambda step: step.offset_days < 0)[-1:]
    overdue.attach_invoices = True
    notice.attach_invoices = False
    partners = env["res.partner"].create(
        [
            {
                "name": f"Drill Customer {i:04d}",
                "is_company": True,
                "customer_rank": 1,
                "email": f"drill{i:04d}@customers.example.com",
                "lang": "es_CL" if spanish else "en_US",
                "tz": "America/Santiago" if spanish else "UTC",
            }
            for i in range(args.customers)
            # es_CL spread evenly: the share of the first i customers stays close.
            for spanish in [int((i + 1) * args.spanish) > int(i * args.spanish)]
        ]
    )
    today = fields.Date.context_today(env.user)
    values = []
    # The overdue customers spread over the list: some of their emails go out
    # before the cut, some after it (the queue sends in order).
    late_ones = {
        i * len(partners) // args.pdf_customers for i in range(args.pdf_customers)
    }
    for i, partner in enumerate(partners):
        late = i in late_ones
        # Notice 3 days before due, or 5 days overdue: the highest step reached
        # whatever the customer's local day (UTC or Santiago).
        due = today - timedelta(days=8) if late else today + timedelta(days=1)
        for n in range(2 if i % 5 == 4 else 1):
            values.append(
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_date": due - timedelta(days=30),
                    "invoice_date_due": due,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": "Drill goods",
                                "quantity": 1,
                                "price_unit": 100.0 + 10 * i + n,
                                "tax_ids": [Command.clear()],
                            }
                        )
                    ],
                }
            )
    invoices = env["account.move"].with_company(company).create(values)
    invoices.action_post()
    return company, server, partners, invoices, {"notice": notice, "overdue": overdue}


def configure_mail_server(env, port):
    """The outgoing mail server on the local SMTP server, first of all servers."""
    values = {
        "name": SERVER_NAME,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_encryption": "none",
        "smtp_authentication": "login",
        "smtp_user": False,
        "smtp_pass": False,
        "from_filter": False,
        "sequence": 0,
        "active": True,
    }
    server = env["ir.mail_server"].search([("name", "=", SERVER_NAME)], limit=1)
    if server:
        server.write(values)
    else:
        server = env["ir.mail_server"].create(values)
    return server


# ----------------------------------------------------------------------
# Running as the crons do
# ----------------------------------------------------------------------


def run_reminder_cron(cr, env, batch_size, max_calls=50):
    """``_cron_send_reminders`` called and committed as ``ir.cron`` does, while it
    reports reminders left. Several batches: each queues its emails template by
    template, so the emails with PDFs are spread over the queue."""
    cron = env.ref(f"{ADDON}.ir_cron_send_reminders")
    done = calls = 0
    while calls < max_calls:
        job, _progress = cron._add_progress()
        result = job.env["collection.reminder"]._cron_send_reminders(
            batch_size=batch_size
        )
        cr.commit()
        env.invalidate_all()
        calls += 1
        done += result["done"]
        if not result["remaining"]:
            break
    return done, calls


def run_mail_queue(cr, env, max_calls=5):
    """``process_email_queue`` as its cron calls it, committed, again while mails
    are left outgoing (a cut SMTP session ends a call early)."""
    calls = 0
    while calls < max_calls:
        env["mail.mail"].process_email_queue(batch_size=1000)
        cr.commit()
        env.invalidate_all()
        calls += 1
        cr.execute("SELECT COUNT(*) FROM mail_mail WHERE state = 'outgoing'")
        if not cr.fetchone()[0]:
            break
    return calls


def message_ids(cr, company):
    """``{Message-Id header: reminder id}`` of the company's email reminders."""
    cr.execute(
        """SELECT m.message_id, r.id FROM collection_reminder r
             JOIN mail_message m ON m.id = r.message_id
            WHERE r.company_id = %s AND r.channel = 'email'""",
        [company.id],
    )
    return dict(cr.fetchall())


def reminder_rows(cr, company):
    """``{reminder id: row}`` with the state of its message's latest mail (a
    resend from the chatter adds a mail to the same message)."""
    cr.execute(
        """SELECT DISTINCT ON (r.id)
                  r.id, r.partner_id, r.step_id, r.state, r.reason, r.attempt_count,
                  r.planned_date, mm.id, mm.state,
                  COALESCE(mm.failure_type, n.failure_type), mm.failure_reason,
                  n.notification_status
             FROM collection_reminder r
             LEFT JOIN mail_mail mm ON mm.mail_message_id = r.message_id
             LEFT JOIN mail_notification n
               ON n.mail_message_id = r.message_id
              AND n.res_partner_id = r.partner_id
              AND n.notification_type = 'email'
            WHERE r.company_id = %s AND r.channel = 'email'
            ORDER BY r.id, mm.id DESC""",
        [company.id],
    )
    keys = [
        *("id", "partner", "step", "state", "reason", "attempts", "planned"),
        *("mail", "mail_state", "failure_type", "failure_reason", "notification"),
    ]
    return {row[0]: dict(zip(keys, row, strict=True)) for row in cr.fetchall()}


# ----------------------------------------------------------------------
# Checking what arrived
# ----------------------------------------------------------------------


def parse(raw):
    msg = message_from_bytes(raw, policy=policy.default)
    html = msg.get_body(("html",))
    pdfs = [
        part.get_content()
        for part in msg.iter_attachments()
        if part.get_content_type() == "application/pdf"
    ]
    return {
        "to": msg["to"],
        "subject": str(msg["subject"] or ""),
        "message_id": str(msg["message-id"] or "").strip(),
        "html": html.get_content() if html else "",
        "pdfs": pdfs,
    }


class Checker:
    def __init__(self):
        self.violations = []

    def check(self, ok, what):
        if not ok:
            self.violations.append(what)
        return ok

    def report(self, examples=3):
        """Each kind of violation, counted, with its first few examples."""
        if not self.violations:
            return
        kinds = defaultdict(list)
        for violation in self.violations:
            kinds[violation.split(":")[0]].append(flat(violation))
        print(f"\nVIOLATIONS: {len(self.violations)}")
        for kind, found in sorted(kinds.items(), key=lambda item: -len(item[1])):
            print(f"  {len(found):5d}  {kind}")
            for violation in found[:examples]:
                print(f"           - {violation[:300]}")


def check_content(checker, parsed, reminder, expected):
    """One received message against its reminder (``expected``: customer, lang,
    kind, invoices with their link signatures, whether PDFs are attached)."""
    rid = reminder
    email, lang, kind = expected["email"], expected["lang"], expected["kind"]
    checker.check(email in (parsed["to"] or ""), f"wrong recipient: reminder {rid}")
    subject = f"{COMPANY}: {SUBJECTS[kind, lang]}"
    checker.check(
        parsed["subject"] == subject,
        f"subject not in the customer's language: reminder {rid} ({lang})"
        f" {parsed['subject']!r}, expected {subject!r}",
    )
    html = parsed["html"].replace("&amp;", "&")
    for move_id, signature in expected["invoices"]:
        checker.check(
            f"/collections/invoice/{move_id}/{signature}" in html,
            f"signed invoice link missing: reminder {rid}, invoice {move_id}",
        )
    optout = re.search(
        rf'href="[^"]*/collections/optout/email/{expected["partner"]}/[0-9a-f]+"'
        r"[^>]*>([^<]*)<",
        html,
    )
    if checker.check(bool(optout), f"opt-out link missing: reminder {rid}"):
        checker.check(
            optout.group(1).strip() == OPTOUT_TEXT[lang],
            f"opt-out text not in the customer's language: reminder {rid}"
            f" {optout.group(1).strip()!r}",
        )
    wanted = len(expected["invoices"]) if expected["pdf"] else 0
    checker.check(
        len(parsed["pdfs"]) == wanted,
        f"PDF attachments: reminder {rid} has {len(parsed['pdfs'])}, expected {wanted}",
    )
    checker.check(
        all(pdf[:5] == b"%PDF-" for pdf in parsed["pdfs"]),
        f"attachment is not a PDF: reminder {rid}",
    )


def expectations(env, company, steps):
    """``{reminder id: what its message must show}``."""
    kinds = {steps["notice"].id: "notice", steps["overdue"].id: "overdue"}
    reminders = env["collection.reminder"].search(
        [("company_id", "=", company.id), ("channel", "=", "email")]
    )
    return {
        reminder.id: {
            "partner": reminder.partner_id.id,
            "email": reminder.partner_id.email,
            "lang": reminder.partner_id.lang,
            "kind": kinds.get(reminder.step_id.id),
            "pdf": reminder.step_id.attach_invoices,
            "invoices": [
                (move.id, move._collection_link_signature())
                for move in reminder.line_ids.move_id
            ],
        }
        for reminder in reminders
    }


# ----------------------------------------------------------------------
# The drill
# ----------------------------------------------------------------------


NOISY = [  # loggers counted, not printed, while the crons run
    "odoo.addons.mail",
    "odoo.addons.base.models.ir_mail_server",
    "odoo.addons.base.models.ir_actions_report",
    f"odoo.addons.{ADDON}",
]


class Drill:
    def __init__(self, args, cr, env):
        self.args, self.cr, self.env = args, cr, env
        self.sink = Sink(stop_after=args.stop_after)
        self.server = SmtpServer(self.sink)
        self.checker = Checker()
        self.check = self.checker.check
        self.mapping = {}  # Message-Id header: reminder id, across attempts
        self.expected = {}  # reminder id: what its message must show

    def setup(self):
        started = odoo_env.clock()
        company, mail_server, partners, invoices, steps = setup(
            self.env, self.args, self.server.port
        )
        self.cr.commit()
        self.company, self.partners, self.steps = company, partners, steps
        print(
            f"setup: {len(partners)} customers"
            f" ({dict(Counter(partners.mapped('lang')))}), {len(invoices)} invoices"
            f" posted, mail server {mail_server.smtp_host}:{mail_server.smtp_port}"
            f" ({odoo_env.clock() - started:.0f} s)",
            flush=True,
        )

    def rows(self):
        return reminder_rows(self.cr, self.company)

    def learn(self):
        """Map the reminders' current messages, and what they must show."""
        self.mapping.update(message_ids(self.cr, self.company))
        for rid, values in expectations(self.env, self.company, self.steps).items():
            self.expected.setdefault(rid, values)

    def first_run(self):
        """The reminder cron, then the mail queue cut after a share of it."""
        started = odoo_env.clock()
        with LogCounter(NOISY) as log:
            done, calls = run_reminder_cron(self.cr, self.env, self.args.batch_size)
        self.learn()
        rows = self.rows()
        queued = sum(1 for row in rows.values() if row["mail_state"] == "outgoing")
        print(
            f"run 1, reminder cron: {done} reminders in {calls} calls, {queued}"
            f" mails queued ({odoo_env.clock() - started:.0f} s;"
            f" logged: {log.summary()})",
            flush=True,
        )
        customers = len(self.partners)
        self.check(
            len(self.expected) == customers,
            f"reminders planned: {len(self.expected)} email reminders for"
            f" {customers} customers",
        )
        self.check(queued == len(self.expected), f"mails queued: {queued}")
        if not self.args.stop_after:
            self.sink.stop_after = max(1, queued * 2 // 5)
        self.server.start()
        stopper = self.server.stop_when_wanted()
        started = odoo_env.clock()
        with LogCounter(NOISY) as log:
            calls = run_mail_queue(self.cr, self.env)
        cut = self.sink.stop_wanted.is_set()
        self.sink.stop_wanted.set()  # the server stops now if the cut did not happen
        stopper.join()
        self.received1 = len(self.sink.messages)
        rows = self.rows()
        print(
            f"run 1, mail queue: {calls} calls, server cut after"
            f" {self.sink.stop_after} messages: {self.received1} received, mails"
            f" {dict(Counter(row['mail_state'] for row in rows.values()))}"
            f" ({odoo_env.clock() - started:.0f} s; logged: {log.summary()})",
            flush=True,
        )
        self.check(cut, "outage not exercised: the queue ended before the cut")
        return rows

    def check_arrivals(self, phase):
        """Each message of ``phase`` against its reminder."""
        checked = spanish = pdfs = 0
        for message_phase, _from, _rcpts, raw in self.sink.messages:
            if message_phase != phase:
                continue
            parsed = parse(raw)
            reminder = self.mapping.get(parsed["message_id"])
            if self.check(
                reminder in self.expected,
                f"message of no reminder: {parsed['message_id']} {parsed['to']}",
            ):
                check_content(self.checker, parsed, reminder, self.expected[reminder])
                checked += 1
                spanish += self.expected[reminder]["lang"] == "es_CL"
                pdfs += len(parsed["pdfs"])
        print(
            f"{phase}, content: {checked} messages checked ({spanish} in es_CL),"
            f" {pdfs} PDFs attached, {len(self.checker.violations)} violations so far"
        )

    def check_cut(self, rows):
        """Undelivered mails after the cut: each failed with a reason
        (``exception``, or already ``cancel`` when the reminder log took it over)."""
        failed = {
            rid: row
            for rid, row in rows.items()
            if row["mail_state"] in ("exception", "cancel")
        }
        still = sum(1 for row in rows.values() if row["mail_state"] == "outgoing")
        self.check(still == 0, f"mails left outgoing after the cut: {still}")
        reasons = Counter(
            (row["failure_type"], row["notification"], flat(row["failure_reason"]))
            for row in failed.values()
        )
        states = dict(Counter(row["mail_state"] for row in failed.values()))
        print(f"run 1, the cut: {len(failed)} mails not delivered {states}, reasons:")
        for (failure_type, notification, reason), count in reasons.most_common():
            print(f"  {count:5d}  {failure_type}, notification {notification}:")
            print(f"         {reason[:100]}")
        for rid, row in failed.items():
            self.check(
                bool(row["failure_reason"]), f"mail failed without a reason: {rid}"
            )
        self.failed = failed
        self.seen_failed = {}  # reminder id: (phase, reason) when first seen failed
        self.resent = set()  # reminders a collector resent from the chatter
        self.observe("run 1, after the queue", rows)
        return failed

    def observe(self, moment, rows):
        """Note when the reminders of the failed mails are first seen failed."""
        for rid in self.failed:
            if rows[rid]["state"] == "failed" and rid not in self.seen_failed:
                self.seen_failed[rid] = (moment, rows[rid]["reason"])
        states = Counter(rows[rid]["state"] for rid in self.failed)
        print(f"  {moment}: reminders of the failed mails {dict(states)}", flush=True)

    def chatter_resends(self, count):
        """A collector opens the red envelope of ``count`` failed messages in the
        customers' chatter and clicks Resend (Odoo's ``mail.resend.message``)."""
        rows = self.rows()
        picked = [rid for rid in sorted(self.failed)][-count:]
        before = len(self.sink.messages)
        self.sink.phase = "chatter resend"
        for rid in picked:
            message = self.env["collection.reminder"].browse(rid).message_id
            notifications = message.notification_ids.filtered(
                lambda n: n.notification_status in ("exception", "bounce")
            )
            if not notifications:
                continue
            wizard = (
                self.env["mail.resend.message"]
                .with_context(mail_message_to_resend=message.id)
                .create({})
            )
            wizard.resend_mail_action()
            self.cr.commit()
            self.resent.add(rid)
        self.env.invalidate_all()
        print(
            f"chatter: Resend clicked on the {len(self.resent)} of {len(picked)}"
            " picked messages still showing a failed email"
            f" (of reminders {sorted(self.resent)}; states before:"
            f" {dict(Counter(rows[rid]['state'] for rid in picked))}),"
            f" {len(self.sink.messages) - before} received",
            flush=True,
        )

    def later_runs(self):
        """``--outage-runs`` runs with the server still down, then ``--runs`` with
        the server back, ``--next-run-after`` hours apart (the crons' interval):
        each the reminder cron then the mail queue, as their crons run."""
        from freezegun import freeze_time

        args = self.args
        base, started = datetime.now(), odoo_env.clock()
        self.back = None
        for index in range(args.outage_runs + args.runs):
            phase = f"run {index + 2}"
            up = index >= args.outage_runs
            if up and self.back is None:
                self.server.start()  # back for good
                self.back = index + 2
                if args.chatter_resends:
                    self.chatter_resends(args.chatter_resends)
            self.sink.phase, self.sink.stop_after = phase, None
            hours = args.next_run_after * (index + 1)
            before = len(self.sink.messages)
            with freeze_time(base + timedelta(hours=hours), tick=True):
                with LogCounter(NOISY) as log:
                    done, calls = run_reminder_cron(
                        self.cr, self.env, self.args.batch_size
                    )
                    self.learn()
                    self.observe(f"{phase}, after the reminder cron", self.rows())
                    queue_calls = run_mail_queue(self.cr, self.env)
                rows = self.rows()
                self.now = datetime.now()
            self.observe(f"{phase}, after the queue", rows)
            print(
                f"{phase} (+{hours:g} h, server {'up' if up else 'still down'}):"
                f" reminder cron {done} reminders in {calls} calls, mail queue"
                f" {queue_calls} calls, {len(self.sink.messages) - before} received;"
                f" {tally(rows)} (logged: {log.summary()})",
                flush=True,
            )
            self.check_arrivals(phase)
        self.server.stop()
        print(f"later runs: {odoo_env.clock() - started:.0f} s")
        return rows

    def check_failed_seen(self):
        """Each reminder of a failed mail was failed with the mail's reason at
        some point (right after the queue, or at the next reminder cron)."""
        for rid, row in self.failed.items():
            seen = self.seen_failed.get(rid)
            if seen is None and rid in self.resent:
                continue  # delivered by the collector's resend before any run
            if self.check(
                seen is not None,
                f"reminder never failed after its mail failed: reminder {rid}"
                f" ({row['failure_type']})",
            ):
                self.check(
                    flat(row["failure_reason"])[:40] in flat(seen[1]),
                    f"failed reminder without the mail's reason: reminder {rid}"
                    f" {seen[1]!r}",
                )
        moments = Counter(moment for moment, _reason in self.seen_failed.values())
        print(f"failed reminders first seen: {dict(moments)}")

    def check_final(self, rows):
        """Exactly once, nothing lost, nothing due left behind."""
        self.check_failed_seen()
        per_key, per_reminder = Counter(), defaultdict(list)
        for phase, _from, rcpts, raw in self.sink.messages:
            parsed = parse(raw)
            for rcpt in rcpts:
                per_key[rcpt.lower(), parsed["subject"]] += 1
            per_reminder[self.mapping.get(parsed["message_id"])].append(phase)
        duplicates = {key: n for key, n in per_key.items() if n > 1}
        for rid, phases in per_reminder.items():
            self.check(
                rid is None or len(phases) == 1,
                f"duplicate{' after a chatter resend' * ('chatter resend' in phases)}:"
                f" reminder {rid} arrived {len(phases)} times ({', '.join(phases)})",
            )
        cap = self.company.collection_max_attempts
        # Failed as many times as the company allows: left failed, on purpose.
        given_up = {
            rid
            for rid, row in rows.items()
            if row["state"] == "failed" and row["attempts"] >= cap
        }
        for rid, row in rows.items():
            arrived = per_reminder.get(rid, [])
            if row["state"] == "sent":
                # A resend from the chatter delivers the message with a new mail,
                # deleted once sent (auto_delete): its notification says so.
                self.check(
                    "sent" in (row["mail_state"], row["notification"]) and arrived,
                    f"lost: reminder {rid} is sent, its mail {row['mail']} is"
                    f" {row['mail_state']}, {len(arrived)} messages arrived",
                )
            elif row["state"] in ("planned", "failed"):
                self.check(
                    row["state"] == "planned"
                    and row["planned"] > self.now
                    or rid in given_up,
                    f"left {row['state']} although due: reminder {rid}"
                    f" ({row['reason']})",
                )
        retried = self.check_retries(rows, per_reminder, given_up)
        stale = self.stale_copies()
        self.check(
            not stale,
            f"stale failed copies: {stale} failed messages replaced by a retry still"
            " show a failed email that Resend (chatter) or Retry (mail queue) would"
            " send a second time",
        )
        customers = {rcpt for rcpt, _subject in per_key}
        received = len(self.sink.messages)
        print(
            f"result: {received} messages received ({self.received1} in run 1,"
            f" {received - self.received1} later) for {len(customers)} of"
            f" {len(self.partners)} customers; per (recipient, subject): max"
            f" {max(per_key.values(), default=0)}, {len(duplicates)} duplicated;"
            f" {tally(rows)}; failed in run 1: {len(self.failed)}, retried and"
            f" delivered: {dict(sorted(Counter(retried.values()).items()))},"
            f" given up after {cap} attempts: {len(given_up)}"
        )
        langs = Counter(self.expected[rid]["lang"] for rid in per_reminder if rid)
        print(f"languages received: {dict(langs)}")

    def check_retries(self, rows, per_reminder, given_up):
        """``{reminder id: phase}`` where each failed reminder finally arrived;
        a violation when not within ``--retry-within`` runs of the server back."""
        retried = {}
        for rid in self.failed:
            phases = [p for p in per_reminder.get(rid, []) if p != "run 1"]
            if phases:
                retried[rid] = phases[0]
            elif rid not in given_up:
                self.check(
                    False,
                    f"not retried once the server was back: reminder {rid} is"
                    f" {rows[rid]['state']} ({rows[rid]['reason']}), mail"
                    f" {rows[rid]['mail_state']}",
                )
        last = self.back + self.args.retry_within - 1
        for rid, phase in retried.items():
            if phase.startswith("run "):
                self.check(
                    int(phase.split()[1]) <= last,
                    f"retried late: reminder {rid} arrived in {phase}, the server"
                    f" was back for run {self.back}",
                )
        return retried

    def stale_copies(self):
        """Failed email notifications of the drill's messages that no reminder
        points to any more (a retry replaced them), or failed mails of them."""
        self.cr.execute(
            """SELECT COUNT(DISTINCT m.id) FROM mail_message m
                WHERE m.model = 'res.partner' AND m.res_id = ANY(%s)
                  AND NOT EXISTS (SELECT 1 FROM collection_reminder r
                                   WHERE r.message_id = m.id)
                  AND (EXISTS (SELECT 1 FROM mail_notification n
                                WHERE n.mail_message_id = m.id
                                  AND n.notification_status IN ('exception', 'bounce'))
                       OR EXISTS (SELECT 1 FROM mail_mail mm
                                   WHERE mm.mail_message_id = m.id
                                     AND mm.state = 'exception'))""",
            [self.partners.ids],
        )
        return self.cr.fetchone()[0]


def tally(rows):
    states = Counter(row["state"] for row in rows.values())
    attempts = Counter(row["attempts"] for row in rows.values())
    return f"reminders {dict(states)}, attempts {dict(sorted(attempts.items()))}"


def flat(text):
    return " ".join((text or "").split())


def drill(args):
    started = odoo_env.clock()
    prepare_database(args)
    print(f"database {args.db} ready in {odoo_env.clock() - started:.0f} s", flush=True)
    cr, env = open_env(args)
    run = Drill(args, cr, env)
    try:
        run.setup()
        rows = run.first_run()
        run.check_arrivals("run 1")
        run.check_cut(rows)
        rows = run.later_runs()
        run.check_final(rows)
    finally:
        run.server.stop()
        cr.rollback()
        cr.close()
    if not args.keep:
        odoo_env.close_all()
        odoo_env.drop_database(args.db)
    run.checker.report()
    violations = len(run.checker.violations)
    print(
        f"\n{'FAIL' if violations else 'OK'}: {violations} violations,"
        f" {odoo_env.clock() - started:.0f} s in all"
    )
    return 1 if violations else 0


def serve(args):
    """The SMTP server alone, for the demo: every message printed and kept."""
    os.makedirs(args.maildir, exist_ok=True)
    sink = Sink(maildir=args.maildir, verbose=True)
    server = SmtpServer(sink, port=args.port or 2525)
    server.start()
    if args.configure_db:
        args.db = args.configure_db
        cr, env = open_env(args)
        try:
            configure_mail_server(env, server.port)
            cr.commit()
        finally:
            cr.close()
        print(f"{args.configure_db}: outgoing mail server {SERVER_NAME!r} set")
    print(
        f"SMTP server on 127.0.0.1:{server.port}, messages kept in {args.maildir};"
        " Ctrl-C to stop",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Demo setting: `smtp_drill.py --serve --port 2525 --configure-db"
        " collections_demo` runs the SMTP server alone and points the database's"
        " outgoing mail server at it (or start Odoo with --smtp 127.0.0.1"
        " --smtp-port 2525 on a database without outgoing mail servers).",
    )
    parser.add_argument("--db", default="cp_smtp_drill")
    parser.add_argument("--template", default="cp_smtp_base")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the template")
    parser.add_argument("--keep", action="store_true", help="keep --db afterwards")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument(
        "--spanish", type=float, default=0.3, help="share of es_CL customers"
    )
    parser.add_argument(
        "--pdf-customers",
        type=int,
        default=12,
        help="customers on the overdue step, whose emails attach the invoice PDFs",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=100,
        help="reminders per call of the reminder cron (default 100)",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        help="messages the SMTP server accepts before it stops (default: 40%%)",
    )
    parser.add_argument(
        "--next-run-after",
        type=float,
        default=1.0,
        help="hours between two runs of the crons (default 1: their interval)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=2,
        help="runs of the crons once the server is back (default 2)",
    )
    parser.add_argument(
        "--retry-within",
        type=int,
        default=1,
        help="runs after the server is back within which every failed reminder"
        " must have arrived (default 1: the next run)",
    )
    parser.add_argument(
        "--chatter-resends",
        type=int,
        default=3,
        help="failed messages a collector resends from the chatter when the"
        " server is back, before the next run (default 3)",
    )
    parser.add_argument(
        "--outage-runs",
        type=int,
        default=0,
        help="runs of the crons while the server is still down, before it is back",
    )
    parser.add_argument(
        "--addons",
        default=odoo_env.REPO,
        help="folder holding collections_proactive (default: this repository)",
    )
    odoo_env.add_odoo_path(parser)
    parser.add_argument("--serve", action="store_true", help="only run the server")
    parser.add_argument("--port", type=int, help="--serve: port (default 2525)")
    parser.add_argument("--maildir", default="/tmp/smtp_drill_mail")
    parser.add_argument("--configure-db", help="--serve: database to point at it")
    args = parser.parse_args()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's own log
    args.addons = os.path.abspath(args.addons)
    for name in (args.db, args.template):
        if not name.startswith("cp_smtp"):
            parser.error(f"{name}: the drill's databases start with cp_smtp")
    sys.exit(serve(args) if args.serve else drill(args))


if __name__ == "__main__":
    main()
