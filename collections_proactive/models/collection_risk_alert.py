from collections import defaultdict

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL, format_date

from .res_partner import RISK_BANDS

# The recent late share exceeding the customer's usual one by this much is a
# turn for the worse (the risk factor "trend").
TREND_TURN = 0.2
# Broken promises and plans older than this are history, not news: switching
# alerts on does not flood the collectors.
BROKEN_NEWS_DAYS = 7
REASONS = [
    ("band", "Risk band worsened"),
    ("trend", "Lateness trend turned"),
    ("broken", "Promise or plan broken"),
    ("line", "Likely late before the due date"),
]


class CollectionRiskAlert(models.Model):
    """An early warning: something changed that predicts a customer falling
    behind, told to its collector before it does.

    Raised set-based at the end of each risk run (``_raise_alerts``): the
    customer's band worsened, its lateness trend turned, a promise or a plan
    was broken, or an open amount not yet due became likely to be paid late.
    Each reason is one record, the log the manager's digest reads; the
    collector gets at most one open activity per customer, on its case."""

    _name = "collection.risk.alert"
    _description = "Collection Risk Alert"
    _order = "create_date desc, id desc"
    _check_company_auto = True

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, readonly=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    case_id = fields.Many2one(
        "collection.case", readonly=True, index="btree_not_null", check_company=True
    )
    activity_user_id = fields.Many2one("res.users", string="Told To", readonly=True)
    reason = fields.Selection(REASONS, required=True, readonly=True)
    summary = fields.Char(readonly=True)
    previous_band = fields.Selection(RISK_BANDS, readonly=True)
    band = fields.Selection(RISK_BANDS, readonly=True)
    promise_id = fields.Many2one("collection.promise", readonly=True)
    plan_id = fields.Many2one("collection.payment.plan", readonly=True)
    move_line_ids = fields.Many2many(
        "account.move.line",
        "collection_risk_alert_move_line_rel",
        "alert_id",
        "move_line_id",
        string="Amounts Due",
        readonly=True,
    )

    def init(self):
        # Exactly once: a broken promise or plan is news one time.
        for column in ("promise_id", "plan_id"):
            self.env.cr.execute(
                SQL(
                    "CREATE UNIQUE INDEX IF NOT EXISTS %s ON collection_risk_alert"
                    " (%s) WHERE %s IS NOT NULL",
                    SQL.identifier(f"collection_risk_alert_{column}_unique"),
                    SQL.identifier(column),
                    SQL.identifier(column),
                )
            )
        # Each amount due is announced likely late once.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS collection_risk_alert_line_unique
                   ON collection_risk_alert_move_line_rel (move_line_id)"""
        )

    # ------------------------------------------------------------------
    # Raising
    # ------------------------------------------------------------------

    @api.model
    def _raise_alerts(self, company, today):
        """Find, in a few statements for all customers of ``company``, what
        changed since the last run, log it and tell the collectors; then
        remember each customer's band and trend for the next run. The first
        run only remembers. Returns the alerts created."""
        self = self.sudo()  # noqa: PLW0642
        company = company.sudo()
        if not company.collection_alert_enabled:
            return self.browse()
        self.env.flush_all()
        if not company.collection_alert_since:
            # The first run: what is already so is not news.
            self._remember(company)
            # The transaction's time, as the lines' create_date.
            company.collection_alert_since = self.env.cr.now()
            return self.browse()
        found = self._alert_bands(company) + self._alert_broken(company, today)
        lines = self._alert_lines(company, today)
        self._remember(company)
        if not (found or lines):
            return self.browse()
        values = [dict(row) for row in found]
        for partner_id, line_ids in lines.items():
            values.append(
                {
                    "partner_id": partner_id,
                    "reason": "line",
                    "move_line_ids": [fields.Command.set(line_ids)],
                }
            )
        for vals in values:
            vals["company_id"] = company.id
        alerts = self.create(values)
        alerts._tell_collectors(company)
        return alerts

    def _alert_bands(self, company):
        """Customers owing something whose band worsened, or whose lateness
        trend turned, since the last run."""
        key = str(company.id)

        def rank(band):
            return SQL(
                "CASE %s WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3"
                " WHEN 'critical' THEN 4 END",
                band,
            )

        band = SQL("p.collection_risk_band->>%s", key)
        seen = SQL("p.collection_alert_band->>%s", key)
        self.env.cr.execute(
            SQL(
                """
                -- The customers owing something, read once: right after a run
                -- PostgreSQL's statistics still say few customers have a band,
                -- and with the ledger as a subquery it planned to read the
                -- ledger once per customer (over 10 minutes on 1,000,000
                -- invoices).
                WITH owing AS MATERIALIZED (
                    SELECT DISTINCT m.commercial_partner_id AS id
                      FROM account_move_line l
                      JOIN account_move m ON m.id = l.move_id
                     WHERE l.company_id = %(company)s AND %(open)s
                )
                SELECT p.id, %(band)s, %(seen)s,
                       %(trend)s >= %(turn)s
                       AND NOT COALESCE((p.collection_alert_trend->>%(key)s)::bool,
                                        TRUE)
                  FROM owing
                  JOIN res_partner p ON p.id = owing.id
                 WHERE p.collection_risk_band ? %(key)s
                   AND ((%(new_rank)s) > (%(old_rank)s)
                        OR (%(trend)s >= %(turn)s
                            AND NOT COALESCE(
                                (p.collection_alert_trend->>%(key)s)::bool, TRUE)))
                """,
                band=band,
                seen=seen,
                trend=self._trend_sql(key),
                turn=TREND_TURN,
                key=key,
                company=company.id,
                open=self.env["account.move.line"]._collection_open_sql(owed_only=True),
                new_rank=rank(band),
                old_rank=rank(seen),
            )
        )
        found = []
        for partner_id, band, seen, turned in self.env.cr.fetchall():
            if seen and band and self._rank(band) > self._rank(seen):
                found.append(
                    {
                        "partner_id": partner_id,
                        "reason": "band",
                        "previous_band": seen,
                        "band": band,
                    }
                )
            if turned:
                found.append(
                    {"partner_id": partner_id, "reason": "trend", "band": band}
                )
        return found

    @api.model
    def _trend_sql(self, key):
        """The customer's risk factor "trend" (recent late share minus its usual
        one) as the last run computed it."""
        return SQL(
            """COALESCE((SELECT (f->>'value')::float
                           FROM jsonb_array_elements(
                                COALESCE(p.collection_risk_factors->>%s, '[]')::jsonb
                           ) f
                          WHERE f->>'code' = 'trend'), 0)""",
            key,
        )

    @staticmethod
    def _rank(band):
        return [code for code, _label in RISK_BANDS].index(band)

    def _alert_broken(self, company, today):
        """Promises and plans broken lately, not yet told."""
        since = fields.Date.subtract(today, days=BROKEN_NEWS_DAYS)
        self.env.cr.execute(
            SQL(
                """
                SELECT pr.partner_id, pr.id, NULL
                  FROM collection_promise pr
                 WHERE pr.company_id = %(company)s AND pr.state = 'broken'
                   AND pr.closed_date >= %(since)s
                   AND NOT EXISTS (SELECT 1 FROM collection_risk_alert a
                                    WHERE a.promise_id = pr.id)
                UNION ALL
                SELECT pl.partner_id, NULL, pl.id
                  FROM collection_payment_plan pl
                 WHERE pl.company_id = %(company)s AND pl.state = 'broken'
                   AND pl.closed_date >= %(since)s
                   AND NOT EXISTS (SELECT 1 FROM collection_risk_alert a
                                    WHERE a.plan_id = pl.id)
                """,
                company=company.id,
                since=since,
            )
        )
        return [
            {
                "partner_id": partner_id,
                "reason": "broken",
                "promise_id": promise_id,
                "plan_id": plan_id,
            }
            for partner_id, promise_id, plan_id in self.env.cr.fetchall()
        ]

    def _alert_lines(self, company, today):
        """``{customer: [line]}``: open amounts not yet due whose late
        probability reached the company's threshold, not yet told."""
        self.env.cr.execute(
            SQL(
                """
                SELECT m.commercial_partner_id, ARRAY_AGG(l.id ORDER BY l.id)
                  FROM account_move_line l
                  JOIN account_move m ON m.id = l.move_id
                  JOIN collection_line_prediction lp ON lp.move_line_id = l.id
                 WHERE l.company_id = %(company)s AND %(open)s
                   AND l.date_maturity >= %(today)s
                   AND lp.late_probability >= %(threshold)s
                   -- invoiced since the warnings began: older amounts were
                   -- already there, not news
                   AND l.create_date > %(since)s
                   AND m.collection_followup_hold IS NULL
                   AND NOT EXISTS (
                        SELECT 1 FROM collection_risk_alert_move_line_rel r
                         WHERE r.move_line_id = l.id)
                 GROUP BY m.commercial_partner_id
                """,
                company=company.id,
                open=self.env["account.move.line"]._collection_open_sql(owed_only=True),
                today=today,
                threshold=company.collection_alert_probability,
                since=company.collection_alert_since,
            )
        )
        return dict(self.env.cr.fetchall())

    def _remember(self, company):
        """Keep each customer's band and trend turn as this run left them: the
        next run compares with them."""
        key = str(company.id)
        trend = self._trend_sql(key)
        self.env["res.partner"].flush_model(
            ["collection_alert_band", "collection_alert_trend"]
        )
        self.env.cr.execute(
            SQL(
                """
                UPDATE res_partner p
                   SET collection_alert_band =
                           COALESCE(p.collection_alert_band, '{}'::jsonb)
                           || jsonb_build_object(
                                  %(key)s, p.collection_risk_band->>%(key)s),
                       collection_alert_trend =
                           COALESCE(p.collection_alert_trend, '{}'::jsonb)
                           || jsonb_build_object(%(key)s, %(trend)s >= %(turn)s)
                 WHERE p.collection_risk_band ? %(key)s
                   AND (p.collection_alert_band->>%(key)s
                            IS DISTINCT FROM p.collection_risk_band->>%(key)s
                        OR (p.collection_alert_trend->>%(key)s)::bool
                            IS DISTINCT FROM (%(trend)s >= %(turn)s))
                """,
                key=key,
                trend=trend,
                turn=TREND_TURN,
            )
        )
        self.env["res.partner"].invalidate_model(
            ["collection_alert_band", "collection_alert_trend"]
        )

    # ------------------------------------------------------------------
    # Telling the collectors
    # ------------------------------------------------------------------

    def _tell_collectors(self, company):
        """One activity per customer on its open case (opened as *Upcoming*
        when it has none), in the collector's language, saying what changed;
        a customer that already has an open alert gets the news added to it."""
        Case = self.env["collection.case"]
        activity_type = self.env.ref(
            "collections_proactive.mail_activity_type_risk_alert"
        )
        by_partner = self.grouped("partner_id")
        open_cases, opened = Case._open_for_alerts(self.partner_id, company)
        cases = {case.partner_id: case for case in open_cases}
        open_activities = {
            activity.res_id: activity
            for activity in self.env["mail.activity"].search(
                [
                    ("res_model", "=", "collection.case"),
                    ("res_id", "in", [case.id for case in cases.values()]),
                    ("activity_type_id", "=", activity_type.id),
                ]
            )
        }
        to_create = []
        for partner, alerts in by_partner.items():
            case = cases.get(partner, Case)
            user = case.user_id or company._collection_staff_user(partner)
            env = self.with_context(lang=(user or company.partner_id).lang).env
            lines = [alert.with_env(env)._sentence() for alert in alerts]
            alerts.write(
                {
                    "case_id": case.id,
                    "activity_user_id": user.id,
                    "summary": lines[0],
                }
            )
            if not case:
                continue
            note = Markup("<ul>%s</ul>") % Markup().join(
                Markup("<li>%s</li>") % line for line in lines
            )
            activity = open_activities.get(case.id)
            if activity:
                activity.note = (activity.note or Markup()) + note
                continue
            to_create.append(
                {
                    "res_model_id": self.env["ir.model"]._get_id("collection.case"),
                    "res_id": case.id,
                    "activity_type_id": activity_type.id,
                    "summary": env._("Risk alert: %(customer)s", customer=partner.name),
                    "note": note,
                    "user_id": user.id or self.env.uid,
                    "date_deadline": fields.Date.context_today(self),
                }
            )
        if to_create:
            self.env["mail.activity"].with_context(
                mail_activity_quick_update=True
            ).create(to_create)
        if opened:
            # Their figures and next step, as any case has them.
            Case._sync_cases(company, opened.partner_id)

    def _sentence(self):
        """What changed, in words, in the environment's language."""
        self.ensure_one()
        bands = dict(self._fields["band"]._description_selection(self.env))
        if self.reason == "band":
            return self.env._(
                "Risk band worsened from %(before)s to %(after)s.",
                before=bands.get(self.previous_band),
                after=bands.get(self.band),
            )
        if self.reason == "trend":
            return self.env._(
                "Paying later lately than usual: the recent invoices were paid late "
                "more often than its history."
            )
        if self.reason == "broken":
            if self.promise_id:
                return self.env._(
                    "Promise to pay of %(amount)s for %(date)s broken.",
                    amount=self.promise_id.currency_id.format(self.promise_id.amount),
                    date=format_date(self.env, self.promise_id.promised_date),
                )
            return self.env._(
                "Payment plan %(plan)s broken.", plan=self.plan_id.display_name
            )
        amounts = defaultdict(float)
        for line in self.move_line_ids:
            amounts[line.date_maturity] += line.amount_residual
        first = min(amounts)
        return self.env._(
            "%(amount)s due on %(date)s is likely to be paid late (%(probability)s%%): "
            "a word before the due date, or a plan, can prevent it.",
            amount=self.company_id.currency_id.format(sum(amounts.values())),
            date=format_date(self.env, first),
            probability=round(
                max(self.move_line_ids.mapped("collection_late_probability")) * 100
            ),
        )
