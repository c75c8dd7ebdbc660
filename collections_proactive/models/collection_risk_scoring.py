import json
import logging
import random
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import risk_model as rm
from ..tools.sql import no_jit

_logger = logging.getLogger(__name__)

BATCH_SIZE = 10000
# Training reads at most this many invoices, sampled by customer, so fitting stays
# within seconds whatever the size of the ledger.
MAX_TRAINING_INVOICES = 8000
FULL_RECOMPUTE_DAYS = 7
# A change committed after a run started may carry an older timestamp (the one of its
# transaction's start): look that much further back for changes.
CHANGE_MARGIN = timedelta(minutes=15)


class CollectionRiskScoring(models.AbstractModel):
    """Scores customers and open invoices, per company, from their payment history.

    Everything is set-based: one SQL statement aggregates the history of a batch of
    customers, another lists their open invoices; Python turns those figures into
    features and probabilities (``tools/risk_model.py``) and writes them back with
    bulk ``UPDATE ... FROM (VALUES ...)`` (``collection_risk_scoring_write.py``).
    """

    _name = "collection.risk.scoring"
    _description = "Collections Risk Scoring"

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------

    @api.model
    def _cron_compute_risk(self, full=False, batch_size=BATCH_SIZE):
        """Scheduled action: one batch per call, the cron calls again while work
        remains. Incremental unless ``full`` or a weekly full recompute is due."""
        today = self._risk_today()
        done = remaining = 0
        for company in self.env["res.company"].sudo().search([]):
            todo = self._risk_todo(company, today, full)
            batch = todo[: max(batch_size - done, 0)]
            if batch:
                self._risk_score_partners(company, batch, today)
                done += len(batch)
            if len(batch) == len(todo):
                self._risk_finish_run(company, today)
            else:
                remaining += len(todo) - len(batch)
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return {"done": done, "remaining": remaining}

    @api.model
    def _compute_risk(self, companies=None, full=False, batch_size=BATCH_SIZE):
        """Run the scoring to the end in this transaction (shell, tests, buttons)."""
        companies = companies or self.env["res.company"].sudo().search([])
        today = self._risk_today()
        total = 0
        for company in companies.sudo():
            # One transaction: the list is read once (the cron reads it per call,
            # to resume after a crash).
            todo = self._risk_todo(company, today, full)
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                self._risk_score_partners(company, batch, today)
                total += len(batch)
            self._risk_finish_run(company, today)
        return total

    def _risk_today(self):
        return self.env.context.get(
            "collection_risk_date"
        ) or fields.Date.context_today(self)

    # ------------------------------------------------------------------
    # Which customers need a score
    # ------------------------------------------------------------------

    def _risk_clock(self):
        """Real time from the database, for run bookkeeping only: unlike the
        transaction timestamp it moves within a transaction, and unlike Python's
        clock it is not frozen in tests. Reference dates never come from here."""
        self.env.cr.execute("SELECT clock_timestamp() AT TIME ZONE 'UTC'")
        return self.env.cr.fetchone()[0]

    def _risk_todo(self, company, today, full=False):
        """Commercial partners of ``company`` still to score in the current run,
        starting a run if none is under way.

        Each run has a sequence number that scored customers take, so they leave the
        list: a crash or a new call resumes where the last committed batch ended.
        """
        company = company.sudo()
        if not company.collection_risk_run_start:
            last_full = company.collection_risk_last_full_run
            full = bool(
                full
                or company.collection_risk_full_requested
                or not company.collection_risk_last_run
                or not last_full
                or self._risk_clock() - last_full > timedelta(days=FULL_RECOMPUTE_DAYS)
            )
            company.write(
                {
                    "collection_risk_run_start": self._risk_clock(),
                    "collection_risk_run_full": full,
                    "collection_risk_run_seq": company.collection_risk_run_seq + 1,
                }
            )
            self._risk_fit(company, today)
        changed = SQL("TRUE")
        if not company.collection_risk_run_full:
            changed = SQL(
                """(m.write_date > %(since)s
                    OR (m.invoice_date_due > %(last_day)s
                        AND m.invoice_date_due <= %(today)s
                        AND m.payment_state NOT IN
                            ('paid', 'in_payment', 'reversed')))""",
                since=company.collection_risk_last_run - CHANGE_MARGIN,
                last_day=company.collection_risk_last_date or today,
                today=today,
            )
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT p.id
                  FROM res_partner p
                 WHERE p.id IN (
                        SELECT m.commercial_partner_id
                          FROM account_move m
                         WHERE m.company_id = %(company)s
                           AND m.move_type IN ('out_invoice', 'out_refund')
                           AND m.state = 'posted'
                           AND %(changed)s)
                   AND COALESCE((p.collection_risk_run_seq->>%(key)s)::int, 0)
                       < %(run_seq)s
                 ORDER BY p.id
                """,
                company=company.id,
                changed=changed,
                key=str(company.id),
                run_seq=company.collection_risk_run_seq,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @no_jit
    def _risk_finish_run(self, company, today):
        company = company.sudo()
        if not company.collection_risk_run_start:
            return
        values = {
            "collection_risk_last_run": company.collection_risk_run_start,
            "collection_risk_last_date": today,
            "collection_risk_run_start": False,
            "collection_risk_full_requested": False,
        }
        if company.collection_risk_run_full:
            values["collection_risk_last_full_run"] = company.collection_risk_run_start
        company.write(values)
        # The run's bands, trends and predictions are in: what changed is told.
        self.env["collection.risk.alert"]._raise_alerts(company, today)

    # ------------------------------------------------------------------
    # SQL: payment history
    # ------------------------------------------------------------------

    def _risk_invoice_rows_sql(self, company, today, partner_ids, window_start):
        """Customer invoices with the date each was paid in full, as of ``today``.

        The paid date is the latest reconciliation of the receivable lines, counted
        only when they are fully reconciled by ``today`` (a payment dated later, as
        in a ledger imported up to a cut-off, does not count yet). Fully reversed
        invoices are left out: a credit note is not a payment behaviour.
        """
        return SQL(
            """
            WITH inv AS (
                SELECT m.id, m.commercial_partner_id AS partner_id, m.invoice_date,
                       m.invoice_date_due AS due, m.amount_total_signed AS amount,
                       m.amount_residual_signed AS residual
                  FROM account_move m
                 WHERE m.company_id = %(company)s
                   AND m.move_type = 'out_invoice'
                   AND m.state = 'posted'
                   AND m.payment_state != 'reversed'
                   AND m.commercial_partner_id = ANY(%(partners)s)
                   AND (m.invoice_date_due >= %(window_start)s
                        OR m.payment_state NOT IN ('paid', 'in_payment')
                        OR m.invoice_date > %(today)s)
            )
            SELECT inv.*,
                   CASE WHEN paid.reconciled AND paid.last_date <= %(today)s
                        THEN paid.last_date END AS paid_on
              FROM inv
              -- per invoice, by the indexes: its receivable lines and their
              -- reconciliations
              LEFT JOIN LATERAL (
                SELECT BOOL_AND(aml.reconciled) AS reconciled,
                       MAX(apr.max_date) AS last_date
                  FROM account_move_line aml
             LEFT JOIN account_partial_reconcile apr ON apr.debit_move_id = aml.id
                 WHERE aml.move_id = inv.id
                   AND aml.display_type = 'payment_term'
              ) paid ON TRUE
            """,
            company=company.id,
            partners=list(partner_ids),
            window_start=window_start,
            today=today,
        )

    def _risk_stats_sql(self, company, today, partner_ids, window_start):
        """Per customer aggregates, the SQL twin of ``rm.stats_from_history``, and
        the customer's invoices unpaid today: one read of the ledger per batch."""
        checkpoints = SQL(", ").join(
            SQL(
                "COALESCE(SUM(amount) FILTER (WHERE settled"
                " AND (paid_on IS NULL OR due - paid_on < %s)), 0)",
                checkpoint,
            )
            for checkpoint in rm.CHECKPOINTS
        )
        return SQL(
            """
            WITH rows AS (%(rows)s), h AS (
                SELECT *,
                       invoice_date <= %(today)s
                       AND (due >= %(window_start)s OR paid_on IS NULL) AS hist
                  FROM rows
            ), r AS (
                SELECT *,
                       hist AND (paid_on IS NOT NULL OR due < %(today)s) AS settled,
                       LEAST(GREATEST(COALESCE(paid_on, %(today)s::date) - due,
                                      %(clip_low)s), %(clip_high)s) AS days
                  FROM h
            ), q AS (
                SELECT *, settled AND days > 0 AS late,
                       ROW_NUMBER() OVER (
                           PARTITION BY partner_id, settled
                           ORDER BY due DESC, invoice_date DESC, amount DESC
                       ) - 1 AS settled_rank,
                       ROW_NUMBER() OVER (
                           PARTITION BY partner_id, hist AND paid_on IS NOT NULL
                           ORDER BY paid_on DESC, due DESC, invoice_date DESC,
                                    amount DESC
                       ) - 1 AS paid_rank,
                       -- days paid after the first weekday on or after the due date
                       paid_on - (due + CASE EXTRACT(ISODOW FROM due)::int
                                        WHEN 6 THEN 2 WHEN 7 THEN 1 ELSE 0 END)
                           AS bd_delay
                  FROM r
            ), s AS (
                SELECT *, hist AND paid_on IS NOT NULL AND paid_rank < %(date_n)s
                          AS paid_last
                  FROM q
            )
            SELECT partner_id,
                   COUNT(*) FILTER (WHERE hist),
                   COALESCE(SUM(amount) FILTER (WHERE hist), 0),
                   COALESCE(SUM(due - invoice_date) FILTER (WHERE hist), 0),
                   COALESCE(%(today)s::date - MIN(invoice_date) FILTER (WHERE hist), 0),
                   COALESCE(SUM(amount) FILTER (WHERE hist AND paid_on IS NULL), 0),
                   COALESCE(SUM(amount) FILTER (WHERE hist AND paid_on IS NULL
                                                  AND due < %(today)s), 0),
                   COALESCE(MAX(%(today)s::date - due) FILTER (
                       WHERE hist AND paid_on IS NULL AND due < %(today)s), 0),
                   COUNT(*) FILTER (WHERE settled),
                   COALESCE(SUM(amount) FILTER (WHERE settled), 0),
                   COALESCE(SUM(amount) FILTER (WHERE late), 0),
                   COALESCE(SUM(amount * days) FILTER (WHERE settled), 0),
                   COALESCE(SUM(amount * days) FILTER (WHERE settled AND NOT late), 0),
                   COALESCE(SUM(amount * days) FILTER (WHERE late), 0),
                   COUNT(*) FILTER (WHERE settled AND %(today)s::date - due
                                    < %(recent)s),
                   COALESCE(SUM(amount) FILTER (WHERE settled AND %(today)s::date - due
                                                < %(recent)s), 0),
                   COALESCE(SUM(amount) FILTER (WHERE late AND %(today)s::date - due
                                                < %(recent)s), 0),
                   COALESCE(SUM(POWER(0.5, settled_rank / %(half_life)s))
                            FILTER (WHERE late), 0),
                   COALESCE(SUM(POWER(0.5, settled_rank / %(half_life)s))
                            FILTER (WHERE settled), 0),
                   %(checkpoints)s,
                   COUNT(*) FILTER (WHERE late),
                   COUNT(*) FILTER (WHERE settled AND settled_rank < %(last_n)s),
                   COUNT(*) FILTER (WHERE late AND settled_rank < %(last_n)s),
                   COUNT(*) FILTER (WHERE paid_last),
                   PERCENTILE_CONT(%(quantiles)s::float8[]) WITHIN GROUP
                       (ORDER BY bd_delay) FILTER (WHERE paid_last),
                   PERCENTILE_CONT(%(quantiles)s::float8[]) WITHIN GROUP
                       (ORDER BY paid_on - invoice_date) FILTER (WHERE paid_last),
                   %(shifts)s,
                   -- the last paid invoices, latest first, for the date model
                   %(paid_rows)s,
                   -- the invoices to score, whatever their date: unpaid today
                   -- (the arrays of one group aggregate the rows in the same order)
                   ARRAY_AGG(id) FILTER (WHERE paid_on IS NULL),
                   ARRAY_AGG(invoice_date) FILTER (WHERE paid_on IS NULL),
                   ARRAY_AGG(due) FILTER (WHERE paid_on IS NULL),
                   ARRAY_AGG(amount) FILTER (WHERE paid_on IS NULL),
                   ARRAY_AGG(residual) FILTER (WHERE paid_on IS NULL)
              FROM s
          GROUP BY partner_id
            """,
            rows=self._risk_invoice_rows_sql(company, today, partner_ids, window_start),
            today=today,
            window_start=window_start,
            clip_low=rm.DAYS_LATE_CLIP[0],
            clip_high=rm.DAYS_LATE_CLIP[1],
            recent=rm.RECENT_DAYS,
            half_life=rm.RECENT_HALF_LIFE,
            checkpoints=checkpoints,
            date_n=rm.DATE_N,
            last_n=rm.LAST_N,
            quantiles=list(rm.QUANTILES),
            paid_rows=SQL(", ").join(
                SQL(
                    "ARRAY_AGG(%s ORDER BY paid_rank)"
                    " FILTER (WHERE hist AND paid_on IS NOT NULL"
                    " AND paid_rank < %s)",
                    SQL.identifier(column),
                    rm.DATE_HIST,
                )
                for column in ("invoice_date", "due", "paid_on", "amount")
            ),
            shifts=SQL(", ").join(
                SQL("COUNT(*) FILTER (WHERE paid_last AND bd_delay > %s)", -j)
                for j in range(rm.SHIFTS)
            ),
        )

    def _risk_fetch_stats(self, company, today, partner_ids):
        # Raw SQL reads the database: pending ORM writes (a payment just
        # registered) must be there first.
        self.env.flush_all()
        window_start = today - timedelta(days=company.collection_risk_window_days)
        self.env.cr.execute(
            self._risk_stats_sql(company, today, partner_ids, window_start)
        )
        rows = self.env.cr.fetchall()
        broken = self._collection_risk_broken_commitments(
            partner_ids, company, window_start, today
        )
        limits = self._risk_credit_limits(company, partner_ids)
        stats, open_invoices = {}, []
        n_checkpoints = len(rm.CHECKPOINTS)
        for row in rows:
            (partner_id, n_invoices, amount_sum, term_sum, first_days, open_amount,
             overdue, oldest, n_settled, settled, late, days_late, days_on_time,
             days_late_late, recent_n, recent_settled, recent_late,
             decayed_late, decayed_weight, *rest) = row  # fmt: skip
            unpaid_at, rest = rest[:n_checkpoints], rest[n_checkpoints:]
            n_late, last_n, last_late, date_n, delay_q, dtp_q = rest[:6]
            late_shift = rest[6 : 6 + rm.SHIFTS]
            paid_rows = rest[6 + rm.SHIFTS : 10 + rm.SHIFTS]
            invoices = rest[10 + rm.SHIFTS :]
            if invoices[0]:
                open_invoices.extend(
                    (partner_id, *invoice) for invoice in zip(*invoices, strict=True)
                )
            stats[partner_id] = rm.CustomerStats(
                n_settled=n_settled,
                n_late=n_late,
                last_n=last_n,
                last_late=last_late,
                date_n=date_n,
                delay_q=[float(v) for v in delay_q or []],
                dtp_q=[float(v) for v in dtp_q or []],
                late_shift=list(late_shift),
                paid_rows=[
                    (invoice_date, due, paid_on, float(amount))
                    for invoice_date, due, paid_on, amount in zip(
                        *(column or [] for column in paid_rows), strict=True
                    )
                ],
                settled=float(settled),
                late=float(late),
                days_late=float(days_late),
                days_late_on_time=float(days_on_time),
                days_late_late=float(days_late_late),
                recent_n=recent_n,
                recent_settled=float(recent_settled),
                recent_late=float(recent_late),
                decayed_late=float(decayed_late),
                decayed_weight=float(decayed_weight),
                unpaid_at={
                    c: float(v) for c, v in zip(rm.CHECKPOINTS, unpaid_at, strict=True)
                },
                open=float(open_amount),
                overdue=float(overdue),
                oldest_overdue=oldest,
                n_invoices=n_invoices,
                amount_sum=float(amount_sum),
                term_sum=float(term_sum),
                first_date_days=first_days,
                broken_commitments=broken.get(partner_id, 0),
                credit_limit=limits.get(partner_id, 0.0),
            )
        return stats, open_invoices

    def _collection_risk_broken_commitments(
        self, partner_ids, company, date_from, date_to
    ):
        """Broken promises (and, with them, payment plans) per customer in the
        window: ``{commercial partner id: count}``."""
        self.env.cr.execute(
            SQL(
                """SELECT partner_id, COUNT(*) FROM (
                       SELECT partner_id FROM collection_promise
                        WHERE company_id = %(company)s AND state = 'broken'
                          AND closed_date BETWEEN %(start)s AND %(end)s
                          AND partner_id = ANY(%(ids)s)
                       UNION ALL
                       SELECT partner_id FROM collection_payment_plan
                        WHERE company_id = %(company)s AND state = 'broken'
                          AND closed_date BETWEEN %(start)s AND %(end)s
                          AND partner_id = ANY(%(ids)s)) broken
                    GROUP BY partner_id""",
                company=company.id,
                start=date_from,
                end=date_to,
                ids=list(partner_ids),
            )
        )
        return dict(self.env.cr.fetchall())

    def _risk_credit_limits(self, company, partner_ids):
        if not company.account_use_credit_limit:
            return {}
        partners = self.env["res.partner"].with_company(company)
        self.env.cr.execute(
            SQL(
                """SELECT id, COALESCE((credit_limit->>%(key)s)::float, %(default)s)
                     FROM res_partner WHERE id = ANY(%(ids)s)""",
                key=str(company.id),
                default=partners._fields["credit_limit"].get_company_dependent_fallback(
                    partners
                )
                or 0.0,
                ids=list(partner_ids),
            )
        )
        return dict(self.env.cr.fetchall())

    # ------------------------------------------------------------------
    # Scoring a batch
    # ------------------------------------------------------------------

    @no_jit
    def _risk_score_partners(self, company, partner_ids, today):
        company = company.sudo()
        params = company.collection_risk_model_params or {}
        if params.get("features") != list(rm.FEATURES):
            self._risk_fit(company, today, force=True)
            params = company.collection_risk_model_params
        predictor = rm.Predictor(params)
        holidays = self._risk_holidays(company, today)
        stats, open_invoices = self._risk_fetch_stats(company, today, partner_ids)
        empty = rm.CustomerStats(unpaid_at=dict.fromkeys(rm.CHECKPOINTS, 0.0))
        thresholds = (
            company.collection_risk_medium_threshold,
            company.collection_risk_high_threshold,
            company.collection_risk_critical_threshold,
        )
        now = fields.Datetime.to_string(self._risk_clock())
        partner_rows = []
        for partner_id in partner_ids:
            s = stats.get(partner_id, empty)
            score, factors = self._risk_customer_score(s, predictor)
            partner_rows.append(
                (
                    partner_id,
                    score,
                    self._risk_band(score, thresholds),
                    self._risk_confidence(s, predictor.model),
                    now,
                    json.dumps(factors),
                    company.collection_risk_run_seq,
                )
            )
        self._risk_write_partners(company, partner_rows)
        bands = {row[0]: row[2] for row in partner_rows}
        self._risk_score_invoices(
            open_invoices, today, stats, predictor, bands, holidays
        )

    @api.model
    def _risk_holidays(self, company, today):
        """The company's holidays (those of its country), on which no payment
        lands: a frozenset of dates around ``today``."""
        if not company.country_id:
            return frozenset()
        window = company.collection_risk_window_days or 365
        dates = self.env["collection.holiday"]._dates_by_country(
            company.country_id, today - timedelta(days=2 * window + 31)
        )
        return frozenset(dates.get(company.country_id.id, ()))

    @api.model
    def _risk_customer_score(self, s, predictor):
        """Score 0-100 and the factors that explain it (code, value, points)."""
        prior = predictor.prior
        rates = rm.customer_rates(s, prior)
        values = {
            "late_share": rates["late_share"],
            "avg_days_late": rates["avg_days_late"],
            "overdue_share": rates["overdue_share"],
            "oldest_overdue": s.oldest_overdue,
            "trend": rates["trend"],
            "broken_commitments": s.broken_commitments,
            "credit_use": s.open / s.credit_limit if s.credit_limit else 0.0,
            "history": s.n_settled,
        }
        model = predictor.model
        if model:
            row = rm.features(s, prior)
            # A customer always a week late is less of a risk than one always two
            # months late: the probability is weighted by how late it pays when late.
            severity = 0.6 + 0.4 * rm.clip(rates["days_late"], 0, 60) / 60
            pushes = dict.fromkeys(values, 0.0)
            terms = model.logit_terms(row)
            for name, term in zip(rm.FEATURES, terms, strict=True):
                if name in rm.FACTOR_OF_FEATURE:
                    pushes[rm.FACTOR_OF_FEATURE[name]] += term
            # Points that add up to the score: the factors' pushes applied one
            # after the other (largest first) from the base, the score of a
            # customer whose factors are all the company's average (and whose
            # late rate, where the score leans on rule 1, is the company's);
            # each factor's points are what it adds at its turn.
            z = model.intercept + sum(terms) - sum(pushes.values())
            rate = prior.late_count

            def reach(z, rate):
                p = rm.blend(
                    predictor.calibration(rm.sigmoid(z)), rate, predictor.weight
                )
                return round(100 * rm.clip(p, rm.P_FLOOR, 1 - rm.P_FLOOR) * severity)

            cumulative = base = reach(z, rate)
            points = {}
            for code, push in sorted(pushes.items(), key=lambda kv: -abs(kv[1])):
                z += push
                if code == "late_share":
                    rate = rm.rule_rate(s, prior)
                reached = reach(z, rate)
                points[code] = reached - cumulative
                cumulative = reached
            score = cumulative
        else:
            base = 0
            raw = rm.rule_points(s, prior)
            # Rounded on the running total, so that the points add up to it.
            points, cumulative, total = {}, 0, 0.0
            for code, pts in raw.items():
                total += pts
                points[code] = round(total) - cumulative
                cumulative = round(total)
            score = cumulative
            points["history"] = 0.0
        score = int(rm.clip(score, 0, 100))
        factors = [
            {"code": code, "value": round(values[code], 4), "points": round(pts, 1)}
            for code, pts in points.items()
            if pts or code == "history"
        ]
        if base:
            factors.append({"code": "base", "value": base, "points": base})
        factors.sort(key=lambda f: -abs(f["points"]))
        # Tenure sets no points (shrinkage already weighs a short history) but
        # belongs in the explanation of how much history the score rests on.
        for factor in factors:
            if factor["code"] == "history":
                factor["tenure_days"] = s.first_date_days
        return score, factors

    @api.model
    def _risk_band(self, score, thresholds):
        medium, high, critical = thresholds
        if score >= critical:
            return "critical"
        if score >= high:
            return "high"
        if score >= medium:
            return "medium"
        return "low"

    @api.model
    def _risk_confidence(self, s, model):
        if s.n_settled < 3:
            return "low"
        if s.n_settled < 10 or not model:
            return "medium"
        return "high"

    # ------------------------------------------------------------------
    # Learning from the company's own history
    # ------------------------------------------------------------------

    def _risk_training_rows(self, company, today):
        """Raw history of a sample of customers: {partner: [(date, due, paid_on,
        amount)]} over two windows, so the oldest samples still have a history."""
        window = company.collection_risk_window_days
        start = today - timedelta(days=2 * window)
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT commercial_partner_id, COUNT(*)
                     FROM account_move
                    WHERE company_id = %(company)s AND move_type = 'out_invoice'
                      AND state = 'posted' AND invoice_date_due >= %(start)s
                      AND invoice_date <= %(today)s
                 GROUP BY commercial_partner_id
                 -- in a set order: the seeded shuffle below must start from
                 -- the same list (a parallel aggregate returns any order)
                 ORDER BY commercial_partner_id""",
                company=company.id,
                start=start,
                today=today,
            )
        )
        counts = self.env.cr.fetchall()
        # A seeded sample keeps a refit on the same data identical.
        random.Random(company.id).shuffle(counts)
        partner_ids, total = [], 0
        for partner_id, count in counts:
            if total >= MAX_TRAINING_INVOICES:
                break
            partner_ids.append(partner_id)
            total += count
        if not partner_ids:
            return {}
        self.env.cr.execute(
            SQL(
                "SELECT partner_id, invoice_date, due, paid_on, amount FROM (%s) r"
                " WHERE invoice_date <= %s ORDER BY partner_id, invoice_date, id",
                self._risk_invoice_rows_sql(company, today, partner_ids, start),
                today,
            )
        )
        history = defaultdict(list)
        for partner_id, invoice_date, due, paid_on, amount in self.env.cr.fetchall():
            history[partner_id].append((invoice_date, due, paid_on, float(amount)))
        return history

    @no_jit
    def _risk_fit(self, company, today, force=False):
        """Back-test on a time-ordered split (the model beside the two simple
        rules), then fit and calibrate: see ``rm.learn``. The model scores only
        where its back-test beats rule 1 (alone or blended with it); otherwise
        the transparent rules do."""
        company = company.sudo()
        params = company.collection_risk_model_params or {}
        if (
            not force
            and company.collection_risk_model_date == today
            and params.get("features") == list(rm.FEATURES)
        ):
            return
        history = self._risk_training_rows(company, today)
        params = rm.learn(
            history,
            today,
            company.collection_risk_window_days,
            self._risk_holidays(company, today),
        )
        # The feature list travels with the model: an upgrade that changes it
        # makes the stored model unusable, and the next run refits.
        final = params["backtest"].get("final", {})
        company.write(
            {
                "collection_risk_model_date": today,
                "collection_risk_model_samples": params["samples"],
                "collection_risk_model_auc": final.get("auc") or 0.0,
                "collection_risk_model_accuracy": final.get("accuracy") or 0.0,
                "collection_risk_model_brier": final.get("brier") or 0.0,
                "collection_risk_model_state": params["mode"],
                "collection_risk_model_params": params,
            }
        )
        _logger.info(
            "Collections risk model for %s: %s on %s samples (AUC %s)",
            company.name,
            params["mode"],
            params["samples"],
            final.get("auc"),
        )
