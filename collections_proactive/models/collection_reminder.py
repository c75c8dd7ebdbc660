import logging
from collections import defaultdict
from datetime import timedelta

import psycopg2
from lxml import html
from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.tools import SQL, format_date, mute_logger, plaintext2html, safe_eval

from ..tools import contact_policy as cp

_logger = logging.getLogger(__name__)

CHANNELS = [("email", "Email"), ("sms", "SMS"), ("call", "Call"), ("letter", "Letter")]
WRITTEN = ("email", "sms", "letter")
BATCH_SIZE = 500
WRITE_PAGE = 5000
ANALYZE_AFTER = 5000
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
]


class CollectionReminder(models.Model):
    """The log of every reminder: one message (or call) to one customer for one
    step, listing the invoices it is about.

    Planned by the scheduled action, then sent under the company's contact policy:
    a reminder outside the contact window or over the contact cap is deferred (its
    planned date moves and the reason says why), never dropped. Kept at least two
    years: nothing in the addon deletes it.
    """

    _name = "collection.reminder"
    _description = "Collection Reminder"
    _order = "planned_date desc, id desc"
    _check_company_auto = True

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, readonly=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, readonly=True
    )
    step_id = fields.Many2one(
        "collection.strategy.step", required=True, ondelete="restrict", readonly=True
    )
    strategy_id = fields.Many2one(related="step_id.strategy_id", store=True)
    kind = fields.Selection(related="step_id.kind", store=True)
    channel = fields.Selection(
        CHANNELS,
        required=True,
        readonly=True,
        help="The channel it goes out on: the planned one, or the fallback when "
        "the customer cannot be reached on it.",
    )
    planned_channel = fields.Selection(
        CHANNELS,
        readonly=True,
        help="The channel the step planned. It never changes: with the invoice "
        "or installment and the step, it is the key that makes a reminder exactly "
        "once, also when it goes out on a fallback channel.",
    )
    line_ids = fields.One2many(
        "collection.reminder.line", "reminder_id", string="Invoices", readonly=True
    )
    installment_id = fields.Many2one(
        "collection.payment.plan.installment",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="Set on the reminders of a payment plan installment: their steps count "
        "days from the installment's date, and they list no invoice of their own.",
    )
    plan_id = fields.Many2one(
        related="installment_id.plan_id", store=True, string="Payment Plan"
    )
    invoice_ids = fields.Many2many(
        "account.move", compute="_compute_invoice_ids", string="Invoice List"
    )
    due_line_ids = fields.Many2many(
        "account.move.line",
        compute="_compute_invoice_ids",
        string="Amounts Due",
        help="What the message lists: each amount due with its own due date.",
    )
    amount_total = fields.Monetary(
        string="Amount Due",
        compute="_compute_invoice_ids",
        currency_field="currency_id",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    planned_date = fields.Datetime(required=True, index=True, readonly=True)
    sent_date = fields.Datetime(readonly=True)
    state = fields.Selection(
        [
            ("planned", "Planned"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("skipped", "Skipped"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="planned",
        index=True,
        readonly=True,
    )
    reason = fields.Char(readonly=True, help="Why it was deferred, skipped or failed.")
    delivery_failed = fields.Boolean(
        readonly=True,
        help="The mail or SMS queue could not deliver its last message: retried "
        "after the retry delay while attempts are left.",
    )
    attempt_count = fields.Integer(readonly=True)
    pay_url = fields.Char(compute="_compute_links", string="Payment Link")
    optout_email_url = fields.Char(compute="_compute_links")
    optout_sms_url = fields.Char(compute="_compute_links")
    message_id = fields.Many2one(
        "mail.message", readonly=True, ondelete="set null", index="btree_not_null"
    )
    activity_id = fields.Many2one("mail.activity", readonly=True, ondelete="set null")

    @api.depends(
        "line_ids.move_line_id.reconciled",
        "line_ids.move_line_id.amount_residual",
        "line_ids.move_id.collection_followup_hold",
        "installment_id.amount",
        "installment_id.paid_amount",
    )
    def _compute_invoice_ids(self):
        """What the message lists: the reminder's amounts due still open and not
        on hold (each with its own due date) and their invoices, with what is
        left to pay now; for an installment, the plan's open invoices and what
        is left to pay on the installment."""
        for reminder in self:
            installment = reminder.installment_id
            if installment:
                reminder.due_line_ids = False
                reminder.invoice_ids = (
                    installment.plan_id.invoice_ids._collection_open()
                )
                reminder.amount_total = installment.amount - installment.paid_amount
                continue
            lines = reminder._open_due_lines().filtered(
                lambda line: not line.move_id.collection_followup_hold
            )
            reminder.due_line_ids = lines.sorted(
                lambda line: (line.date_maturity, line.move_id.id, line.id)
            )
            reminder.invoice_ids = lines.move_id
            reminder.amount_total = sum(lines.mapped("amount_residual"))

    def init(self):
        # The exactly-once key of installment reminders (the invoice lines carry
        # it for the others): an installment gets each step on each planned
        # channel once. On the planned channel, not the one it went out on: a
        # fallback would free the key for a planner working concurrently.
        self.env.cr.execute(
            """UPDATE collection_reminder SET planned_channel = channel
                WHERE planned_channel IS NULL;
               DROP INDEX IF EXISTS collection_reminder_installment_step_channel_unique;
               CREATE UNIQUE INDEX IF NOT EXISTS
                      collection_reminder_installment_step_planned_unique
                   ON collection_reminder (installment_id, step_id, planned_channel)
                WHERE installment_id IS NOT NULL"""
        )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals.setdefault("planned_channel", vals.get("channel"))
        return super().create(vals_list)

    @api.depends("partner_id", "step_id", "channel")
    def _compute_display_name(self):
        channels = dict(self._fields["channel"]._description_selection(self.env))
        for reminder in self:
            reminder.display_name = self.env._(
                "%(step)s to %(customer)s (%(channel)s)",
                step=reminder.step_id.name,
                customer=reminder.partner_id.display_name,
                channel=channels.get(reminder.channel),
            )

    # ------------------------------------------------------------------
    # Links rendered in messages
    # ------------------------------------------------------------------

    def _compute_links(self):
        for reminder in self:
            partner = reminder.partner_id
            base = partner.get_base_url()
            # The portal link carries the access token: no login needed.
            if reminder.installment_id:
                reminder.pay_url = base + reminder.plan_id.sudo().get_portal_url()
            else:
                first = reminder.line_ids.move_id.sorted("invoice_date_due")[:1]
                reminder.pay_url = first and base + first.sudo().get_portal_url()
            for channel in partner.COLLECTION_OPTOUT_FIELDS:
                reminder[f"optout_{channel}_url"] = partner._collection_optout_url(
                    channel
                )

    # ------------------------------------------------------------------
    # Scheduled action
    # ------------------------------------------------------------------

    @api.model
    def _cron_send_reminders(self, batch_size=BATCH_SIZE):
        """Plan what is due, then send one batch; the cron calls again while planned
        reminders are due (``_notify_progress``)."""
        if not self._continues_cron_run():
            self._sync_delivery_failures()
            self._plan_reminders()
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
    # Planning: which invoice reaches which step today
    # ------------------------------------------------------------------

    @api.model
    def _plan_reminders(self, companies=None, partners=None):
        """Create the reminders of every invoice whose next step is due today in its
        customer's time zone, bundled per customer, step and channel."""
        # Scheduled or on demand, planning is a system job: it reads every strategy
        # and writes the log, whoever triggers it.
        self = self.sudo()  # noqa: PLW0642
        now = fields.Datetime.now()
        created = self.browse()
        for company in (companies or self.env["res.company"].search([])).sudo():
            rows = self._plan_candidates(company, now, partners)
            if rows:
                created |= self._plan_create(company, rows, now)
            created |= self._plan_installments(company, now, partners)
        return created

    @api.model
    def _strategy_sql(self, company):
        """SQL giving the id of the strategy of customer ``p`` in ``company``: its
        own for the company, else its risk band's; None without any strategy."""
        mapping = self.env["collection.strategy"].sudo()._strategy_by_band(company)
        if not mapping:
            return None
        return SQL(
            "COALESCE((p.collection_strategy_id->>%(key)s)::int,"
            " CASE p.collection_risk_band->>%(key)s"
            " WHEN 'low' THEN %(low)s WHEN 'medium' THEN %(medium)s"
            " WHEN 'high' THEN %(high)s WHEN 'critical' THEN %(critical)s"
            " ELSE %(default)s END)",
            key=str(company.id),
            low=mapping.get("low"),
            medium=mapping.get("medium"),
            high=mapping.get("high"),
            critical=mapping.get("critical"),
            default=mapping.get("default"),
        )

    def _plan_candidates(self, company, now, partners=None):
        """The open receivable lines of customer invoices whose next step is due
        today in the customer's time zone, each on its own due date: one row
        ``(line, invoice, customer, step, residual, hold, customer hold,
        promised, in a plan, covered by credits)``."""
        strategy_of = self._strategy_sql(company)
        if strategy_of is None:
            return []
        partner_filter = (
            SQL("AND m.commercial_partner_id = ANY(%s)", partners.ids)
            if partners
            else SQL()
        )
        Line = self.env["account.move.line"]
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH cand AS (
                    SELECT l.id AS line_id, m.id AS move_id,
                           m.commercial_partner_id AS partner_id,
                           st.id AS step_id, st.offset_days,
                           l.amount_residual AS residual,
                           m.collection_followup_hold AS hold,
                           p.collection_no_followup AS partner_hold,
                           (%(now)s::timestamp AT TIME ZONE 'UTC' AT TIME ZONE
                            COALESCE(NULLIF(p.tz, ''), %(tz)s))::date AS local_day,
                           ROW_NUMBER() OVER (PARTITION BY l.id
                                              ORDER BY st.offset_days DESC) AS rn
                      FROM account_move_line l
                      JOIN account_move m ON m.id = l.move_id
                      JOIN res_partner p ON p.id = m.commercial_partner_id
                      JOIN collection_strategy s
                        ON s.id = %(strategy_of)s
                       AND s.active AND s.company_id = %(company)s
                      JOIN collection_strategy_step st
                        ON st.strategy_id = s.id AND st.active
                     WHERE l.company_id = %(company)s AND %(open)s
                       AND l.date_maturity + st.offset_days <= (
                           %(now)s::timestamp AT TIME ZONE 'UTC'
                           AT TIME ZONE COALESCE(NULLIF(p.tz, ''), %(tz)s))::date
                       AND l.amount_residual >= COALESCE(st.min_amount, 0)
                       %(partner_filter)s
                ),
                -- what each customer owes in all: its credits (credit notes,
                -- unreconciled payments) offset its invoices
                owed AS (
                    SELECT pc.commercial_partner_id AS partner_id,
                           SUM(l.amount_residual) AS amount
                      FROM account_move_line l
                      JOIN account_move m ON m.id = l.move_id
                      JOIN res_partner pc ON pc.id = l.partner_id
                     WHERE l.company_id = %(company)s AND %(any_open)s
                       AND pc.commercial_partner_id IN (SELECT partner_id FROM cand)
                     GROUP BY pc.commercial_partner_id
                )
                SELECT c.line_id, c.move_id, c.partner_id, c.step_id, c.residual,
                       c.hold, COALESCE(c.partner_hold, FALSE),
                       EXISTS (SELECT 1
                                 FROM collection_promise_move_rel pm
                                 JOIN collection_promise pr ON pr.id = pm.promise_id
                                WHERE pm.move_id = c.move_id AND pr.state = 'open'
                                  AND pr.grace_until >= c.local_day) AS promised,
                       EXISTS (SELECT 1
                                 FROM collection_plan_move_rel plm
                                 JOIN collection_payment_plan pl ON pl.id = plm.plan_id
                                WHERE plm.move_id = c.move_id
                                  AND pl.state = 'active') AS planned,
                       COALESCE(o.amount, 0) <= 0 AS covered
                  FROM cand c
                  LEFT JOIN owed o ON o.partner_id = c.partner_id
                 WHERE c.rn = 1
                   AND NOT EXISTS (
                        SELECT 1
                          FROM collection_reminder_line rl
                          JOIN collection_strategy_step ls ON ls.id = rl.step_id
                         WHERE rl.move_line_id = c.line_id
                           AND ls.offset_days >= c.offset_days)
                 ORDER BY c.partner_id, c.step_id, c.move_id, c.line_id
                """,
                strategy_of=strategy_of,
                company=company.id,
                now=now,
                tz=company.partner_id.tz or "UTC",
                open=Line._collection_open_sql(owed_only=True),
                any_open=Line._collection_open_sql(),
                partner_filter=partner_filter,
            )
        )
        return self.env.cr.fetchall()

    def _plan_installments(self, company, now, partners=None):
        """Create the reminders of the installments of active plans whose next step
        of the company's installment strategy is due today, one per installment,
        step and channel (the partial unique index keeps it once)."""
        strategy = self.env["collection.strategy"]._installment_strategy(company)
        if not strategy.step_ids:
            return self.browse()
        plans = self.env["collection.payment.plan"].search(
            [("company_id", "=", company.id), ("state", "=", "active")]
            + ([("partner_id", "in", partners.ids)] if partners else [])
        )
        if not plans:
            return self.browse()
        # What the installments' paid amounts say decides what is planned: the
        # payments since the last check count.
        plans._allocate_payments()
        partner_filter = (
            SQL("AND pl.partner_id = ANY(%s)", partners.ids) if partners else SQL()
        )
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH cand AS (
                    SELECT i.id AS installment_id, pl.id AS plan_id, pl.partner_id,
                           st.id AS step_id,
                           st.offset_days,
                           ROW_NUMBER() OVER (PARTITION BY i.id
                                              ORDER BY st.offset_days DESC) AS rn
                      FROM collection_payment_plan_installment i
                      JOIN collection_payment_plan pl ON pl.id = i.plan_id
                      JOIN res_partner p ON p.id = pl.partner_id
                      JOIN collection_strategy_step st
                        ON st.strategy_id = %(strategy)s AND st.active
                     WHERE pl.company_id = %(company)s
                       AND pl.state = 'active'
                       AND i.amount - COALESCE(i.paid_amount, 0)
                           >= GREATEST(COALESCE(st.min_amount, 0), 0.000001)
                       AND i.date + st.offset_days <= (
                           %(now)s::timestamp AT TIME ZONE 'UTC'
                           AT TIME ZONE COALESCE(NULLIF(p.tz, ''), %(tz)s))::date
                       %(partner_filter)s
                )
                SELECT c.partner_id, c.step_id, c.installment_id, c.plan_id
                  FROM cand c
                 WHERE c.rn = 1
                   AND NOT EXISTS (
                        SELECT 1
                          FROM collection_reminder r
                          JOIN collection_strategy_step rs ON rs.id = r.step_id
                         WHERE r.installment_id = c.installment_id
                           AND rs.offset_days >= c.offset_days)
                 ORDER BY c.partner_id, c.installment_id
                """,
                strategy=strategy.id,
                company=company.id,
                now=now,
                tz=company.partner_id.tz or "UTC",
                partner_filter=partner_filter,
            )
        )
        rows = self.env.cr.fetchall()
        if not rows:
            return self.browse()
        steps = self.env["collection.strategy.step"].browse({row[1] for row in rows})
        channels = {step.id: step._channels() for step in steps}
        kinds = {step.id: step.kind for step in steps}
        values = [
            SQL(
                "(%s, %s, %s, %s, %s, %s, %s, %s, 'planned', 0, %s, %s, %s, %s, %s,"
                " %s)",
                partner_id,
                company.id,
                step_id,
                strategy.id,
                kinds[step_id],
                channel,
                channel,
                now,
                installment_id,
                plan_id,
                self.env.uid,
                now,
                self.env.uid,
                now,
            )
            for partner_id, step_id, installment_id, plan_id in rows
            for channel in channels[step_id]
        ]
        if not values:
            return self.browse()
        ids = []

        def insert(page):
            self.env.cr.execute(
                SQL(
                    """INSERT INTO collection_reminder
                           (partner_id, company_id, step_id, strategy_id, kind,
                            channel, planned_channel, planned_date, state,
                            attempt_count, installment_id, plan_id, create_uid,
                            create_date, write_uid, write_date)
                       VALUES %s
                       ON CONFLICT (installment_id, step_id, planned_channel)
                          WHERE installment_id IS NOT NULL DO NOTHING
                       RETURNING id""",
                    SQL(", ").join(page),
                )
            )
            ids.extend(row[0] for row in self.env.cr.fetchall())

        # As for invoice lines: one another planner committed after this
        # transaction began is left to it, and to the next run.
        left = self._in_halves(values, insert)
        if left:
            _logger.info(
                "%s installment reminders were planned by another worker", len(left)
            )
        self.invalidate_model()
        return self.browse(ids)

    def _plan_create(self, company, rows, now):
        steps = self.env["collection.strategy.step"].browse({row[3] for row in rows})
        channels = {step.id: step._channels() for step in steps}
        hold_labels = dict(
            self.env["account.move"]
            ._fields["collection_followup_hold"]
            ._description_selection(self.env)
        )
        groups = defaultdict(list)
        for row in rows:
            line_id, move_id, partner_id, step_id, residual, hold = row[:6]
            partner_hold, promised, in_plan, covered = row[6:]
            reason = False
            if partner_hold:
                reason = self.env._("Customer marked no follow-up")
            elif covered:
                reason = self.env._(
                    "Nothing owed: the customer's credits cover its invoices"
                )
            elif in_plan:
                reason = self.env._("Covered by a payment plan")
            elif promised:
                reason = self.env._("Covered by a promise to pay")
            elif hold:
                reason = self.env._(
                    "Invoice on hold: %(hold)s", hold=hold_labels.get(hold, hold)
                )
            groups[partner_id, step_id, reason].append((line_id, move_id, residual))
        reminders = []
        for (partner_id, step_id, reason), lines in groups.items():
            for channel in channels[step_id]:
                reminders.append((partner_id, step_id, channel, reason or None, lines))
        return self._insert_exactly_once(company, reminders, now)

    def _insert_exactly_once(self, company, reminders, now):
        """Insert the reminders and their invoice lines in bulk.

        ``reminders``: ``[(partner, step, channel, skip reason, [(receivable line,
        invoice, residual)])]``.
        A line another worker inserted first is left to it (``ON CONFLICT DO
        NOTHING`` on the unique key waits for that worker, then skips); a reminder
        left with no line of its own is removed. Returns the reminders kept.
        """
        if not reminders:
            return self.browse()
        steps = self.env["collection.strategy.step"].browse({r[1] for r in reminders})
        step_info = {step.id: (step.strategy_id.id, step.kind) for step in steps}
        uid = self.env.uid
        self.env.flush_all()
        ids = []
        for page in range(0, len(reminders), WRITE_PAGE):
            chunk = reminders[page : page + WRITE_PAGE]
            values = SQL(", ").join(
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, %s)",
                    partner_id,
                    company.id,
                    step_id,
                    *step_info[step_id],
                    channel,
                    channel,
                    now,
                    "skipped" if reason else "planned",
                    reason,
                    uid,
                    now,
                    uid,
                    now,
                )
                for partner_id, step_id, channel, reason, _invoices in chunk
            )
            self.env.cr.execute(
                SQL(
                    """INSERT INTO collection_reminder
                           (partner_id, company_id, step_id, strategy_id, kind, channel,
                            planned_channel, planned_date, state, reason, attempt_count,
                            create_uid, create_date, write_uid, write_date)
                       VALUES %s RETURNING id""",
                    values,
                )
            )
            ids += [row[0] for row in self.env.cr.fetchall()]
        lines = [
            (reminder_id, line_id, move_id, step_id, channel, residual)
            for reminder_id, (_p, step_id, channel, _r, due) in zip(
                ids, reminders, strict=True
            )
            for line_id, move_id, residual in due
        ]
        kept, skipped = set(), 0
        for page in range(0, len(lines), WRITE_PAGE):
            skipped += self._insert_lines(
                company, lines[page : page + WRITE_PAGE], uid, now, kept
            )
        if skipped:
            _logger.info("%s reminder lines were planned by another worker", skipped)
        if len(lines) > ANALYZE_AFTER:
            # The batches that follow in this transaction join these tables: with
            # statistics from before a bulk plan, PostgreSQL takes them for
            # nearly empty and picks plans that scan them once per row.
            self.env.cr.execute("ANALYZE collection_reminder, collection_reminder_line")
        lost = [reminder_id for reminder_id in ids if reminder_id not in kept]
        if lost:
            _logger.info(
                "%s reminders were already planned by another worker", len(lost)
            )
            self.env.cr.execute(
                SQL("DELETE FROM collection_reminder WHERE id = ANY(%s)", lost)
            )
        self.env["collection.reminder.line"].invalidate_model()
        self.invalidate_model()
        return self.browse([reminder_id for reminder_id in ids if reminder_id in kept])

    def _in_halves(self, items, execute):
        """Run ``execute(items)`` in a savepoint and return the items left to
        another worker. Something another worker committed after this transaction
        began is a serialization failure at REPEATABLE READ, not a conflict: the
        items are then tried again in halves, so that only the ones the other
        worker wrote (or is writing) are left, not the whole lot."""
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint(flush=False):
                execute(items)
            return []
        except psycopg2.errors.SerializationFailure:
            if len(items) == 1:
                return list(items)
            half = len(items) // 2
            return self._in_halves(items[:half], execute) + self._in_halves(
                items[half:], execute
            )

    def _insert_lines(self, company, lines, uid, now, kept):
        """Insert these reminder lines, adding to ``kept`` the reminders that got
        one; returns how many lines another worker planned meanwhile."""

        def insert(page):
            values = SQL(", ").join(
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    *line,
                    company.id,
                    uid,
                    now,
                    uid,
                    now,
                )
                for line in page
            )
            self.env.cr.execute(
                SQL(
                    """INSERT INTO collection_reminder_line
                           (reminder_id, move_line_id, move_id, step_id, channel,
                            amount_residual, company_id, create_uid,
                            create_date, write_uid, write_date)
                       VALUES %s
                       ON CONFLICT ON CONSTRAINT
                          collection_reminder_line_move_line_step_channel_unique
                          DO NOTHING
                       RETURNING reminder_id""",
                    values,
                )
            )
            kept.update(row[0] for row in self.env.cr.fetchall())

        return len(self._in_halves(lines, insert))

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
            "promised": self.env["collection.promise"]._covered_moves(
                self.line_ids.move_id.ids, now.date()
            ),
            "in_plan": self.env["collection.payment.plan"]._covered_moves(
                self.line_ids.move_id.ids
            ),
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
                            JOIN collection_reminder_line l2
                              ON l2.move_line_id = l.move_line_id
                            JOIN collection_strategy_step st2 ON st2.id = l2.step_id
                            JOIN collection_reminder r2 ON r2.id = l2.reminder_id
                           WHERE l.reminder_id = r.id
                             AND NOT ml.reconciled AND ml.amount_residual > 0
                             AND st2.offset_days > st.offset_days
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
        """Give the listed invoices their portal access token (the pay links carry
        it) in one statement: written through the ORM, each token would re-sync the
        invoice's journal lines, most of the cost of a reminder. Returns the
        reminders with an invoice another worker gave its token after this
        transaction began: this one cannot see that token, so they wait for the
        next call."""
        for plan in self.plan_id.filtered(lambda plan: not plan.access_token):
            plan._portal_ensure_token()
        moves = self.line_ids.move_id
        if not moves:
            return self.browse()
        self.env.flush_all()

        def update(move_ids):
            self.env.cr.execute(
                SQL(
                    """UPDATE account_move
                          SET access_token = gen_random_uuid()::varchar
                        WHERE id = ANY(%s) AND access_token IS NULL""",
                    move_ids,
                )
            )

        busy = set(self._in_halves(moves.ids, update))
        moves.invalidate_recordset(["access_token"])
        # Read back in one query: the templates read them invoice by invoice.
        self.line_ids.move_id.mapped("access_token")
        return self.filtered(lambda r: busy.intersection(r.line_ids.move_id.ids))

    def _decide(self, now, facts):
        """What sending does with this planned reminder now: ``(values to write,
        channel to deliver on or None)``. ``facts`` from ``_send_facts``; a delivery
        counts at once in its contacts so that the next reminders of the customer
        respect the policy."""
        self.ensure_one()
        verdict = (
            self._installment_verdict(facts)
            if self.installment_id
            else self._invoice_verdict(facts)
        )
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
        open_invoices = self._open_invoices()
        if not open_invoices:
            return {"state": "cancelled", "reason": self.env._("Paid before sending")}
        if self.id in facts["superseded"]:
            return {
                "state": "cancelled",
                "reason": self.env._("Superseded by a later step"),
            }
        held = open_invoices.filtered("collection_followup_hold")
        if held == open_invoices or self.partner_id.collection_no_followup:
            return {"state": "skipped", "reason": self.env._("Follow-up put on hold")}
        if not set(open_invoices.ids) - facts["in_plan"]:
            return {
                "state": "skipped",
                "reason": self.env._("Covered by a payment plan"),
            }
        if not set(open_invoices.ids) - facts["promised"]:
            return {
                "state": "skipped",
                "reason": self.env._("Covered by a promise to pay"),
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

    def _open_due_lines(self):
        """The reminder's amounts due (receivable lines) still open."""
        return self.line_ids.move_line_id.filtered(
            lambda line: (
                line.parent_state == "posted"
                and not line.reconciled
                and line.company_currency_id.compare_amounts(line.amount_residual, 0)
                > 0
            )
        )

    def _open_invoices(self):
        """The invoices of the reminder's amounts due still open."""
        return self._open_due_lines().move_id

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

    def _deliverable_channel(self):
        """The channel to use, honouring opt-outs, with a fallback to the other
        written channel; (False, reason) when nothing can reach the customer."""
        partner = self.partner_id
        can_email = bool(partner.email) and not (
            partner.is_blacklisted or partner.collection_no_email
        )
        can_sms = bool(partner.mobile or partner.phone) and not (
            partner.phone_sanitized_blacklisted or partner.collection_no_sms
        )
        step_channels = self.step_id._channels()
        if self.channel == "email" and not can_email:
            if can_sms and "sms" not in step_channels:
                return "sms", self.env._("Email not allowed: sent by SMS instead")
            return False, self.env._("The customer cannot be reached by email")
        if self.channel == "sms" and not can_sms:
            if can_email and "email" not in step_channels:
                return "email", self.env._("SMS not allowed: sent by email instead")
            return False, self.env._("The customer cannot be reached by SMS")
        return self.channel, False

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
            written = sorted(sent["email"] + sent["sms"] + sent["letter"])
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

    def _deliver_isolated(self, channels):
        """Deliver in bulk; when the bulk delivery fails, deliver one reminder at a
        time so that one bad reminder (a template error, say) fails alone.

        Returns ``({reminder id: message or activity}, {reminder id: error})``.
        """
        if not self:
            return {}, {}
        try:
            with self.env.cr.savepoint():
                return self._deliver(channels), {}
        except Exception as error:  # noqa: BLE001 - isolated, logged and retried
            self.env.invalidate_all()
            if len(self) == 1:
                return {}, {self.id: error}
        delivered, errors = {}, {}
        for reminder in self:
            done, failed = reminder._deliver_isolated(channels)
            delivered.update(done)
            errors.update(failed)
        return delivered, errors

    def _deliver(self, channels):
        """Queue the messages through Odoo's mail and SMS queues (sent by their own
        crons, in this transaction: no message without its log line), schedule the
        calls and note each reminder on its invoices, a few statements per channel
        whatever the number of reminders.

        ``channels``: ``{reminder id: channel}``. Returns ``{reminder id:
        {"message_id": id} or {"activity_id": id}}``.
        """
        by_channel = defaultdict(list)
        for reminder in self:
            by_channel[channels[reminder.id]].append(reminder.id)
        batch = {channel: self.browse(ids) for channel, ids in by_channel.items()}
        none = self.browse()
        senders = self._senders()
        links = {
            **batch.get("email", none)._deliver_emails(senders),
            **batch.get("sms", none)._deliver_sms(senders),
            **batch.get("letter", none)._deliver_letters(senders),
            **batch.get("call", none)._deliver_calls(),
        }
        self._log_on_invoices(channels)
        return links

    def _shipped_template(self, model, prefix):
        # _xmlid_to_res_id is cached: env.ref would check existence once per call.
        scope = "installment" if self.installment_id else "reminder"
        return self.env[model].browse(
            self.env["ir.model.data"]._xmlid_to_res_id(
                f"collections_proactive.{prefix}_{scope}_{self.step_id.kind}"
            )
        )

    def _mail_template(self):
        self.ensure_one()
        return self.step_id.mail_template_id or self._shipped_template(
            "mail.template", "mail_template"
        )

    def _sms_template(self):
        self.ensure_one()
        return self.step_id.sms_template_id or self._shipped_template(
            "sms.template", "sms_template"
        )

    def _senders(self):
        """``{reminder id: (email_from, reply_to)}``: the company's address and the
        reply-to Odoo gives a message on the customer, computed per company (the
        mail framework would compute the reply-to once per message)."""
        senders = {}
        for company, reminders in self.grouped("company_id").items():
            # Without a company address, the mail server's default sender is used
            # when the queue sends it, as for any message Odoo posts in sudo.
            email_from = (
                company.email_formatted
                or self.env["ir.mail_server"]._get_default_from_address()
            )
            reply_to = reminders.partner_id.with_company(company)._notify_get_reply_to(
                default=email_from
            )
            for reminder in reminders:
                senders[reminder.id] = (email_from, reply_to[reminder.partner_id.id])
        return senders

    def _chatter_values(self, senders, message_type, subtype_id):
        """A message from the company in the customer's chatter."""
        self.ensure_one()
        return {
            "model": "res.partner",
            "res_id": self.partner_id.id,
            "record_name": self.partner_id.display_name,
            "message_type": message_type,
            "subtype_id": subtype_id,
            "author_id": self.company_id.partner_id.id,
            "email_from": senders[self.id][0],
            "reply_to": senders[self.id][1],
        }

    def _deliver_emails(self, senders):
        """One ``mail.mail`` per reminder, in the customer's chatter, wrapped in
        Odoo's light email layout and rendered in the customer's language."""
        if not self:
            return {}
        comment = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        attachments = self._invoice_attachments()
        order, values = [], []
        for template, group in self.grouped(lambda r: r._mail_template()).items():
            langs = template._render_lang(group.ids)
            subjects = template._render_field("subject", group.ids, compute_lang=True)
            bodies = group._render_qweb_body(template)
            for reminder in group:
                partner = reminder.partner_id
                body = bodies[reminder.id]
                order.append(reminder)
                values.append(
                    {
                        **reminder._chatter_values(senders, "comment", comment),
                        "subject": subjects[reminder.id],
                        "body": body,
                        "body_html": reminder._email_layout(body, langs[reminder.id]),
                        "partner_ids": [Command.link(partner.id)],
                        "recipient_ids": [Command.link(partner.id)],
                        "attachment_ids": [
                            Command.link(attachment_id)
                            for attachment_id in attachments.get(reminder.id, ())
                        ],
                        "mail_server_id": template.mail_server_id.id,
                        "is_notification": True,
                        "auto_delete": False,
                        "state": "outgoing",
                    }
                )
        mails = self.env["mail.mail"].create(values)
        # The notification gives the chatter its envelope and the delivery status
        # the mail queue writes back (sent, bounced), as for any posted message.
        self.env["mail.notification"].create(
            [
                {
                    "author_id": mail.author_id.id,
                    "mail_message_id": mail.mail_message_id.id,
                    "mail_mail_id": mail.id,
                    "res_partner_id": reminder.partner_id.id,
                    "notification_type": "email",
                    "notification_status": "ready",
                    "is_read": True,
                }
                for reminder, mail in zip(order, mails, strict=True)
            ]
        )
        return {
            reminder.id: {"message_id": mail.mail_message_id.id}
            for reminder, mail in zip(order, mails, strict=True)
        }

    def _render_qweb_body(self, template):
        """``{reminder id: body}``: the template's QWeb body in each customer's
        language, as ``template._render_field("body_html", ids, compute_lang=True)``
        renders it, but compiled once per language: ``mail.render.mixin`` parses
        and compiles the body again for every record, most of the cost of a
        batch."""
        bodies = {}
        for lang, (localized, ids) in template._classify_per_lang(self.ids).items():
            env = self.with_context(lang=lang).env if lang else self.env
            values = env["mail.render.mixin"]._render_eval_context()
            qweb = env["ir.qweb"]._prepare_environment(values)
            safe_eval.check_values(values)
            source = localized.body_html or ""
            functions, name = qweb._compile(
                html.fragment_fromstring(source, create_parent="div")
            )
            for record in env[self._name].browse(ids):
                values["object"] = record
                # Without the <div> wrapping the template's nodes.
                bodies[record.id] = Markup("".join(functions[name](qweb, values))[5:-6])
        return bodies

    def _email_layout(self, body, lang):
        """The body in ``mail.mail_notification_light``, as ``message_post`` would
        send it, without posting one message at a time."""
        env = self.with_context(lang=lang).env
        partner = self.partner_id
        html = env["ir.qweb"]._render(
            "mail.mail_notification_light",
            {
                "message": env["mail.message"].new(
                    {"body": body, "record_name": partner.display_name}
                ),
                "company": self.company_id,
                "lang": lang,
                "has_button_access": False,
                "model_description": env._("account"),
                "tracking_values": [],
            },
            minimal_qcontext=True,
        )
        return env["mail.render.mixin"]._replace_local_links(html)

    def _invoice_attachments(self):
        """``{reminder id: [attachment ids]}``: the invoice PDFs of the steps that
        attach them: the stored ones reused, the others rendered and kept on the
        invoice."""
        wanted = self.filtered("step_id.attach_invoices")
        invoices = wanted.invoice_ids
        if not invoices:
            return {}
        pdfs = {
            invoice.id: invoice.invoice_pdf_report_id.id
            for invoice in invoices
            if invoice.invoice_pdf_report_id
        }
        missing = invoices.filtered(lambda invoice: invoice.id not in pdfs)
        if missing:
            # One report run per invoice: each PDF is the invoice's own document.
            report = self.env["ir.actions.report"]
            created = self.env["ir.attachment"].create(
                [
                    {
                        "name": invoice._get_invoice_report_filename(),
                        "raw": report._render_qweb_pdf(
                            "account.account_invoices", invoice.ids
                        )[0],
                        "mimetype": "application/pdf",
                        "res_model": "account.move",
                        "res_id": invoice.id,
                    }
                    for invoice in missing
                ]
            )
            pdfs.update(zip(missing.ids, created.ids, strict=True))
        return {
            reminder.id: [pdfs[invoice.id] for invoice in reminder.invoice_ids]
            for reminder in wanted
        }

    def _deliver_sms(self, senders):
        """One SMS per reminder through Odoo's SMS queue, logged in the customer's
        chatter with its delivery tracker, as ``_message_sms`` does one by one."""
        if not self:
            return {}
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        texts = {}
        for template, group in self.grouped(lambda r: r._sms_template()).items():
            texts.update(template._render_field("body", group.ids, compute_lang=True))
        messages = self.env["mail.message"].create(
            [
                {
                    **reminder._chatter_values(senders, "sms", note),
                    "body": plaintext2html(texts[reminder.id]),
                    "partner_ids": [Command.link(reminder.partner_id.id)],
                }
                for reminder in self
            ]
        )
        sms = self.env["sms.sms"].create(
            [
                {
                    "body": texts[reminder.id],
                    "partner_id": reminder.partner_id.id,
                    "number": reminder._sms_number(),
                    "state": "outgoing",
                    "mail_message_id": message.id,
                }
                for reminder, message in zip(self, messages, strict=True)
            ]
        )
        self.env["mail.notification"].create(
            [
                {
                    "author_id": message.author_id.id,
                    "mail_message_id": message.id,
                    "res_partner_id": text.partner_id.id,
                    "sms_number": text.number,
                    "notification_type": "sms",
                    "sms_id_int": text.id,
                    "sms_tracker_ids": [Command.create({"sms_uuid": text.uuid})],
                    "is_read": True,
                    "notification_status": "ready",
                }
                for message, text in zip(messages, sms, strict=True)
            ]
        )
        return {
            reminder.id: {"message_id": message.id}
            for reminder, message in zip(self, messages, strict=True)
        }

    def _sms_number(self):
        partner = self.partner_id
        number = partner.mobile or partner.phone
        return partner._phone_format(number=number) or number

    def _deliver_letters(self, senders):
        """Each letter as a PDF attached to a note in the customer's chatter, to
        print and mail (one report run per letter, as Odoo renders documents)."""
        if not self:
            return {}
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        report = self.env["ir.actions.report"]
        messages = self.env["mail.message"].create(
            [
                {
                    **reminder._chatter_values(senders, "comment", note),
                    "body": self.env._(
                        "Collection letter to print and mail: %(step)s",
                        step=reminder.step_id.name,
                    ),
                    "attachment_ids": [
                        Command.create(
                            {
                                "name": f"{reminder.step_id.name}"
                                f" - {reminder.partner_id.name}.pdf",
                                "raw": report._render_qweb_pdf(
                                    "collections_proactive"
                                    ".collection_reminder_letter_report",
                                    reminder.ids,
                                )[0],
                                "mimetype": "application/pdf",
                                "res_model": "res.partner",
                                "res_id": reminder.partner_id.id,
                            }
                        )
                    ],
                }
                for reminder in self
            ]
        )
        return {
            reminder.id: {"message_id": message.id}
            for reminder, message in zip(self, messages, strict=True)
        }

    def _call_assignee(self):
        """Who makes the call: the customer's collector in the reminder's
        company, else the strategy's user, else the company's collections
        manager, else the salesperson."""
        self.ensure_one()
        company = self.company_id
        return (
            self.partner_id.with_company(company).collection_user_id
            or self.step_id.strategy_id.user_id
            or company._collection_manager()
            or self.partner_id.user_id
            or self.invoice_ids.invoice_user_id[:1]
            or self.env.ref("base.user_root")
        )

    def _deliver_calls(self):
        """A call activity per reminder for the customer's collector, on the
        customer's open case (where the board and its "no next action" filter
        see it; on the customer when it has none), written in the collector's
        language."""
        if not self:
            return {}
        cases = (
            self.env["collection.case"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.partner_id.ids),
                    ("company_id", "in", self.company_id.ids),
                    ("state", "=", "open"),
                ]
            )
        )
        case_of = {(case.partner_id.id, case.company_id.id): case for case in cases}
        models = {
            name: self.env["ir.model"]._get_id(name)
            for name in ("collection.case", "res.partner")
        }
        todo = self.env.ref("mail.mail_activity_data_todo")
        users = {reminder.id: reminder._call_assignee() for reminder in self}
        targets = {
            reminder.id: case_of.get((reminder.partner_id.id, reminder.company_id.id))
            or reminder.partner_id
            for reminder in self
        }
        # Each assignee follows each record once beforehand: two call
        # activities of one record for one user in the same create would
        # subscribe that user twice (a unique violation failing the batch).
        records_by_user = defaultdict(list)
        for reminder in self:
            records_by_user[users[reminder.id]].append(targets[reminder.id])
        for user, records in records_by_user.items():
            for model in {record._name for record in records}:
                self.env[model].union(
                    *(record for record in records if record._name == model)
                ).message_subscribe(partner_ids=user.partner_id.ids)
        values = []
        for reminder in self:
            user, target = users[reminder.id], targets[reminder.id]
            step = reminder.step_id.with_context(lang=user.lang or "en_US")
            values.append(
                {
                    "res_model_id": models[target._name],
                    "res_id": target.id,
                    "activity_type_id": (step.activity_type_id or todo).id,
                    "summary": step.activity_summary or step.name,
                    "note": reminder.with_context(
                        lang=user.lang or "en_US"
                    )._activity_note(),
                    "date_deadline": fields.Date.context_today(reminder)
                    + timedelta(days=step.activity_delay_days),
                    "user_id": user.id,
                    "automated": True,
                }
            )
        activities = self.env["mail.activity"].create(values)
        return {
            reminder.id: {"activity_id": activity.id}
            for reminder, activity in zip(self, activities, strict=True)
        }

    def _log_on_invoices(self, channels):
        """Note each reminder in its invoices' chatter (an installment's, in its
        plan's): one batch of log messages per step and channel."""
        labels = dict(self._fields["channel"]._description_selection(self.env))
        records_by_note = defaultdict(list)
        for reminder in self:
            channel = channels[reminder.id]
            if reminder.installment_id:
                key = ("collection.payment.plan", reminder.step_id, channel)
                records_by_note[key].append(reminder.plan_id.id)
            else:
                key = ("account.move", reminder.step_id, channel)
                records_by_note[key] += reminder.invoice_ids.ids
        for (model, step, channel), record_ids in records_by_note.items():
            body = Markup("%s") % self.env._(
                "Collection reminder (%(channel)s): %(step)s",
                channel=labels[channel],
                step=step.name,
            )
            record_ids = list(dict.fromkeys(record_ids))
            self.env[model].browse(record_ids)._message_log_batch(
                bodies=dict.fromkeys(record_ids, body)
            )

    def _activity_note(self):
        """The amounts to talk about, each with its invoice and due date, in the
        language and date format of the user the note is for; an installment's
        invoices for an installment reminder."""
        self.ensure_one()
        rows = [
            (
                line.move_id.name
                + (
                    f" ({line.collection_term_label})"
                    if line.collection_term_label
                    else ""
                ),
                line.currency_id.format(line.amount_residual_currency),
                line.date_maturity,
            )
            for line in self.due_line_ids
        ] or [
            (
                invoice.name,
                invoice.currency_id.format(invoice.amount_residual),
                invoice.invoice_date_due,
            )
            for invoice in self.invoice_ids
        ]
        items = Markup().join(
            Markup("<li>%s</li>")
            % self.env._(
                "%(invoice)s: %(amount)s, due %(date)s",
                invoice=name,
                amount=amount,
                date=format_date(self.env, due),
            )
            for name, amount, due in rows
        )
        return Markup("<ul>%s</ul>") % items
