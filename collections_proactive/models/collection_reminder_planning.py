from collections import defaultdict
from contextlib import nullcontext

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.sql import without_jit

# The reminder engine logs under one name, that of collection_reminder.py.
from .collection_reminder import _logger

WRITE_PAGE = 5000
ANALYZE_AFTER = 5000


class CollectionReminderPlanner(models.AbstractModel):
    """The planning service: which amount due or installment reaches which
    step today, written once per line, step and channel (the reminder lines'
    unique key) however many workers plan at once. The sender
    (``collection.reminder._cron_send_reminders``) calls it at the start of
    each run; *Send now* and the customer's form for one customer."""

    _name = "collection.reminder.planner"
    _description = "Collection Reminder Planner"

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
        created = self.env["collection.reminder"].browse()
        for company in (companies or self.env["res.company"].search([])).sudo():
            first = self._first_offsets(company)
            # A few customers' plan is cheap; the whole ledger's is not.
            with nullcontext() if partners else without_jit(self.env.cr):
                rows = self._plan_candidates(company, now, partners, first)
                if "paid" in first:
                    rows += self._plan_thanks(company, now, partners)
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

    @api.model
    def _first_offsets(self, company):
        """``{date counted from: earliest offset}`` of the company's active
        steps: a line due (or invoiced) later than today minus it, a day more
        for time zones ahead of UTC, reaches no step today and is not looked
        at."""
        self.env.cr.execute(
            SQL(
                """SELECT st.offset_from, MIN(st.offset_days)
                     FROM collection_strategy_step st
                     JOIN collection_strategy s ON s.id = st.strategy_id
                    WHERE s.company_id = %s AND s.active AND st.active
                    GROUP BY st.offset_from""",
                company.id,
            )
        )
        return dict(self.env.cr.fetchall())

    def _plan_candidates(self, company, now, partners=None, first=None):
        """The open receivable lines of customer invoices whose next step is due
        today in the customer's time zone, each on its own due date: one row
        ``(line, invoice, customer, step, residual, hold, customer hold,
        promised, in a plan, covered by credits)``."""
        strategy_of = self._strategy_sql(company)
        if strategy_of is None:
            return []
        first = {
            anchor: offset
            for anchor, offset in (first or self._first_offsets(company)).items()
            if anchor != "paid"
        }
        if not first:
            return []
        reachable = SQL(" OR ").join(
            SQL(
                "%s <= %s::date + 1 - %s",
                SQL("m.invoice_date" if anchor == "invoice" else "l.date_maturity"),
                now,
                offset,
            )
            for anchor, offset in first.items()
        )
        partner_filter = (
            SQL("AND m.commercial_partner_id = ANY(%s)", partners.ids)
            if partners
            else SQL()
        )
        Strategy = self.env["collection.strategy"]
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH lines AS (
                    SELECT l.id AS line_id, m.id AS move_id,
                           m.commercial_partner_id AS partner_id,
                           l.date_maturity AS due,
                           m.invoice_date AS issued,
                           l.amount_residual AS residual,
                           lp.late_probability AS late_p,
                           m.collection_followup_hold AS hold,
                           p.collection_no_followup AS partner_hold,
                           %(strategy_of)s AS strategy_id,
                           (%(now)s::timestamp AT TIME ZONE 'UTC' AT TIME ZONE
                            COALESCE(NULLIF(p.tz, ''), %(tz)s))::date AS local_day
                      FROM account_move_line l
                      JOIN account_move m ON m.id = l.move_id
                      JOIN res_partner p ON p.id = m.commercial_partner_id
                      LEFT JOIN collection_line_prediction lp ON lp.move_line_id = l.id
                     WHERE l.company_id = %(company)s AND %(open)s
                       AND (%(reachable)s)
                       -- paid by automatic debit: the debit notice instead
                       AND l.id NOT IN (%(autopay)s)
                       %(partner_filter)s
                ),
                step AS (%(step)s),
                owed AS (%(owed)s)
                SELECT c.line_id, c.move_id, c.partner_id, st.step_id, c.residual,
                       c.hold, COALESCE(c.partner_hold, FALSE),
                       EXISTS (SELECT 1
                                 FROM collection_promise_move_line_rel pm
                                 JOIN collection_promise pr ON pr.id = pm.promise_id
                                WHERE pm.move_line_id = c.line_id
                                  AND pr.state = 'open'
                                  AND pr.grace_until >= c.local_day) AS promised,
                       EXISTS (SELECT 1
                                 FROM collection_plan_move_line_rel plm
                                 JOIN collection_payment_plan pl ON pl.id = plm.plan_id
                                WHERE plm.move_line_id = c.line_id
                                  AND pl.state = 'active')
                       -- a plan's fee is paid with its installments
                       OR EXISTS (SELECT 1 FROM collection_payment_plan pl
                                   WHERE pl.fee_invoice_id = c.move_id
                                     AND pl.state = 'active') AS planned,
                       COALESCE(o.amount, 0) <= 0 AS covered
                  FROM lines c
                  JOIN step st ON st.line_id = c.line_id
                  LEFT JOIN owed o ON o.partner_id = c.partner_id
                 ORDER BY c.partner_id, st.step_id, c.move_id, c.line_id
                """,
                strategy_of=strategy_of,
                company=company.id,
                now=now,
                tz=company.partner_id.tz or "UTC",
                reachable=reachable,
                autopay=self.env["collection.autopay"]._covered_lines_sql(company, now),
                open=self.env["account.move.line"]._collection_open_sql(owed_only=True),
                step=Strategy._line_step_sql(
                    company, SQL("lines"), SQL("mv.local_day"), reached_only=True
                ),
                owed=Strategy._owed_sql(
                    company,
                    SQL(
                        "SELECT partner_id FROM lines"
                        " WHERE line_id IN (SELECT line_id FROM step)"
                    ),
                ),
                partner_filter=partner_filter,
            )
        )
        return self.env.cr.fetchall()

    def _plan_thanks(self, company, now, partners=None):
        """The amounts due paid in the last 30 days, that a reminder asked for,
        whose thank-you step (counted from the payment) is reached: rows as
        ``_plan_candidates`` gives. Each line is thanked once per step (the
        reminder lines' unique key); a customer on no follow-up is skipped."""
        strategy_of = self._strategy_sql(company)
        if strategy_of is None:
            return []
        partner_filter = (
            SQL("AND m.commercial_partner_id = ANY(%s)", partners.ids)
            if partners
            else SQL()
        )
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH paid AS (
                    SELECT l.id AS line_id, m.id AS move_id,
                           m.commercial_partner_id AS partner_id,
                           p.collection_no_followup AS partner_hold,
                           %(strategy_of)s AS strategy_id,
                           (SELECT MAX(apr.max_date)
                              FROM account_partial_reconcile apr
                             WHERE apr.debit_move_id = l.id) AS paid_on,
                           (%(now)s::timestamp AT TIME ZONE 'UTC' AT TIME ZONE
                            COALESCE(NULLIF(p.tz, ''), %(tz)s))::date AS local_day
                      FROM account_move_line l
                      JOIN account_move m ON m.id = l.move_id
                      JOIN res_partner p ON p.id = m.commercial_partner_id
                     WHERE l.company_id = %(company)s AND l.reconciled
                       AND l.id IN (
                           SELECT apr.debit_move_id
                             FROM account_partial_reconcile apr
                            WHERE apr.max_date >= %(now)s::date - 32)
                       AND l.display_type = 'payment_term'
                       AND m.move_type = 'out_invoice' AND m.state = 'posted'
                       %(partner_filter)s
                       AND EXISTS (
                           SELECT 1
                             FROM collection_reminder_line rl
                             JOIN collection_reminder r ON r.id = rl.reminder_id
                            WHERE rl.move_line_id = l.id AND r.state = 'sent'
                              AND r.kind IN ('notice', 'due', 'overdue'))
                )
                SELECT c.line_id, c.move_id, c.partner_id, st.id, 0, NULL,
                       COALESCE(c.partner_hold, FALSE), FALSE, FALSE, FALSE
                  FROM paid c
                  JOIN collection_strategy s
                    ON s.id = c.strategy_id AND s.active AND s.company_id = %(company)s
                  JOIN collection_strategy_step st
                    ON st.strategy_id = s.id AND st.active AND st.offset_from = 'paid'
                 WHERE c.paid_on >= c.local_day - 30
                   AND c.paid_on + st.offset_days <= c.local_day
                   AND NOT EXISTS (
                        SELECT 1 FROM collection_reminder_line rl
                         WHERE rl.move_line_id = c.line_id AND rl.step_id = st.id)
                 ORDER BY c.partner_id, st.id, c.move_id, c.line_id
                """,
                strategy_of=strategy_of,
                company=company.id,
                now=now,
                tz=company.partner_id.tz or "UTC",
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
            return self.env["collection.reminder"].browse()
        plans = self.env["collection.payment.plan"].search(
            [("company_id", "=", company.id), ("state", "=", "active")]
            + ([("partner_id", "in", partners.ids)] if partners else [])
        )
        if not plans:
            return self.env["collection.reminder"].browse()
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
            return self.env["collection.reminder"].browse()
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
            return self.env["collection.reminder"].browse()
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
        left = self.env["collection.reminder"]._in_halves(values, insert)
        if left:
            _logger.info(
                "%s installment reminders were planned by another worker", len(left)
            )
        self.env["collection.reminder"].invalidate_model()
        return self.env["collection.reminder"].browse(ids)

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
            return self.env["collection.reminder"].browse()
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
        self.env["collection.reminder"].invalidate_model()
        return self.env["collection.reminder"].browse(
            [reminder_id for reminder_id in ids if reminder_id in kept]
        )

    def _insert_lines(self, company, lines, uid, now, kept):
        """Insert these reminder lines, adding to ``kept`` the reminders that got
        one; returns how many lines another worker planned meanwhile."""

        def insert(page):
            # One array per column: a page of thousands of lines is sent and
            # parsed as six values, not as thousands of rows of literals.
            self.env.cr.execute(
                SQL(
                    """INSERT INTO collection_reminder_line
                           (reminder_id, move_line_id, move_id, step_id, channel,
                            amount_residual, company_id, create_uid,
                            create_date, write_uid, write_date)
                       SELECT v.reminder_id, v.move_line_id, v.move_id, v.step_id,
                              v.channel, v.residual, %s, %s, %s, %s, %s
                         FROM unnest(%s::int[], %s::int[], %s::int[], %s::int[],
                                     %s::varchar[], %s::numeric[])
                              WITH ORDINALITY AS v(reminder_id, move_line_id,
                                                   move_id, step_id, channel,
                                                   residual, position)
                        ORDER BY v.position
                       ON CONFLICT ON CONSTRAINT
                          collection_reminder_line_move_line_step_channel_unique
                          DO NOTHING
                       RETURNING reminder_id""",
                    company.id,
                    uid,
                    now,
                    uid,
                    now,
                    *(list(column) for column in zip(*page, strict=True)),
                )
            )
            kept.update(row[0] for row in self.env.cr.fetchall())

        return len(self.env["collection.reminder"]._in_halves(lines, insert))
