import logging
import uuid
from collections import defaultdict
from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.tools import SQL, mute_logger

from ..tools import contact_policy as cp

_logger = logging.getLogger(__name__)

CHANNELS = [("email", "Email"), ("sms", "SMS"), ("call", "Call"), ("letter", "Letter")]
WRITTEN = ("email", "sms", "letter")
BATCH_SIZE = 200
WRITE_PAGE = 5000
RETRY_DELAY = timedelta(hours=1)


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
    channel = fields.Selection(CHANNELS, required=True, readonly=True)
    line_ids = fields.One2many(
        "collection.reminder.line", "reminder_id", string="Invoices", readonly=True
    )
    invoice_ids = fields.Many2many(
        "account.move", compute="_compute_invoice_ids", string="Invoice List"
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
    attempt_count = fields.Integer(readonly=True)
    pay_url = fields.Char(compute="_compute_links", string="Payment Link")
    optout_email_url = fields.Char(compute="_compute_links")
    optout_sms_url = fields.Char(compute="_compute_links")
    message_id = fields.Many2one("mail.message", readonly=True, ondelete="set null")
    activity_id = fields.Many2one("mail.activity", readonly=True, ondelete="set null")

    @api.depends(
        "line_ids.move_id.payment_state",
        "line_ids.move_id.amount_residual",
        "line_ids.move_id.collection_followup_hold",
    )
    def _compute_invoice_ids(self):
        """What the message lists: the reminder's invoices still open and not on
        hold, with what is left to pay now."""
        for reminder in self:
            invoices = reminder.line_ids.move_id.filtered(
                lambda move: (
                    move.state == "posted"
                    and move.payment_state in ("not_paid", "partial")
                    and not move.collection_followup_hold
                )
            )
            reminder.invoice_ids = invoices
            reminder.amount_total = sum(invoices.mapped("amount_residual"))

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
            first = reminder.line_ids.move_id.sorted("invoice_date_due")[:1]
            # The portal link carries the invoice's access token: no login needed.
            reminder.pay_url = first and base + first.sudo().get_portal_url()
            for channel in ("email", "sms"):
                token = tools.hmac(
                    self.env(su=True),
                    "collections_proactive-optout",
                    (partner.id, channel),
                )
                reminder[f"optout_{channel}_url"] = (
                    f"{base}/collections/optout/{channel}/{partner.id}/{token}"
                )

    # ------------------------------------------------------------------
    # Scheduled action
    # ------------------------------------------------------------------

    @api.model
    def _cron_send_reminders(self, batch_size=BATCH_SIZE):
        """Plan what is due, then send one batch; the cron calls again while planned
        reminders are due (``_notify_progress``)."""
        self._plan_reminders()
        now = fields.Datetime.now()
        domain = [("state", "=", "planned"), ("planned_date", "<=", now)]
        batch = self.search(domain, limit=batch_size, order="planned_date, id")
        batch._send()
        remaining = self.search_count(domain)
        self.env["ir.cron"]._notify_progress(done=len(batch), remaining=remaining)
        return {"done": len(batch), "remaining": remaining}

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
        return created

    def _plan_candidates(self, company, now, partners=None):
        mapping = self.env["collection.strategy"].sudo()._strategy_by_band(company)
        if not mapping:
            return []
        key = str(company.id)
        band_case = SQL(
            "CASE p.collection_risk_band->>%(key)s"
            " WHEN 'low' THEN %(low)s WHEN 'medium' THEN %(medium)s"
            " WHEN 'high' THEN %(high)s WHEN 'critical' THEN %(critical)s"
            " ELSE %(default)s END",
            key=key,
            low=mapping.get("low"),
            medium=mapping.get("medium"),
            high=mapping.get("high"),
            critical=mapping.get("critical"),
            default=mapping.get("default"),
        )
        partner_filter = (
            SQL("AND m.commercial_partner_id = ANY(%s)", partners.ids)
            if partners
            else SQL()
        )
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH cand AS (
                    SELECT m.id AS move_id, m.commercial_partner_id AS partner_id,
                           st.id AS step_id, st.offset_days,
                           m.amount_residual_signed AS residual,
                           m.collection_followup_hold AS hold,
                           p.collection_no_followup AS partner_hold,
                           ROW_NUMBER() OVER (PARTITION BY m.id
                                              ORDER BY st.offset_days DESC) AS rn
                      FROM account_move m
                      JOIN res_partner p ON p.id = m.commercial_partner_id
                      JOIN collection_strategy s
                        ON s.id = COALESCE((p.collection_strategy_id->>%(key)s)::int,
                                           %(band_case)s)
                       AND s.active AND s.company_id = %(company)s
                      JOIN collection_strategy_step st
                        ON st.strategy_id = s.id AND st.active
                     WHERE m.company_id = %(company)s
                       AND m.move_type = 'out_invoice'
                       AND m.state = 'posted'
                       AND m.payment_state IN ('not_paid', 'partial')
                       AND m.invoice_date_due + st.offset_days <= (
                           %(now)s::timestamp AT TIME ZONE 'UTC'
                           AT TIME ZONE COALESCE(NULLIF(p.tz, ''), %(tz)s))::date
                       AND m.amount_residual_signed >= COALESCE(st.min_amount, 0)
                       %(partner_filter)s
                )
                SELECT c.move_id, c.partner_id, c.step_id, c.residual,
                       c.hold, COALESCE(c.partner_hold, FALSE)
                  FROM cand c
                 WHERE c.rn = 1
                   AND NOT EXISTS (
                        SELECT 1
                          FROM collection_reminder_line l
                          JOIN collection_strategy_step ls ON ls.id = l.step_id
                         WHERE l.move_id = c.move_id
                           AND ls.offset_days >= c.offset_days)
                 ORDER BY c.partner_id, c.step_id, c.move_id
                """,
                key=key,
                band_case=band_case,
                company=company.id,
                now=now,
                tz=company.partner_id.tz or "UTC",
                partner_filter=partner_filter,
            )
        )
        return self.env.cr.fetchall()

    def _plan_create(self, company, rows, now):
        steps = self.env["collection.strategy.step"].browse({row[2] for row in rows})
        channels = {step.id: step._channels() for step in steps}
        hold_labels = dict(
            self.env["account.move"]
            ._fields["collection_followup_hold"]
            ._description_selection(self.env)
        )
        groups = defaultdict(list)
        for move_id, partner_id, step_id, residual, hold, partner_hold in rows:
            reason = False
            if partner_hold:
                reason = self.env._("Customer marked no follow-up")
            elif hold:
                reason = self.env._(
                    "Invoice on hold: %(hold)s", hold=hold_labels.get(hold, hold)
                )
            groups[partner_id, step_id, reason].append((move_id, residual))
        reminders = []
        for (partner_id, step_id, reason), invoices in groups.items():
            for channel in channels[step_id]:
                reminders.append(
                    (partner_id, step_id, channel, reason or None, invoices)
                )
        return self._insert_exactly_once(company, reminders, now)

    def _insert_exactly_once(self, company, reminders, now):
        """Insert the reminders and their invoice lines in bulk.

        ``reminders``: ``[(partner, step, channel, skip reason, [(move, residual)])]``.
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
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, %s)",
                    partner_id,
                    company.id,
                    step_id,
                    *step_info[step_id],
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
                            planned_date, state, reason, attempt_count,
                            create_uid, create_date, write_uid, write_date)
                       VALUES %s RETURNING id""",
                    values,
                )
            )
            ids += [row[0] for row in self.env.cr.fetchall()]
        lines = [
            (reminder_id, move_id, step_id, channel, residual)
            for reminder_id, (_p, step_id, channel, _r, invoices) in zip(
                ids, reminders, strict=True
            )
            for move_id, residual in invoices
        ]
        kept = set()
        for page in range(0, len(lines), WRITE_PAGE):
            values = SQL(", ").join(
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    *line,
                    company.id,
                    uid,
                    now,
                    uid,
                    now,
                )
                for line in lines[page : page + WRITE_PAGE]
            )
            try:
                # A line committed by another planner after this transaction began
                # is a serialization failure, not a conflict, at REPEATABLE READ:
                # that page is left to the next run (its lines are planned or will
                # be), and the reminders of this page are dropped below.
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(
                        SQL(
                            """INSERT INTO collection_reminder_line
                                   (reminder_id, move_id, step_id, channel,
                                    amount_residual, company_id, create_uid,
                                    create_date, write_uid, write_date)
                               VALUES %s
                               ON CONFLICT ON CONSTRAINT
                                  collection_reminder_line_move_step_channel_unique
                                  DO NOTHING
                               RETURNING reminder_id""",
                            values,
                        )
                    )
                    kept.update(row[0] for row in self.env.cr.fetchall())
            except psycopg2.errors.SerializationFailure:
                _logger.info("Another worker is planning the same reminders: skipped")
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

    # ------------------------------------------------------------------
    # Sending, under the contact policy
    # ------------------------------------------------------------------

    def _lock_planned(self):
        """The planned reminders of self that no other transaction is sending."""
        if not self:
            return self
        self.env.flush_all()
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        """SELECT id FROM collection_reminder
                            WHERE id = ANY(%s) AND state = 'planned'
                              FOR UPDATE SKIP LOCKED""",
                        self.ids,
                    )
                )
                ids = [row[0] for row in self.env.cr.fetchall()]
        except psycopg2.errors.SerializationFailure:
            # Another worker sent some of them since this transaction began: this
            # batch waits for the next run, which sees their new state.
            _logger.info("Another worker is sending the same reminders: skipped")
            ids = []
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
        """Send these planned reminders, defer those the policy does not allow now."""
        now = fields.Datetime.now()
        reminders = self.sudo()._lock_planned()
        reminders._ensure_portal_tokens()
        contacts = reminders._recent_contacts(now)
        superseded = reminders._superseded()
        holidays = reminders._holidays(now)
        for reminder in reminders.sorted(lambda r: (r.partner_id.id, r.planned_date)):
            reminder._send_one(now, contacts, superseded, holidays)
        return reminders

    def _superseded(self):
        """Ids of these reminders whose open invoices already have a later step
        planned or sent: deferred past the next step, they are stale (the later
        step speaks for them). One query for the batch."""
        if not self:
            return set()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT r.id
                     FROM collection_reminder r
                     JOIN collection_strategy_step st ON st.id = r.step_id
                     JOIN collection_reminder_line l ON l.reminder_id = r.id
                     JOIN account_move m ON m.id = l.move_id
                     JOIN collection_reminder_line l2 ON l2.move_id = l.move_id
                     JOIN collection_strategy_step st2 ON st2.id = l2.step_id
                     JOIN collection_reminder r2 ON r2.id = l2.reminder_id
                    WHERE r.id = ANY(%s)
                      AND m.state = 'posted'
                      AND m.payment_state IN ('not_paid', 'partial')
                      AND st2.offset_days > st.offset_days
                      AND r2.state IN ('planned', 'sent')""",
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
        invoice's journal lines, most of the cost of a reminder."""
        moves = self.line_ids.move_id.filtered(lambda move: not move.access_token)
        if not moves:
            return
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """UPDATE account_move m SET access_token = v.token
                     FROM (VALUES %s) AS v(id, token)
                    WHERE m.id = v.id AND m.access_token IS NULL""",
                SQL(", ").join(
                    SQL("(%s, %s)", move.id, str(uuid.uuid4())) for move in moves
                ),
            )
        )
        moves.invalidate_recordset(["access_token"])

    def _send_one(self, now, contacts, superseded, holidays):
        self.ensure_one()
        company = self.company_id
        open_lines = self.line_ids.filtered(
            lambda line: (
                line.move_id.state == "posted"
                and line.move_id.payment_state in ("not_paid", "partial")
            )
        )
        if not open_lines:
            self.write(
                {"state": "cancelled", "reason": self.env._("Paid before sending")}
            )
            return
        if self.id in superseded:
            self.write(
                {
                    "state": "cancelled",
                    "reason": self.env._("Superseded by a later step"),
                }
            )
            return
        held = open_lines.filtered(lambda line: line.move_id.collection_followup_hold)
        if held == open_lines or self.partner_id.collection_no_followup:
            self.write(
                {"state": "skipped", "reason": self.env._("Follow-up put on hold")}
            )
            return
        channel, reason = self._deliverable_channel()
        if not channel:
            self.write({"state": "skipped", "reason": reason})
            return
        when = self._policy_defer(
            channel, now, contacts[self.partner_id.id, company.id], holidays
        )
        if when:
            self.write({"planned_date": when[0], "reason": when[1]})
            return
        try:
            with self.env.cr.savepoint():
                self._deliver(channel, open_lines - held)
                if channel != self.channel:
                    self.line_ids.channel = channel
                self.write(
                    {
                        "state": "sent",
                        "sent_date": now,
                        "channel": channel,
                        "reason": reason,
                        "attempt_count": self.attempt_count + 1,
                    }
                )
        except Exception as error:  # noqa: BLE001 - any failure is logged, retried
            _logger.warning("Collection reminder %s failed: %s", self.id, error)
            self.env.invalidate_all()
            attempts = self.attempt_count + 1
            if attempts >= company.collection_max_attempts:
                self.write(
                    {"state": "failed", "reason": str(error), "attempt_count": attempts}
                )
            else:
                self.write(
                    {
                        "planned_date": now + RETRY_DELAY * attempts,
                        "reason": self.env._(
                            "Attempt %(count)s failed, retrying: %(error)s",
                            count=attempts,
                            error=error,
                        ),
                        "attempt_count": attempts,
                    }
                )
            return
        contacts[self.partner_id.id, company.id][channel].append(now)

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
        return earliest, self.env._(
            "%(reason)s: deferred to %(when)s (%(tz)s)",
            reason=reason,
            when=start.strftime("%Y-%m-%d %H:%M"),
            tz=tz,
        )

    def _deliver(self, channel, lines):
        """Queue the message through Odoo's mail or SMS framework (sent by their own
        queues, in this transaction: no message without its log line), or schedule
        the call, and note it on the invoices."""
        partner = self.partner_id.with_context(lang=self.partner_id.lang)
        step = self.step_id
        invoices = lines.move_id
        if channel == "email":
            template = step.mail_template_id or self.env.ref(
                f"collections_proactive.mail_template_reminder_{step.kind}"
            )
            subject = template._render_field("subject", self.ids, compute_lang=True)[
                self.id
            ]
            body = template._render_field("body_html", self.ids, compute_lang=True)[
                self.id
            ]
            attachments = []
            if step.attach_invoices:
                for invoice in invoices:
                    pdf, _type = self.env["ir.actions.report"]._render_qweb_pdf(
                        "account.account_invoices", invoice.ids
                    )
                    attachments.append((invoice._get_invoice_report_filename(), pdf))
            message = partner.message_post(
                body=body,
                subject=subject,
                author_id=self.company_id.partner_id.id,
                email_from=self.company_id.email_formatted or None,
                partner_ids=partner.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                email_layout_xmlid="mail.mail_notification_light",
                attachments=attachments,
                mail_auto_delete=False,
                # Queued for the mail queue: the send itself is the mail cron's job.
                force_send=False,
            )
            self.message_id = message
        elif channel == "sms":
            template = step.sms_template_id or self.env.ref(
                f"collections_proactive.sms_template_reminder_{step.kind}"
            )
            body = template._render_field("body", self.ids, compute_lang=True)[self.id]
            message = partner._message_sms(
                body=body, partner_ids=partner.ids, put_in_queue=True
            )
            self.message_id = message
        elif channel == "letter":
            pdf, _type = self.env["ir.actions.report"]._render_qweb_pdf(
                "collections_proactive.collection_reminder_letter_report", self.ids
            )
            self.message_id = partner.message_post(
                body=self.env._(
                    "Collection letter to print and mail: %(step)s", step=step.name
                ),
                attachments=[(f"{step.name} - {partner.name}.pdf", pdf)],
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
        else:
            user = (
                partner.user_id
                or step.strategy_id.user_id
                or invoices.invoice_user_id[:1]
                or self.env.ref("base.user_root")
            )
            self.activity_id = partner.activity_schedule(
                activity_type_id=step.activity_type_id.id,
                summary=step.activity_summary or step.name,
                note=self._activity_note(invoices),
                date_deadline=fields.Date.context_today(self)
                + timedelta(days=step.activity_delay_days),
                user_id=user.id,
            )
        channel_label = dict(CHANNELS)[channel]
        invoices._message_log_batch(
            bodies=dict.fromkeys(
                invoices.ids,
                Markup("%s")
                % self.env._(
                    "Collection reminder (%(channel)s): %(step)s",
                    channel=channel_label,
                    step=step.name,
                ),
            )
        )

    def _activity_note(self, invoices):
        items = Markup().join(
            Markup("<li>%s: %s</li>")
            % (invoice.name, invoice.currency_id.format(invoice.amount_residual))
            for invoice in invoices
        )
        return Markup("<ul>%s</ul>") % items
