import logging
from contextlib import nullcontext
from datetime import datetime, time, timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.sql import without_jit

_logger = logging.getLogger(__name__)

ANALYZE_AFTER = 1000


class CollectionCaseSync(models.Model):
    """Engine hooks and the set-based sync of collection cases."""

    _inherit = "collection.case"

    # ------------------------------------------------------------------
    # Engine hooks
    # ------------------------------------------------------------------

    @api.model
    def _paused(self, partners, companies, now):
        """{(partner id, company id): (resume datetime, reason)} for paused cases."""
        if not partners:
            return {}
        cases = self.sudo().search_fetch(
            [
                ("partner_id", "in", partners.ids),
                ("company_id", "in", companies.ids),
                ("state", "=", "open"),
                ("paused_until", ">", now.date()),
            ],
            ["partner_id", "company_id", "paused_until", "pause_reason"],
        )
        return {
            (case.partner_id.id, case.company_id.id): (
                datetime.combine(case.paused_until, time.min),
                case.pause_reason or "",
            )
            for case in cases
        }

    @api.model
    def _open_for_alerts(self, partners, company):
        """``(cases, opened)``: the open cases of ``partners`` in ``company``,
        and those of them just opened at the *Upcoming* stage for the customers
        that owe something and had none: an early warning is worked on the case,
        before anything is overdue. The caller syncs the opened ones once the
        warning is on them (their figures and next step; without it, the sync
        would close a case that needs no attention)."""
        opened = self.browse()
        upcoming = self.env["collection.stage"]._for_role("upcoming", company)
        if upcoming and partners:
            self.env.flush_all()
            self.env.cr.execute(
                SQL(
                    """
                    INSERT INTO collection_case
                           (partner_id, company_id, stage_id, state, user_id,
                            opened_date, create_uid, create_date, write_uid,
                            write_date)
                    SELECT p.id, %(company)s, %(stage)s, 'open',
                           (p.collection_user_id->>%(key)s)::int,
                           %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM res_partner p
                     WHERE p.id = ANY(%(partners)s)
                       AND EXISTS (
                            SELECT 1
                              FROM account_move_line l
                              JOIN account_move m ON m.id = l.move_id
                             WHERE m.commercial_partner_id = p.id
                               AND l.company_id = %(company)s AND %(open)s)
                    ON CONFLICT (partner_id, company_id) WHERE state = 'open'
                    DO NOTHING
                    RETURNING id
                    """,
                    company=company.id,
                    stage=upcoming.id,
                    key=str(company.id),
                    now=fields.Datetime.now(),
                    uid=self.env.uid,
                    partners=partners.ids,
                    open=self.env["account.move.line"]._collection_open_sql(
                        owed_only=True
                    ),
                )
            )
            opened = self.browse([row[0] for row in self.env.cr.fetchall()])
            if opened:
                self.invalidate_model()
        cases = self.search(
            [
                ("partner_id", "in", partners.ids),
                ("company_id", "=", company.id),
                ("state", "=", "open"),
            ]
        )
        return cases, opened

    @api.model
    def _advance(self, partners, company, stage):
        """Move the open cases of ``partners`` in ``company`` to ``stage``, only
        forward: a reminder never pulls a case back from Escalated."""
        cases = self.sudo().search(
            [
                ("partner_id", "in", partners.ids),
                ("company_id", "=", company.id),
                ("state", "=", "open"),
                ("stage_id", "!=", stage.id),
            ]
        )
        cases = cases.filtered(lambda case: case.stage_id.sequence < stage.sequence)
        if cases:
            cases.write({"stage_id": stage.id})

    @api.model
    def _move_to_role(self, records, role):
        """Sync the cases of the customers of ``records`` (promises, plans: they
        make a customer need a case), then move them to the stage of ``role``."""
        Case = self.sudo()
        for company in records.company_id:
            partners = records.filtered(
                lambda r, c=company: r.company_id == c
            ).partner_id
            # What comes next changes too: reminders decided again, case synced.
            Case._collection_refresh(partners, company)
            stage = self.env["collection.stage"]._for_role(role, company)
            if not stage:
                continue
            cases = Case.search(
                [
                    ("partner_id", "in", partners.ids),
                    ("company_id", "=", company.id),
                    ("state", "=", "open"),
                    ("stage_id", "!=", stage.id),
                ]
            )
            cases.write({"stage_id": stage.id})

    # ------------------------------------------------------------------
    # The set-based sync
    # ------------------------------------------------------------------

    @api.model
    def _collection_refresh(self, partners, companies):
        """After a change that alters what the engine does next for ``partners``
        (a promise, a plan, a pause, a hold, a payment): their planned reminders
        decided again and their cases brought up to date, so that every screen
        that says "next" agrees with the engine at once."""
        partners = partners.commercial_partner_id
        if not partners:
            return
        self.env["collection.reminder"]._refresh_planned(partners, companies)
        self._sync_cases(companies.sudo(), partners)

    @api.model
    def _sync_cases(self, companies=None, partners=None):
        """Open, update and close the cases of ``companies`` (all by default) from
        the ledger in a few statements per company, whatever their number.

        A customer needs a case when something is overdue, when it is high or
        critical risk with invoices due within the company's horizon, or while it
        has an open promise, an active payment plan or an open early warning on
        its case. A case closes (to the Resolved stage) when nothing is owed, or,
        while it sits in a stage where the engine places cases (up to Overdue on
        the board), as soon as the customer no longer needs one: a customer who
        paid what was overdue and owes only invoices not yet due leaves the board
        instead of showing "overdue 0" there for good. Returns ``{"opened": n,
        "closed": n, "updated": n}``.
        """
        self = self.sudo().with_context(collection_case_sync=True)  # noqa: PLW0642
        counts = {"opened": 0, "closed": 0, "updated": 0}
        now = fields.Datetime.now()
        self.env.flush_all()
        for company in companies or self.env["res.company"].search([]):
            # A few customers' refresh is cheap; the whole ledger is not.
            with nullcontext() if partners else without_jit(self.env.cr):
                result = self._sync_company(company, now, partners)
            for key in counts:
                counts[key] += result[key]
        self.invalidate_model()
        return counts

    def _sync_company(self, company, now, partners=None):
        cr = self.env.cr
        today = fields.Datetime.context_timestamp(
            self.with_context(tz=company.partner_id.tz or "UTC"), now
        ).date()
        upcoming = self.env["collection.stage"]._for_role("upcoming", company)
        overdue = self.env["collection.stage"]._for_role("overdue", company)
        resolved = self.env["collection.stage"]._for_role("resolved", company)
        if not (upcoming or overdue) or not resolved:
            _logger.warning(
                "Company %s has no stage for new or resolved cases: no sync",
                company.name,
            )
            return {"opened": 0, "closed": 0, "updated": 0}
        key = str(company.id)
        partner_filter = (
            SQL("AND pc.commercial_partner_id = ANY(%s)", partners.ids)
            if partners
            else SQL()
        )
        case_filter = (
            SQL("AND c.partner_id = ANY(%s)", partners.ids) if partners else SQL()
        )
        cr.execute(
            SQL(
                """
                CREATE TEMP TABLE collection_case_sync ON COMMIT DROP AS
                SELECT partner_id, due,
                       -- credits settle the oldest debts first
                       GREATEST(overdue - credits, 0) AS overdue,
                       oldest, invoices, due_soon
                  FROM (
                    SELECT pc.commercial_partner_id AS partner_id,
                           SUM(l.amount_residual) AS due,
                           COALESCE(SUM(l.amount_residual)
                                    FILTER (WHERE l.amount_residual > 0
                                              AND l.date_maturity < %(today)s), 0)
                               AS overdue,
                           -COALESCE(SUM(l.amount_residual)
                                     FILTER (WHERE l.amount_residual < 0), 0)
                               AS credits,
                           MIN(l.date_maturity)
                               FILTER (WHERE l.amount_residual > 0
                                         AND l.date_maturity < %(today)s) AS oldest,
                           COUNT(DISTINCT l.move_id)
                               FILTER (WHERE l.amount_residual > 0) AS invoices,
                           COALESCE(BOOL_OR(l.date_maturity <= %(horizon)s)
                                    FILTER (WHERE l.amount_residual > 0), FALSE)
                               AS due_soon
                      FROM account_move_line l
                      JOIN account_move m ON m.id = l.move_id
                      JOIN res_partner pc ON pc.id = l.partner_id
                     WHERE l.company_id = %(company)s AND %(open)s %(partner_filter)s
                     GROUP BY pc.commercial_partner_id
                  ) figures
                """,
                today=today,
                horizon=today + timedelta(days=company.collection_case_horizon_days),
                company=company.id,
                open=self.env["account.move.line"]._collection_open_sql(),
                partner_filter=partner_filter,
            )
        )
        cr.execute("CREATE INDEX ON collection_case_sync (partner_id)")
        # Why a customer needs a case (``s``: its figures, ``p``: the partner).
        attention = SQL(
            """(s.overdue > 0
                OR (s.due_soon AND p.collection_risk_band->>%(key)s
                                   IN ('high', 'critical'))
                OR EXISTS (SELECT 1 FROM collection_promise pr
                            WHERE pr.partner_id = s.partner_id
                              AND pr.company_id = %(company)s
                              AND pr.state = 'open')
                OR EXISTS (SELECT 1 FROM collection_payment_plan pl
                            WHERE pl.partner_id = s.partner_id
                              AND pl.company_id = %(company)s
                              AND pl.state = 'active'))""",
            key=key,
            company=company.id,
        )
        # An open early warning on the case is the collector's to work on.
        alert_type = self.env.ref(
            "collections_proactive.mail_activity_type_risk_alert", False
        )
        warned = SQL(
            """EXISTS (SELECT 1 FROM mail_activity a
                        WHERE a.res_model = 'collection.case' AND a.res_id = c.id
                          AND a.activity_type_id = %s)""",
            alert_type.id if alert_type else None,
        )
        # Close: nothing owed any more, or, in a stage where the engine put it,
        # nothing that needs attention.
        cr.execute(
            SQL(
                """
                WITH ending AS (
                    -- what is still owed, not yet due, stays on the closed case
                    SELECT c.id, GREATEST(COALESCE(s.due, 0), 0) AS due,
                           CASE WHEN s.due > 0 THEN s.invoices ELSE 0 END
                               AS invoices
                      FROM collection_case c
                      JOIN res_partner p ON p.id = c.partner_id
                 LEFT JOIN collection_case_sync s ON s.partner_id = c.partner_id
                     WHERE c.company_id = %(company)s AND c.state = 'open'
                           %(case_filter)s
                       AND (COALESCE(s.due, 0) <= 0
                            OR (c.stage_id = ANY(%(engine_stages)s)
                                AND NOT COALESCE(%(attention)s, FALSE)
                                AND NOT %(warned)s))
                )
                UPDATE collection_case c
                   SET state = 'closed', stage_id = %(resolved)s,
                       closed_date = %(now)s, amount_due = e.due,
                       amount_overdue = 0, days_overdue = 0,
                       invoice_count = e.invoices, next_step_id = NULL,
                       next_step_date = NULL, next_check_date = NULL,
                       next_action_date = NULL,
                       write_date = %(now)s, write_uid = %(uid)s
                  FROM ending e
                 WHERE e.id = c.id
                RETURNING c.id, e.due > 0
                """,
                resolved=resolved.id,
                now=now,
                uid=self.env.uid,
                company=company.id,
                case_filter=case_filter,
                engine_stages=self.env["collection.stage"]._engine_stages(company).ids,
                attention=attention,
                warned=warned,
            )
        )
        ended = cr.fetchall()
        closed = self.browse([case_id for case_id, _owes in ended])
        cured = {case_id for case_id, owes in ended if owes}
        # Open: customers that need attention and have no open case.
        cr.execute(
            SQL(
                """
                INSERT INTO collection_case
                       (partner_id, company_id, stage_id, state, user_id,
                        opened_date, create_uid, create_date, write_uid, write_date)
                SELECT s.partner_id, %(company)s,
                       CASE WHEN s.overdue > 0 THEN %(overdue)s ELSE %(upcoming)s END,
                       'open', (p.collection_user_id->>%(key)s)::int,
                       %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM collection_case_sync s
                  JOIN res_partner p ON p.id = s.partner_id
                 WHERE s.due > 0 AND %(attention)s
                ON CONFLICT (partner_id, company_id) WHERE state = 'open' DO NOTHING
                RETURNING id
                """,
                company=company.id,
                overdue=(overdue or upcoming).id,
                upcoming=(upcoming or overdue).id,
                key=key,
                now=now,
                uid=self.env.uid,
                attention=attention,
            )
        )
        opened = self.browse([row[0] for row in cr.fetchall()])
        if len(opened) > ANALYZE_AFTER:
            # The statements below join the cases: with statistics from before a
            # bulk opening, PostgreSQL plans for a nearly empty table and scans
            # the invoices once per case.
            cr.execute("ANALYZE collection_case")
        # A case waiting before the due date moves on once something is overdue,
        # and back once nothing is (kept open by a risky customer's invoice due
        # soon, a promise or a plan): the Overdue column holds what is overdue.
        if overdue and upcoming:
            cr.execute(
                SQL(
                    """
                    UPDATE collection_case c
                       SET stage_id = CASE WHEN c.stage_id = %(upcoming)s
                                           THEN %(overdue)s ELSE %(upcoming)s END
                      FROM collection_case_sync s
                     WHERE s.partner_id = c.partner_id AND c.company_id = %(company)s
                       AND c.state = 'open' %(case_filter)s
                       AND ((c.stage_id = %(upcoming)s AND s.overdue > 0)
                            OR (c.stage_id = %(overdue)s AND s.overdue <= 0))
                    """,
                    overdue=overdue.id,
                    upcoming=upcoming.id,
                    company=company.id,
                    case_filter=case_filter,
                )
            )
        opened._assign_collectors(company)
        self.env.flush_all()
        updated = self._sync_figures(company, today, key, case_filter)
        if closed:
            # In the company's language, whoever's payment or run closed them.
            env = self.with_context(lang=company.partner_id.lang or self.env.lang).env
            paid = Markup("<p>%s</p>") % env._("Closed: nothing is owed any more.")
            not_due = Markup("<p>%s</p>") % env._(
                "Closed: nothing is overdue any more and what is owed is not yet "
                "due. A new case opens if something falls overdue."
            )
            closed._message_log_batch(
                bodies={
                    case_id: not_due if case_id in cured else paid
                    for case_id in closed.ids
                }
            )
        cr.execute("DROP TABLE collection_case_sync")
        return {"opened": len(opened), "closed": len(closed), "updated": updated}

    def _sync_figures(self, company, today, key, case_filter):
        """Amounts, risk, collector and next step of the open cases, written only
        where something changed."""
        self.env.cr.execute(
            SQL(
                """
                WITH nxt AS (%(next)s),
                next_step AS (
                    SELECT DISTINCT ON (partner_id) partner_id, step_id, day
                      FROM nxt
                     WHERE status IN ('planned', 'step')
                     ORDER BY partner_id, day, step_id
                ),
                -- a promise's date, a plan's next installment: when to look again
                next_check AS (
                    SELECT partner_id, MIN(day) AS day
                      FROM nxt
                     WHERE status IN ('promise', 'plan', 'autopay')
                     GROUP BY partner_id
                ),
                figures AS (
                    SELECT c.id,
                           COALESCE(s.due, 0) AS due,
                           COALESCE(s.overdue, 0) AS overdue,
                           COALESCE(%(today)s - s.oldest, 0) AS days,
                           COALESCE(s.invoices, 0) AS invoices,
                           p.collection_risk_band->>%(key)s AS band,
                           COALESCE((p.collection_risk_score->>%(key)s)::int, 0)
                               AS score,
                           (p.collection_user_id->>%(key)s)::int AS collector,
                           n.step_id, n.day, k.day AS check_day,
                           LEAST(n.day, k.day,
                                 (SELECT MIN(a.date_deadline)
                                    FROM mail_activity a
                                   WHERE a.res_model = 'collection.case'
                                     AND a.res_id = c.id)) AS next_action
                      FROM collection_case c
                      JOIN res_partner p ON p.id = c.partner_id
                      LEFT JOIN collection_case_sync s ON s.partner_id = c.partner_id
                      LEFT JOIN next_step n ON n.partner_id = c.partner_id
                      LEFT JOIN next_check k ON k.partner_id = c.partner_id
                     WHERE c.company_id = %(company)s AND c.state = 'open'
                           %(case_filter)s
                )
                UPDATE collection_case c
                   SET amount_due = f.due, amount_overdue = f.overdue,
                       days_overdue = f.days, invoice_count = f.invoices,
                       risk_band = f.band, risk_score = f.score,
                       user_id = COALESCE(f.collector, c.user_id),
                       next_step_id = f.step_id, next_step_date = f.day,
                       next_check_date = f.check_day,
                       next_action_date = f.next_action
                  FROM figures f
                 WHERE f.id = c.id
                   AND (c.amount_due, c.amount_overdue, c.days_overdue,
                        c.invoice_count, c.risk_band, c.risk_score, c.user_id,
                        c.next_step_id, c.next_step_date, c.next_check_date,
                        c.next_action_date)
                       IS DISTINCT FROM
                       (f.due, f.overdue, f.days, f.invoices, f.band, f.score,
                        COALESCE(f.collector, c.user_id), f.step_id, f.day,
                        f.check_day, f.next_action)
                """,
                company=company.id,
                next=self.env["collection.strategy"]._next_sql(
                    company,
                    today,
                    SQL(
                        """AND EXISTS (SELECT 1 FROM collection_case c
                                        WHERE c.partner_id = m.commercial_partner_id
                                          AND c.company_id = %s
                                          AND c.state = 'open')""",
                        company.id,
                    ),
                ),
                today=today,
                key=key,
                case_filter=case_filter,
            )
        )
        return self.env.cr.rowcount

    def _assign_collectors(self, company):
        """Give these new cases' customers without a collector one, by the
        company's assignment rules (round-robin within a rule, fewest open cases
        first), and the case the customer's collector."""
        rules = self.env["collection.assignment.rule"].search(
            [("company_id", "=", company.id)]
        )
        if not self or not rules:
            return
        key = str(company.id)
        self.env.cr.execute(
            SQL(
                """SELECT c.id, c.partner_id, p.collection_risk_band->>%(key)s
                     FROM collection_case c JOIN res_partner p ON p.id = c.partner_id
                    WHERE c.id = ANY(%(ids)s)
                      AND (p.collection_user_id->>%(key)s) IS NULL
                    ORDER BY c.id""",
                key=key,
                ids=self.ids,
            )
        )
        todo = self.env.cr.fetchall()
        if not todo:
            return
        load = dict(
            self._read_group(
                [("company_id", "=", company.id), ("state", "=", "open")],
                ["user_id"],
                ["__count"],
            )
        )
        load = {user.id: count for user, count in load.items() if user}
        chosen = {}
        for case_id, partner_id, band in todo:
            rule = rules.filtered(
                lambda r, b=band: not r.risk_band or r.risk_band == b
            )[:1]
            if not rule.user_ids:
                continue
            user = min(rule.user_ids, key=lambda u: (load.get(u.id, 0), u.id))
            load[user.id] = load.get(user.id, 0) + 1
            chosen.setdefault(user.id, []).append((case_id, partner_id))
        for user_id, pairs in chosen.items():
            partners = self.env["res.partner"].browse([p for _c, p in pairs])
            partners.with_company(company).write({"collection_user_id": user_id})
            self.browse([c for c, _p in pairs]).write({"user_id": user_id})
