import uuid
from collections import defaultdict
from datetime import timedelta

import psycopg2

from odoo import api, fields, models
from odoo.tools import SQL, format_date, mute_logger

from ..tools import contact_policy as cp

# The reminder engine logs under one name, that of collection_reminder.py.
from .collection_reminder import _logger

# The written contacts of the contact policy (calls are counted apart).
WRITTEN = ("email", "sms", "letter", "whatsapp")
BATCH_SIZE = 500
RETRY_DELAY = timedelta(hours=1)
# A retry planned one cron interval ahead is due at the run after, even when that
# run starts a little earlier in its slot than the one that planned it.
RETRY_SLACK = timedelta(minutes=5)
# The key space of the transaction-level advisory locks that reserve a customer
# for the transaction sending its reminders (the second key is the customer's id).
SENDING_LOCK = 0x43500001
# A cron call this soon after one that left reminders due continues its run.
CONTINUATION_WINDOW = timedelta(minutes=30)
# What sending reads of the invoices: fetched alone, not the 150-odd columns of
# account_move that prefetching would read for every invoice of the batch.
MOVE_FIELDS = [
    "name",
    "move_type",
    "state",
    "payment_state",
    "collection_followup_hold",
    "amount_residual",
    "invoice_date_due",
    "currency_id",
    "company_id",
    "invoice_user_id",
    "access_token",
]


class CollectionReminderSending(models.Model):
    """The scheduled action and sending: what is due, the policy, the outcomes."""

    _inherit = "collection.reminder"

    # ------------------------------------------------------------------
    # Scheduled action
    # ------------------------------------------------------------------

    @api.model
    def _cron_send_reminders(self, batch_size=BATCH_SIZE):
        """Plan what is due, then send one batch; the cron calls again while planned
        reminders are due (``_notify_progress``)."""
        if not self._continues_cron_run():
            self._sync_delivery_failures()
            self.env["collection.reminder.planner"]._plan_reminders()
            try:
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                    self.env["collection.case"]._sync_cases()
            except psycopg2.errors.SerializationFailure:
                # Another run is opening the same cases; the next run syncs.
                _logger.info("Another worker is syncing the cases: skipped")
        now = fields.Datetime.now()
        domain = [("state", "=", "planned"), ("planned_date", "<=", now)]
        batch = self._due_batch(now, batch_size)
        # Only what this worker locked counts as done: reporting the reminders
        # another worker holds would make the cron call again and again for
        # nothing.
        sent = batch._send()
        remaining = self.search_count(domain)
        self.env["ir.cron"]._notify_progress(done=len(sent), remaining=remaining)
        return {"done": len(sent), "remaining": remaining}

    @api.model
    def _due_batch(self, now, customers):
        """The due planned reminders of up to ``customers`` customers, those due
        longest first, that no other transaction is sending to. Each customer is
        reserved with a transaction-level advisory lock: two cron workers (or a
        worker and *Send now*) share the work instead of queueing for the same
        batch, and never write to one customer at once, so that the contact
        policy sees every message a customer gets. Customers another transaction
        holds are passed over, not waited for."""
        self.env.flush_all()
        # The lock is tried on the candidates in order and only until enough
        # are taken: the materialized CTE keeps the order, the LIMIT stops the
        # scan.
        self.env.cr.execute(
            SQL(
                """WITH due AS MATERIALIZED (
                       SELECT partner_id, MIN(planned_date) AS first
                         FROM collection_reminder
                        WHERE state = 'planned' AND planned_date <= %(now)s
                        GROUP BY partner_id
                        ORDER BY first, partner_id
                   )
                   SELECT partner_id FROM due
                    WHERE pg_try_advisory_xact_lock(%(space)s, partner_id)
                    LIMIT %(limit)s""",
                now=now,
                space=SENDING_LOCK,
                limit=customers,
            )
        )
        partner_ids = [row[0] for row in self.env.cr.fetchall()]
        return self.search(
            [
                ("state", "=", "planned"),
                ("planned_date", "<=", now),
                ("partner_id", "in", partner_ids),
            ],
            order="planned_date, id",
        )

    @api.model
    def _reserve_customers(self, partners):
        """The customers among ``partners`` this transaction may send to now: the
        others are being sent to by another transaction (see ``_due_batch``)."""
        if not partners:
            return partners
        self.env.cr.execute(
            SQL(
                """SELECT id FROM unnest(%s::int[]) AS id
                    WHERE pg_try_advisory_xact_lock(%s, id)""",
                partners.ids,
                SENDING_LOCK,
            )
        )
        return partners.browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def _sync_delivery_failures(self, retry=True):
        """What the mail and SMS queues could not deliver comes back to the log:
        the reminder is ``failed`` with the queue's reason, and planned again while
        it has attempts left: the first retry on the next run, then after the retry
        delay per attempt (the next run sends a new message). The undelivered
        message is cancelled, its mail or SMS and its notification, so that
        nobody re-sends it by hand as well (Retry in the queue, Resend from the
        chatter's envelope). A message already re-sent by hand (its notification
        points to a new mail) is not failed. Set-based: a few statements whatever
        the number of reminders. ``retry=False``: only bring failures back (the
        mail queue does it after each run)."""
        self.env.flush_all()
        cr = self.env.cr
        now = fields.Datetime.now()
        if retry:
            # Retries first: a reminder failed before this run goes out in it.
            cr.execute(
                SQL(
                    """UPDATE collection_reminder r
                          SET state = 'planned', write_date = %(now)s
                         FROM res_company c
                        WHERE c.id = r.company_id
                          AND r.state = 'failed'
                          AND r.delivery_failed
                          AND r.attempt_count < c.collection_max_attempts
                          AND r.planned_date <= %(now)s""",
                    now=now,
                )
            )
        # The recipient's notification says how its message fared; the mail it
        # points to is the latest attempt (a Resend from the chatter points it to
        # a new mail, and sets it ready, then sent).
        cr.execute(
            """SELECT r.id, m.id, n.id,
                      COALESCE(NULLIF(m.failure_reason, ''), n.failure_reason,
                               m.failure_type, n.failure_type, '')
                 FROM collection_reminder r
                 JOIN mail_notification n
                   ON n.mail_message_id = r.message_id
                  AND n.res_partner_id = r.partner_id
                  AND n.notification_type = 'email'
                 LEFT JOIN mail_mail m ON m.id = n.mail_mail_id
                WHERE r.state = 'sent' AND r.channel = 'email'
                  AND n.notification_status NOT IN ('sent', 'canceled')
                  AND (n.notification_status = 'exception'
                       OR m.state = 'exception')"""
        )
        mails = cr.fetchall()
        cr.execute(
            """SELECT r.id, s.id, n.id, COALESCE(s.failure_type, '')
                 FROM collection_reminder r
                 JOIN sms_sms s ON s.mail_message_id = r.message_id
                 LEFT JOIN mail_notification n
                   ON n.mail_message_id = r.message_id
                  AND n.notification_type = 'sms'
                WHERE r.state = 'sent' AND r.channel = 'sms' AND s.state = 'error'"""
        )
        texts = cr.fetchall()
        if not (mails or texts):
            self.invalidate_model()
            return 0
        cancel = [
            ("mail_mail", "state", "cancel", [row[1] for row in mails if row[1]]),
            ("sms_sms", "state", "canceled", [row[1] for row in texts]),
            (
                "mail_notification",
                "notification_status",
                "canceled",
                [row[2] for row in mails + texts if row[2]],
            ),
        ]
        for table, column, state, ids in cancel:
            if ids:
                cr.execute(
                    SQL(
                        "UPDATE %s SET %s = %s WHERE id = ANY(%s)",
                        SQL.identifier(table),
                        SQL.identifier(column),
                        state,
                        ids,
                    )
                )
        rows = SQL(", ").join(
            SQL(
                "(%s, %s)",
                reminder_id,
                # "111\nConnection refused": one line in the log's list.
                self.env._(
                    "Delivery failed: %(reason)s", reason=" ".join(reason.split())[:500]
                ),
            )
            for reminder_id, _message_id, _notification_id, reason in mails + texts
        )
        cr.execute(
            SQL(
                """UPDATE collection_reminder r
                      SET state = 'failed', delivery_failed = TRUE,
                          reason = v.reason,
                          planned_date = %(now)s - %(slack)s
                              + %(delay)s * GREATEST(r.attempt_count - 1, 0),
                          write_uid = %(uid)s, write_date = %(now)s
                     FROM (VALUES %(rows)s) AS v(id, reason)
                    WHERE r.id = v.id""",
                rows=rows,
                delay=RETRY_DELAY,
                slack=RETRY_SLACK,
                uid=self.env.uid,
                now=now,
            )
        )
        self.env["mail.mail"].invalidate_model(["state"])
        self.env["sms.sms"].invalidate_model(["state"])
        self.env["mail.notification"].invalidate_model(["notification_status"])
        self.invalidate_model()
        return len(mails) + len(texts)

    @api.model
    def _continues_cron_run(self):
        """Whether the scheduled action is being called again within a run that
        reported reminders left to send: the run planned on its first call, so
        planning again (a scan of every open invoice) would find nothing new."""
        progress_id = self.env.context.get("ir_cron_progress_id")
        if not progress_id:
            return False
        progress = self.env["ir.cron.progress"].sudo()
        cron = progress.browse(progress_id).cron_id
        previous = progress.search(
            [("cron_id", "=", cron.id), ("id", "<", progress_id)],
            order="id desc",
            limit=1,
        )
        return bool(
            previous.done
            and previous.remaining
            and previous.create_date > self.env.cr.now() - CONTINUATION_WINDOW
        )

    # ------------------------------------------------------------------
    # Sending, under the contact policy
    # ------------------------------------------------------------------

    def _lock_planned(self):
        """The planned reminders of self that no other transaction is sending."""
        if not self:
            return self
        self.env.flush_all()
        ids = []

        def lock(reminder_ids):
            self.env.cr.execute(
                SQL(
                    """SELECT id FROM collection_reminder
                        WHERE id = ANY(%s) AND state = 'planned'
                          FOR UPDATE SKIP LOCKED""",
                    reminder_ids,
                )
            )
            ids.extend(row[0] for row in self.env.cr.fetchall())

        # One another worker sent since this transaction began waits for the
        # next call, which sees its new state; the others go now.
        left = self._in_halves(self.ids, lock)
        if left:
            _logger.info(
                "%s reminders were sent by another worker meanwhile", len(left)
            )
        self.invalidate_recordset(["state"])
        return self.browse(ids)

    def _recent_contacts(self, now):
        """{(partner, company): {channel: [sent dates]}} over the last 7 days."""
        contacts = defaultdict(lambda: defaultdict(list))
        rows = self.sudo().search_fetch(
            [
                ("partner_id", "in", self.partner_id.ids),
                ("state", "=", "sent"),
                ("sent_date", ">", now - timedelta(days=7)),
            ],
            ["partner_id", "company_id", "channel", "sent_date"],
        )
        for row in rows:
            contacts[row.partner_id.id, row.company_id.id][row.channel].append(
                row.sent_date
            )
        return contacts

    def _send(self):
        """Send these planned reminders: decide each one under the contact policy,
        deliver what may go out now in bulk, channel by channel, then write every
        outcome in one statement. The queries do not grow with the batch."""
        now = fields.Datetime.now()
        reminders = self.sudo()._lock_planned()
        if not reminders:
            return reminders
        reminders.line_ids.move_id.fetch(MOVE_FIELDS)
        left = reminders._ensure_portal_tokens()
        if left:
            _logger.info(
                "%s reminders wait for the next call: another worker gave their "
                "invoices a portal token meanwhile",
                len(left),
            )
            reminders -= left
            if not reminders:
                return reminders
        facts = reminders._send_facts(now)
        outcomes, channels = {}, {}
        for reminder in reminders.sorted(lambda r: (r.partner_id.id, r.planned_date)):
            values, channel = reminder._decide(now, facts)
            outcomes[reminder.id] = values
            if channel:
                channels[reminder.id] = channel
        delivered, errors = reminders.browse(list(channels))._deliver_isolated(channels)
        for reminder_id, links in delivered.items():
            outcomes[reminder_id].update(links)
        for reminder in reminders.browse(list(errors)):
            outcomes[reminder.id] = reminder._failure_values(errors[reminder.id], now)
        reminders._write_outcomes(outcomes)
        reminders.browse(list(delivered))._move_cases()
        return reminders

    @api.model
    def _refresh_planned(self, partners, companies):
        """Decide again, without sending, the planned reminders of ``partners``
        in ``companies``, as sending would now: one a promise, a plan, a hold
        or a pause covers leaves *Planned* with the reason, one that waits says
        until when and why, one that may go out loses an outdated reason. Run
        when such a change is made, so that the log never says what the engine
        will not do. Reminders another transaction is sending are left to it."""
        reminders = (
            self.sudo()
            .search(
                [
                    ("partner_id", "in", partners.commercial_partner_id.ids),
                    ("company_id", "in", companies.ids),
                    ("state", "=", "planned"),
                ]
            )
            ._lock_planned()
        )
        if not reminders:
            return reminders
        now = fields.Datetime.now()
        facts = reminders._send_facts(now)
        outcomes = {}
        for reminder in reminders.sorted(lambda r: (r.partner_id.id, r.planned_date)):
            values, channel = reminder._decide(now, facts)
            # One that may go out now stays planned for the next run.
            outcomes[reminder.id] = {"reason": False} if channel else values
        reminders._write_outcomes(outcomes)
        reminders.invalidate_recordset()
        return reminders

    def _send_facts(self, now):
        """What deciding these reminders reads, in a few queries for all of them:
        recent contacts, superseded reminders, public holidays, paused cases,
        promises and plans. The installments' paid amounts are brought up to date
        first: the daily check may not have seen yesterday's payments yet."""
        self.plan_id._allocate_payments()
        return {
            "contacts": self._recent_contacts(now),
            "superseded": self._superseded(),
            "holidays": self._holidays(now),
            "paused": self.env["collection.case"]._paused(
                self.partner_id, self.company_id, now
            ),
            "promised": self.env["collection.promise"]._covered_lines(
                self.line_ids.move_line_id.ids, now.date()
            ),
            "in_plan": self.env["collection.payment.plan"]._covered_lines(
                self.line_ids.move_line_id.ids
            ),
            # The reminders' amounts due still open, filtered once for the batch.
            "open": set(self._open_due_lines().ids),
        }

    def _move_cases(self):
        """Steps that move the customer's case: sent reminders move it forward."""
        targets = defaultdict(lambda: self.env["res.partner"])
        for reminder in self.filtered("step_id.case_stage_id"):
            targets[reminder.company_id, reminder.step_id.case_stage_id] |= (
                reminder.partner_id
            )
        for (company, stage), partners in targets.items():
            self.env["collection.case"]._advance(partners, company, stage)

    def _superseded(self):
        """Ids of these reminders whose open amounts due already have a later
        step planned or sent: deferred past the next step, they are stale (the
        later step speaks for them). One query for the batch."""
        if not self:
            return set()
        Strategy = self.env["collection.strategy"]
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT r.id
                     FROM collection_reminder r
                     JOIN collection_strategy_step st ON st.id = r.step_id
                    WHERE r.id = ANY(%s)
                      AND EXISTS (
                          SELECT 1
                            FROM collection_reminder_line l
                            JOIN account_move_line ml ON ml.id = l.move_line_id
                            JOIN LATERAL (
                                SELECT ml.date_maturity AS due,
                                       am.invoice_date AS issued
                                  FROM account_move am WHERE am.id = ml.move_id
                            ) mv ON TRUE
                            JOIN collection_reminder_line l2
                              ON l2.move_line_id = l.move_line_id
                            JOIN collection_strategy_step st2 ON st2.id = l2.step_id
                            JOIN collection_reminder r2 ON r2.id = l2.reminder_id
                           WHERE l.reminder_id = r.id
                             AND NOT ml.reconciled AND ml.amount_residual > 0
                             AND st.offset_from != 'paid' AND st2.offset_from != 'paid'
                             AND %s > %s
                             AND r2.state IN ('planned', 'sent'))
                    UNION
                   SELECT r.id
                     FROM collection_reminder r
                     JOIN collection_strategy_step st ON st.id = r.step_id
                    WHERE r.id = ANY(%s)
                      AND r.installment_id IS NOT NULL
                      AND EXISTS (
                          SELECT 1
                            FROM collection_reminder r2
                            JOIN collection_strategy_step st2 ON st2.id = r2.step_id
                           WHERE r2.installment_id = r.installment_id
                             AND st2.offset_days > st.offset_days
                             AND r2.state IN ('planned', 'sent'))""",
                self.ids,
                Strategy._step_day_sql("st2"),
                Strategy._step_day_sql("st"),
                self.ids,
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _holidays(self, now):
        """Public holidays of the countries these reminders' customers are in."""
        if not any(self.company_id.mapped("collection_skip_holidays")):
            return {}
        countries = self.partner_id.country_id | self.company_id.country_id
        return self.env["collection.holiday"]._dates_by_country(
            countries, now.date() - timedelta(days=1)
        )

    def _ensure_portal_tokens(self):
        """Give the plans of installment reminders their portal access token,
        and the invoices listed by an email whose template still builds the
        invoice links from the portal URL (a template rewritten before the
        signed links, ``_collection_invoice_url``) theirs, in one statement:
        written through the ORM, each token would re-sync the invoice's journal
        lines, most of the cost of a reminder. Returns the reminders with an
        invoice another worker gave its token after this transaction began:
        this one cannot see that token, so they wait for the next call."""
        for plan in self.plan_id.filtered(lambda plan: not plan.access_token):
            plan._portal_ensure_token()
        moves = self.env["account.move"]
        emails = self.filtered(lambda r: r.channel == "email")
        for template, reminders in emails.grouped(lambda r: r._mail_template()).items():
            if "get_portal_url" in str(template.body_html or ""):
                moves |= reminders.line_ids.move_id
        if not moves:
            return self.browse()
        self.env.flush_all()
        # The tokens are read with the invoices (MOVE_FIELDS): only the missing
        # ones are written, Odoo's kind (``_portal_ensure_token``: a uuid4), and
        # put in the cache as written, with no read back.
        missing = moves.filtered(lambda move: not move.access_token)
        written = {}

        def update(move_ids):
            tokens = {move_id: str(uuid.uuid4()) for move_id in move_ids}
            self.env.cr.execute(
                SQL(
                    """UPDATE account_move m SET access_token = v.token
                         FROM (VALUES %s) AS v(id, token)
                        WHERE m.id = v.id AND m.access_token IS NULL
                    RETURNING m.id""",
                    SQL(", ").join(
                        SQL("(%s, %s)", move_id, token)
                        for move_id, token in tokens.items()
                    ),
                )
            )
            written.update((row[0], tokens[row[0]]) for row in self.env.cr.fetchall())

        busy = set(self._in_halves(missing.ids, update)) if missing else set()
        field = moves._fields["access_token"]
        done = moves.browse(list(written))
        self.env.cache.update(done, field, [written[move.id] for move in done])
        # Any other one (none, but for a race the UPDATE did not see) is read
        # back.
        (missing - done).invalidate_recordset(["access_token"])
        return self.filtered(lambda r: busy.intersection(r.line_ids.move_id.ids))

    def _decide(self, now, facts):
        """What sending does with this planned reminder now: ``(values to write,
        channel to deliver on or None)``. ``facts`` from ``_send_facts``; a delivery
        counts at once in its contacts so that the next reminders of the customer
        respect the policy."""
        self.ensure_one()
        if self.installment_id:
            verdict = self._installment_verdict(facts)
        elif self.kind == "thanks":
            verdict = self._thanks_verdict()
        else:
            verdict = self._invoice_verdict(facts)
        if verdict:
            return verdict, None
        pause = facts["paused"].get((self.partner_id.id, self.company_id.id))
        if pause:
            until, why = pause
            return {
                "planned_date": until,
                "reason": self.env._(
                    "Follow-up paused until %(date)s: %(reason)s",
                    date=format_date(self.env, until.date()),
                    reason=why,
                ),
            }, None
        channel, reason = self._deliverable_channel()
        if not channel:
            return {"state": "skipped", "reason": reason}, None
        sent = facts["contacts"][self.partner_id.id, self.company_id.id]
        when = self._policy_defer(channel, now, sent, facts["holidays"])
        if when:
            return {"planned_date": when[0], "reason": when[1]}, None
        sent[channel].append(now)
        return {
            "state": "sent",
            "sent_date": now,
            "channel": channel,
            "reason": reason,
            "attempt_count": self.attempt_count + 1,
        }, channel

    def _invoice_verdict(self, facts):
        """Why this invoice reminder no longer goes out (values to write), or None."""
        open_lines = self.line_ids.move_line_id.filtered(
            lambda line: line.id in facts["open"]
        )
        open_invoices = open_lines.move_id
        if not open_lines:
            return {"state": "cancelled", "reason": self.env._("Paid before sending")}
        if self.id in facts["superseded"]:
            return {
                "state": "cancelled",
                "reason": self.env._("Superseded by a later step"),
            }
        held = open_invoices.filtered("collection_followup_hold")
        if held == open_invoices or self.partner_id.collection_no_followup:
            return {"state": "skipped", "reason": self.env._("Follow-up put on hold")}
        if not set(open_lines.ids) - facts["in_plan"]:
            return {
                "state": "skipped",
                "reason": self.env._("Covered by a payment plan"),
            }
        if not set(open_lines.ids) - facts["promised"]:
            return {
                "state": "skipped",
                "reason": self.env._("Covered by a promise to pay"),
            }
        return None

    def _thanks_verdict(self):
        """Why this thank-you no longer goes out, or None: what it thanks for
        must still be paid (not a payment undone since)."""
        if self.partner_id.collection_no_followup:
            return {"state": "skipped", "reason": self.env._("Follow-up put on hold")}
        if not self.line_ids.move_line_id.filtered("reconciled"):
            return {
                "state": "cancelled",
                "reason": self.env._("The payment was undone before sending"),
            }
        return None

    def _installment_verdict(self, facts):
        """Why this installment reminder no longer goes out, or None."""
        installment = self.installment_id
        if installment.plan_id.state != "active":
            return {
                "state": "cancelled",
                "reason": self.env._("The payment plan is no longer active"),
            }
        if (
            installment.currency_id.compare_amounts(
                installment.paid_amount, installment.amount
            )
            >= 0
        ):
            return {
                "state": "cancelled",
                "reason": self.env._("Installment paid before sending"),
            }
        if self.id in facts["superseded"]:
            return {
                "state": "cancelled",
                "reason": self.env._("Superseded by a later step"),
            }
        if self.partner_id.collection_no_followup:
            return {"state": "skipped", "reason": self.env._("Follow-up put on hold")}
        return None

    def _failure_values(self, error, now):
        """A failed delivery is retried later, up to the company's limit, then left
        visible as failed."""
        self.ensure_one()
        _logger.warning("Collection reminder %s failed: %s", self.id, error)
        attempts = self.attempt_count + 1
        if attempts >= self.company_id.collection_max_attempts:
            return {"state": "failed", "reason": str(error), "attempt_count": attempts}
        return {
            "planned_date": now + RETRY_DELAY * attempts,
            "reason": self.env._(
                "Attempt %(count)s failed, retrying: %(error)s",
                count=attempts,
                error=error,
            ),
            "attempt_count": attempts,
        }

    def _write_outcomes(self, outcomes):
        """Write ``{reminder id: values}`` in one UPDATE: through the ORM, each
        reminder would be its own statement (every one has its own message)."""
        if not outcomes:
            return
        # A fallback channel (email instead of SMS) changes the reminder's channel
        # only: its invoice lines keep the planned one, their exactly-once key.
        self.env.flush_all()
        rows = SQL(", ").join(
            SQL(
                "(%s, %s::varchar, %s::timestamp, %s::timestamp, %s::varchar,"
                " %s::varchar, %s::int, %s::int, %s::int, %s::boolean)",
                reminder_id,
                values.get("state"),
                values.get("planned_date"),
                values.get("sent_date"),
                values.get("channel"),
                values.get("reason") or None,
                values.get("attempt_count"),
                values.get("message_id"),
                values.get("activity_id"),
                # The reason is overwritten by each outcome (NULL clears it), the
                # other columns only when the outcome sets them.
                "reason" in values,
            )
            for reminder_id, values in outcomes.items()
        )
        self.env.cr.execute(
            SQL(
                """UPDATE collection_reminder r
                      SET state = COALESCE(v.state, r.state),
                          planned_date = COALESCE(v.planned_date, r.planned_date),
                          sent_date = COALESCE(v.sent_date, r.sent_date),
                          channel = COALESCE(v.channel, r.channel),
                          reason = CASE WHEN v.set_reason THEN v.reason
                                        ELSE r.reason END,
                          attempt_count = COALESCE(v.attempt_count, r.attempt_count),
                          message_id = COALESCE(v.message_id, r.message_id),
                          activity_id = COALESCE(v.activity_id, r.activity_id),
                          delivery_failed = r.delivery_failed
                                            AND v.state IS DISTINCT FROM 'sent',
                          write_uid = %(uid)s,
                          write_date = %(now)s
                     FROM (VALUES %(rows)s) AS v(id, state, planned_date, sent_date,
                          channel, reason, attempt_count, message_id, activity_id,
                          set_reason)
                    WHERE r.id = v.id""",
                rows=rows,
                uid=self.env.uid,
                now=fields.Datetime.now(),
            )
        )
        self.invalidate_model()

    def _policy_defer(self, channel, now, sent, holidays):
        """None when the contact policy allows this channel now, else
        ``(new planned date, reason)``: deferred, never dropped."""
        company = self.company_id
        tz = self.partner_id.tz or company.partner_id.tz or "UTC"
        window = (
            int(company.collection_contact_weekday_from),
            int(company.collection_contact_weekday_to),
            company.collection_contact_hour_from,
            company.collection_contact_hour_to,
        )
        earliest, reason = now, False
        if channel in WRITTEN:
            written = sorted(date for kind in WRITTEN for date in sent[kind])
            gap = timedelta(days=company.collection_min_days_between_written)
            if written and written[-1] + gap > earliest:
                earliest = written[-1] + gap
                reason = self.env._(
                    "Less than %(days)s days since the last message",
                    days=company.collection_min_days_between_written,
                )
            cap = company.collection_max_written_per_week
            if cap and len(written) >= cap:
                cap_end = written[-cap] + timedelta(days=7)
                if cap_end > earliest:
                    earliest = cap_end
                    reason = self.env._("At most %(count)s messages a week", count=cap)
        else:
            calls = sorted(sent["call"])
            cap = company.collection_max_calls_per_week
            if cap and len(calls) >= cap:
                earliest = max(earliest, calls[-cap] + timedelta(days=7))
                reason = self.env._("At most %(count)s calls a week", count=cap)
        local = cp.to_local(earliest, tz)
        country = self.partner_id.country_id or company.country_id
        days_off = (
            holidays.get(country.id, ()) if company.collection_skip_holidays else ()
        )
        start = cp.next_window_start(local, *window, days_off)
        if start != local:
            earliest = cp.to_utc(start, tz)
            reason = reason or self.env._("Outside the contact hours")
        if earliest <= now:
            return None
        when = f"{format_date(self.env, start.date())} {start:%H:%M}"
        return earliest, self.env._(
            "%(reason)s: deferred to %(when)s (%(tz)s)",
            reason=reason,
            when=when,
            tz=tz,
        )
