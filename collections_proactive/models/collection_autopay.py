import logging
from collections import namedtuple

import psycopg2

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, mute_logger

_logger = logging.getLogger(__name__)

BATCH_SIZE = 100


class NothingToTell(Exception):
    """Another worker told of every line of the notice: nothing is sent."""


# What one automatic debit charges: a receivable line, at its n-th attempt.
Charge = namedtuple("Charge", ["line", "attempt"])


class CollectionAutopay(models.Model):
    """A customer's mandate to charge its invoices automatically: each open
    receivable line of the customer in the company is charged on its due date
    to the saved payment method, after a notice a few days before.

    At most one mandate in force (active or paused) per customer and company,
    enforced by the database. Who accepted it, when and from where is kept; a
    revoked mandate stays as the record of it. The charges go through the one
    debit engine (``collection.debit.mixin``), exactly once per line and
    attempt (a unique index on ``payment.transaction``)."""

    _name = "collection.autopay"
    _description = "Automatic Debit Mandate"
    _inherit = ["mail.thread", "mail.activity.mixin", "collection.debit.mixin"]
    _order = "id desc"
    _check_company_auto = True

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        domain="[('parent_id', '=', False)]",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    token_id = fields.Many2one(
        "payment.token",
        string="Payment Method",
        required=True,
        tracking=True,
        check_company=True,
        domain="[('partner_id', 'child_of', partner_id),"
        " ('company_id', '=', company_id)]",
        help="The customer's saved payment method its invoices are charged to.",
    )
    state = fields.Selection(
        [("active", "Active"), ("paused", "Paused"), ("revoked", "Revoked")],
        default="active",
        required=True,
        readonly=True,
        index=True,
        tracking=True,
        copy=False,
    )
    max_amount = fields.Monetary(
        string="Cap per Debit",
        currency_field="currency_id",
        tracking=True,
        help="A due date for more than this is not charged: it is reminded as "
        "usual. Empty: no cap.",
    )
    start_date = fields.Date(
        string="Covers Due Dates From",
        readonly=True,
        copy=False,
        help="Due dates from this day on are charged: the day the mandate was "
        "accepted, or resumed.",
    )
    accepted_user_id = fields.Many2one(
        "res.users", string="Accepted By", readonly=True, copy=False
    )
    accepted_date = fields.Datetime(string="Accepted On", readonly=True, copy=False)
    accepted_channel = fields.Selection(
        [("portal", "Portal"), ("back_office", "Back office")],
        string="Accepted On Channel",
        readonly=True,
        copy=False,
    )
    accepted_ip = fields.Char(string="Accepted From", readonly=True, copy=False)
    revoked_date = fields.Datetime(string="Revoked On", readonly=True, copy=False)
    transaction_ids = fields.One2many(
        "payment.transaction", "collection_autopay_id", string="Debits", readonly=True
    )
    notice_ids = fields.One2many(
        "collection.autopay.notice", "autopay_id", string="Notices", readonly=True
    )

    def init(self):
        res = super().init()
        # One mandate in force per customer and company: a second click, a
        # second tab or a collector at the same time never make two.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS collection_autopay_in_force_unique
                   ON collection_autopay (partner_id, company_id)
                WHERE state != 'revoked'"""
        )
        return res

    @api.depends("partner_id")
    def _compute_display_name(self):
        for autopay in self:
            autopay.display_name = self.env._(
                "Automatic debit of %(customer)s", customer=autopay.partner_id.name
            )

    @api.constrains("partner_id", "token_id")
    def _check_token(self):
        for autopay in self:
            if autopay.token_id.partner_id.commercial_partner_id != autopay.partner_id:
                raise ValidationError(
                    self.env._(
                        "The payment method of an automatic debit must be one of "
                        "%(customer)s's own.",
                        customer=autopay.partner_id.display_name,
                    )
                )

    @api.constrains("max_amount")
    def _check_max_amount(self):
        if any(autopay.max_amount < 0 for autopay in self):
            raise ValidationError(self.env._("A cap per debit cannot be negative."))

    @api.model_create_multi
    def create(self, vals_list):
        now = fields.Datetime.now()
        for vals in vals_list:
            if vals.get("partner_id"):
                # The customer is the commercial entity, whoever signs for it.
                vals["partner_id"] = (
                    self.env["res.partner"]
                    .browse(vals["partner_id"])
                    .commercial_partner_id.id
                )
            vals.setdefault("accepted_user_id", self.env.uid)
            vals.setdefault("accepted_date", now)
            vals.setdefault("accepted_channel", "back_office")
        # The index of the mandates in force judges on what is written: a
        # revocation pending in this transaction counts.
        self.flush_model(["state"])
        autopays = super().create(vals_list)
        for autopay in autopays.filtered(lambda a: not a.start_date):
            autopay.start_date = autopay._local_today()
        return autopays

    def _local_today(self):
        """Today in the customer's time zone, else the company's."""
        self.ensure_one()
        tz = self.partner_id.tz or self.company_id.partner_id.tz or "UTC"
        return fields.Date.context_today(self.with_context(tz=tz))

    # ------------------------------------------------------------------
    # Pause, resume, revoke
    # ------------------------------------------------------------------

    def action_pause(self):
        if self.filtered(lambda a: a.state != "active"):
            raise UserError(self.env._("Only an active automatic debit can be paused."))
        self.write({"state": "paused"})
        return True

    def action_resume(self):
        if self.filtered(lambda a: a.state != "paused"):
            raise UserError(self.env._("Only a paused automatic debit can resume."))
        for autopay in self:
            # What fell due while paused is reminded as usual, never charged
            # without a fresh notice.
            autopay.write({"state": "active", "start_date": autopay._local_today()})
        return True

    def action_revoke(self):
        if self.filtered(lambda a: a.state == "revoked"):
            raise UserError(self.env._("This automatic debit is revoked already."))
        self.write({"state": "revoked", "revoked_date": fields.Datetime.now()})
        return True

    # ------------------------------------------------------------------
    # Which lines a mandate covers: the one definition
    # ------------------------------------------------------------------

    @api.model
    def _autopay_lines_sql(self, where=None, now=None):
        """SQL of the open receivable lines under an active mandate: one row
        ``(autopay_id, line_id, due, local_day, attempts, refused, last_day,
        noticed)`` per line, where ``local_day`` is today in the customer's
        time zone (else the company's) and ``last_day`` the day of its last
        charge attempt there.

        A line is covered when it is owed on a customer invoice of the
        mandate's customer and company, falls due on or after the mandate's
        start, is within its cap, is not on hold and not in an active payment
        plan (the plan debits those), the mandate's payment method can be
        charged, and it was not refused on its last allowed attempt (then the
        normal reminders have it back). ``where``: more conditions on ``a``
        (the mandate) and ``l`` (the line)."""
        tz = SQL("COALESCE(NULLIF(p.tz, ''), NULLIF(cp.tz, ''), 'UTC')")
        return SQL(
            """
            SELECT a.id AS autopay_id, l.id AS line_id, l.date_maturity AS due,
                   (%(now)s::timestamp AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date
                       AS local_day,
                   COALESCE(t.attempts, 0) AS attempts,
                   COALESCE(t.refused, 0) AS refused,
                   (t.last_at AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date
                       AS last_day,
                   EXISTS (SELECT 1 FROM collection_autopay_notice_line_rel n
                            WHERE n.move_line_id = l.id) AS noticed
              FROM collection_autopay a
              JOIN res_partner p ON p.id = a.partner_id
              JOIN res_company c ON c.id = a.company_id
              JOIN res_partner cp ON cp.id = c.partner_id
              JOIN payment_token tk ON tk.id = a.token_id AND tk.active
              JOIN payment_provider pv
                ON pv.id = tk.provider_id AND pv.state IN ('enabled', 'test')
              -- A receivable line's partner is its invoice's commercial
              -- partner: the open lines' index (account, partner) serves.
              JOIN account_move_line l
                ON l.partner_id = a.partner_id AND l.company_id = a.company_id
              JOIN account_move m
                ON m.id = l.move_id AND m.commercial_partner_id = a.partner_id
              LEFT JOIN LATERAL (
                   SELECT COUNT(*) AS attempts,
                          COUNT(*) FILTER (WHERE tx.state IN ('error', 'cancel'))
                              AS refused,
                          MAX(tx.last_state_change) AS last_at
                     FROM payment_transaction tx
                    WHERE tx.collection_move_line_id = l.id) t ON TRUE
             WHERE a.state = 'active' AND %(where)s AND %(open)s
               AND l.date_maturity >= a.start_date
               AND m.collection_followup_hold IS NULL
               AND (COALESCE(a.max_amount, 0) <= 0
                    OR l.amount_residual <= a.max_amount)
               AND NOT EXISTS (
                    SELECT 1 FROM collection_plan_move_line_rel rel
                      JOIN collection_payment_plan pl ON pl.id = rel.plan_id
                     WHERE rel.move_line_id = l.id AND pl.state = 'active')
               AND NOT EXISTS (
                    SELECT 1 FROM collection_payment_plan pl
                     WHERE pl.fee_invoice_id = m.id AND pl.state = 'active')
               AND COALESCE(t.refused, 0) <= c.collection_autopay_retry_count
            """,
            now=now or fields.Datetime.now(),
            tz=tz,
            where=where or SQL("TRUE"),
            open=self.env["account.move.line"]._collection_open_sql(owed_only=True),
        )

    @api.model
    def _covered_lines_sql(self, company, now=None):
        """SQL selecting the ids of ``company``'s receivable lines paid by
        automatic debit: they get the debit notice, not the "please pay"
        reminders. A line leaves it once its last allowed charge is refused, or
        its mandate is paused or revoked: the reminders resume."""
        return SQL(
            "SELECT covered.line_id FROM (%s) covered",
            self._autopay_lines_sql(SQL("a.company_id = %s", company.id), now),
        )

    @api.model
    def _covered_line_ids(self, company, line_ids=None, now=None):
        """The same as a set of ids, among ``line_ids`` when given."""
        self.env.flush_all()
        query = self._covered_lines_sql(company, now)
        if line_ids is not None:
            query = SQL(
                "%s WHERE covered.line_id = ANY(%s)", query, list(line_ids) or [0]
            )
        self.env.cr.execute(query)
        return {row[0] for row in self.env.cr.fetchall()}

    def _schedule(self, now=None):
        """The coming debits of these mandates, in date order: dicts of
        ``line``, ``date`` (of the next charge), ``amount`` and ``attempt``."""
        if not self:
            return []
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT r.line_id, r.due, r.local_day, r.attempts, r.refused,
                          r.last_day, c.collection_autopay_retry_days
                     FROM (%s) r
                     JOIN collection_autopay a ON a.id = r.autopay_id
                     JOIN res_company c ON c.id = a.company_id
                    WHERE r.attempts = r.refused
                    ORDER BY r.due, r.line_id""",
                self._autopay_lines_sql(SQL("a.id = ANY(%s)", self.ids), now),
            )
        )
        rows = self.env.cr.fetchall()
        lines = self.env["account.move.line"].sudo().browse([row[0] for row in rows])
        schedule = []
        for line, row in zip(lines, rows, strict=True):
            _line_id, due, today, attempts, _refused, last_day, retry_days = row
            when = (
                fields.Date.add(last_day, days=retry_days)
                if attempts
                else max(due, today)
            )
            schedule.append(
                {
                    "line": line,
                    "date": max(when, today),
                    "amount": line.amount_residual_currency,
                    "currency": line.currency_id,
                    "attempt": attempts + 1,
                }
            )
        return schedule

    # ------------------------------------------------------------------
    # The daily run: notices, then charges
    # ------------------------------------------------------------------

    @api.model
    def _cron_autopay_invoices(self, batch_size=BATCH_SIZE):
        """Scheduled action: tell the customers under automatic debit what will
        be charged (a few days before, once per line), then charge each line
        fallen due in the customer's time zone, and retry the refused ones as
        the company says; one batch per call (the cron calls again while some
        are left). A line is charged once per attempt, ever: its transaction is
        the mark, unique in the database, committed before the provider is
        asked.

        Returns the counts ``noticed`` (lines), ``charged``, ``refused`` and
        ``pending``."""
        self = self.sudo()  # noqa: PLW0642
        counts = dict.fromkeys(("noticed", "charged", "refused", "pending"), 0)
        now = fields.Datetime.now()
        notices = self._notice_todo(now)
        done = 0
        for autopay, line_ids in notices[:batch_size]:
            counts["noticed"] += len(autopay._send_notice(line_ids, now))
            done += 1
        todo = self._debit_todo(now) if done < batch_size else []
        batch = todo[: batch_size - done]
        for autopay, charge in batch:
            outcome = autopay._debit(charge)
            if outcome:
                counts[outcome] += 1
            done += 1
        remaining = max(len(notices) - batch_size, 0) + len(todo) - len(batch)
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return counts

    @api.model
    def _notice_todo(self, now):
        """``[(mandate, line ids)]`` of the lines to tell of: covered, falling
        due within the company's notice days, never told of."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT r.autopay_id, ARRAY_AGG(r.line_id ORDER BY r.due, r.line_id)
                     FROM (%s) r
                     JOIN collection_autopay a ON a.id = r.autopay_id
                     JOIN res_company c ON c.id = a.company_id
                    WHERE NOT r.noticed
                      AND r.due <= r.local_day + c.collection_autopay_notice_days
                    GROUP BY r.autopay_id
                    ORDER BY r.autopay_id""",
                self._autopay_lines_sql(now=now),
            )
        )
        return [(self.browse(row[0]), row[1]) for row in self.env.cr.fetchall()]

    @api.model
    def _debit_todo(self, now):
        """``[(mandate, Charge)]`` to charge now, oldest due first: covered lines
        told of, fallen due, never charged; or refused at their last attempt,
        whose retry day has come."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT r.autopay_id, r.line_id, r.attempts + 1
                     FROM (%s) r
                     JOIN collection_autopay a ON a.id = r.autopay_id
                     JOIN res_company c ON c.id = a.company_id
                    WHERE r.noticed
                      AND r.attempts = r.refused
                      AND CASE WHEN r.attempts = 0 THEN r.due <= r.local_day
                               ELSE r.last_day + c.collection_autopay_retry_days
                                    <= r.local_day END
                    ORDER BY r.due, r.line_id, r.autopay_id""",
                self._autopay_lines_sql(now=now),
            )
        )
        Line = self.env["account.move.line"].sudo()
        return [
            (self.browse(autopay_id), Charge(Line.browse(line_id), attempt))
            for autopay_id, line_id, attempt in self.env.cr.fetchall()
        ]

    def _send_notice(self, line_ids, now):
        """Tell the customer, in its language, what will be charged and when:
        one notice for these lines, marked so that no line is told of twice
        (a unique index; the lines another worker told of meanwhile are left
        out), the email queued with the mark, committed. Returns the lines
        told of."""
        self.ensure_one()
        Line = self.env["account.move.line"]
        cr = self.env.cr
        try:
            with mute_logger("odoo.sql_db"), cr.savepoint():
                cr.execute(
                    SQL(
                        """SELECT r.line_id FROM (%s) r
                            WHERE NOT r.noticed AND r.line_id = ANY(%s)""",
                        self._autopay_lines_sql(SQL("a.id = %s", self.id), now),
                        list(line_ids),
                    )
                )
                wanted = [row[0] for row in cr.fetchall()]
                if not wanted:
                    return Line
                notice = self.env["collection.autopay.notice"].create(
                    {"autopay_id": self.id}
                )
                self.env.flush_all()
                # Not through the ORM, whose many2many insert ignores conflicts
                # silently: the lines marked are those this worker told of.
                cr.execute(
                    SQL(
                        """INSERT INTO collection_autopay_notice_line_rel
                                  (notice_id, move_line_id)
                           SELECT %s, UNNEST(%s::int[])
                           ON CONFLICT (move_line_id) DO NOTHING
                           RETURNING move_line_id""",
                        notice.id,
                        wanted,
                    )
                )
                lines = Line.browse([row[0] for row in cr.fetchall()])
                if not lines:
                    raise NothingToTell()
                notice._set_lines(lines)
        except (
            NothingToTell,
            psycopg2.errors.SerializationFailure,
            psycopg2.errors.UniqueViolation,
        ):
            _logger.info("Debit notice of %s sent by another worker: skipped", self)
            return Line
        notice._send()
        self._debit_commit()
        return lines

    # ------------------------------------------------------------------
    # Hooks of the debit engine (collection.debit.mixin)
    # ------------------------------------------------------------------

    def _debit_logger(self):
        return _logger

    def _debit_lock_sql(self, target):
        """The mandate, locked, while it is active, the line covered (open,
        within the cap...) and not charged at this attempt or a later one."""
        return SQL(
            """SELECT a.id FROM collection_autopay a
                WHERE a.id = %(autopay)s AND a.state = 'active'
                  AND %(line)s IN (%(covered)s)
                  AND NOT EXISTS (
                       SELECT 1 FROM payment_transaction tx
                        WHERE tx.collection_move_line_id = %(line)s
                          AND tx.collection_attempt >= %(attempt)s)
                  FOR UPDATE OF a SKIP LOCKED""",
            autopay=self.id,
            line=target.line.id,
            attempt=target.attempt,
            covered=SQL(
                "SELECT covered.line_id FROM (%s) covered",
                self._autopay_lines_sql(SQL("a.id = %s", self.id)),
            ),
        )

    def _debit_transaction_values(self, target):
        """What is left on the line, in its currency, charged to the mandate's
        payment method; the payment pays the line's invoice."""
        line, token = target.line, self.token_id
        return {
            "provider_id": token.provider_id.id,
            "payment_method_id": token.payment_method_id.id,
            "token_id": token.id,
            "reference": self.env["payment.transaction"]._compute_reference(
                token.provider_id.code,
                prefix=f"{line.move_id.name}-{target.attempt}",
            ),
            "amount": line.amount_residual_currency,
            "currency_id": line.currency_id.id,
            "partner_id": self.partner_id.id,
            "operation": "offline",
            "invoice_ids": [Command.set(line.move_id.ids)],
            "collection_autopay_id": self.id,
            "collection_move_line_id": line.id,
            "collection_attempt": target.attempt,
        }

    def _debit_final(self, attempt):
        """Whether ``attempt`` is the last the company allows."""
        return attempt > self.company_id.collection_autopay_retry_count

    def _debit_log(self, tx, outcome, target):
        final = outcome == "refused" and self._debit_final(target.attempt)
        self.message_post(
            body=self._debit_message(tx, outcome, target, final),
            message_type="comment",
            subtype_xmlid="mail.mt_note",
        )
        if final:
            self._debit_escalate(tx, target)

    def _debit_escalate(self, tx, target):
        """The last allowed charge was refused: the line is reminded as usual
        again, and the customer's collector (else the collections manager)
        gets a to-do on the customer."""
        line = target.line
        reason = tx.state_message or ""
        self.company_id._collection_notify(
            self.partner_id,
            self.partner_id,
            lambda env: env._(
                "Automatic debit of %(invoice)s refused %(count)s times: collect "
                "it as usual",
                invoice=line.move_id.name,
                count=target.attempt,
            ),
            note=reason or None,
        )

    def _debit_message(self, tx, outcome, target, final=False):
        line = target.line
        values = {
            "invoice": line.move_id.name,
            "due": fields.Date.to_string(line.date_maturity),
            "amount": tx.currency_id.format(tx.amount),
            "method": tx.token_id.display_name,
            "reference": tx.reference,
            "attempt": target.attempt,
        }
        if outcome == "charged":
            return self.env._(
                "%(invoice)s due %(due)s: %(amount)s charged to %(method)s "
                "(transaction %(reference)s, attempt %(attempt)s).",
                **values,
            )
        if outcome == "pending":
            return self.env._(
                "%(invoice)s due %(due)s: the charge of %(amount)s to %(method)s "
                "awaits the provider's confirmation (transaction %(reference)s).",
                **values,
            )
        states = dict(tx._fields["state"]._description_selection(self.env))
        values["reason"] = tx.state_message or states[tx.state]
        if final:
            return self.env._(
                "%(invoice)s due %(due)s: the charge of %(amount)s to %(method)s "
                "was refused (transaction %(reference)s, attempt %(attempt)s): "
                "%(reason)s. It is not tried again; the reminders resume.",
                **values,
            )
        return self.env._(
            "%(invoice)s due %(due)s: the charge of %(amount)s to %(method)s was "
            "refused (transaction %(reference)s, attempt %(attempt)s): %(reason)s. "
            "It is tried again in %(days)s days.",
            days=self.company_id.collection_autopay_retry_days,
            **values,
        )

    # ------------------------------------------------------------------
    # Portal
    # ------------------------------------------------------------------

    @api.model
    def _portal_enable(self, customer, token, max_amount=0.0, ip=None):
        """Turn automatic debit on for ``customer`` with ``token`` (already
        checked to be the customer's): the mandate in force of the token's
        company takes the token (and resumes if paused), else a new one is
        made. Twice the same click makes one mandate."""
        customer = customer.commercial_partner_id
        company = token.company_id
        values = {"token_id": token.id, "max_amount": max_amount or 0.0}
        for _attempt in range(2):
            current = self.search(
                [
                    ("partner_id", "=", customer.id),
                    ("company_id", "=", company.id),
                    ("state", "!=", "revoked"),
                ],
                limit=1,
            )
            if current:
                current.write(values)
                if current.state == "paused":
                    current.action_resume()
                return current
            try:
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                    autopay = self.create(
                        {
                            **values,
                            "partner_id": customer.id,
                            "company_id": company.id,
                            "accepted_channel": "portal",
                            "accepted_ip": ip,
                        }
                    )
                    autopay.flush_recordset()
                    return autopay
            except psycopg2.errors.UniqueViolation:
                # The other click made it: take that one.
                continue
        raise UserError(self.env._("Automatic debit could not be turned on: retry."))

    @api.model
    def _mail_invite(self, partner, company):
        """Whether ``partner`` is invited to turn automatic debit on in
        ``company``: it has no mandate in force there."""
        return not self.sudo().search_count(
            [
                ("partner_id", "=", partner.commercial_partner_id.id),
                ("company_id", "=", company.id),
                ("state", "!=", "revoked"),
            ],
            limit=1,
        )

    @api.model
    def _portal_invite(self, invoice):
        """Whether the invoice's portal page invites its customer to turn
        automatic debit on: an open customer invoice of a customer without a
        mandate in force in its company."""
        return invoice._collection_open() and self._mail_invite(
            invoice.commercial_partner_id, invoice.company_id
        )
