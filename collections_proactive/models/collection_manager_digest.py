import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL, format_date

_logger = logging.getLogger(__name__)

# How far ahead the digest looks at what falls due.
AHEAD_DAYS = 30
# Late-probability buckets of what falls due: (upper bound, key).
BUCKETS = ((0.3, "likely"), (0.6, "uncertain"), (1.01, "late"))


class CollectionManagerDigest(models.Model):
    """The weekly digest of a collections manager: one row per manager,
    company and week, written in the transaction that queues the email, so a
    crash or a second run never sends it twice (the unique key)."""

    _name = "collection.manager.digest"
    _description = "Collections Manager Weekly Digest"
    _order = "week desc, id desc"

    user_id = fields.Many2one("res.users", required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    week = fields.Date(required=True, readonly=True, help="The week's Monday.")
    mail_id = fields.Many2one("mail.mail", readonly=True, ondelete="set null")

    _sql_constraints = [
        (
            "user_company_week_unique",
            "UNIQUE(user_id, company_id, week)",
            "A manager gets one digest a week per company.",
        ),
    ]

    @api.model
    def _cron_send_digest(self):
        """Scheduled action (weekly): queue the digest of each collections
        manager of each company that wants one, in the manager's language."""
        # A system job: it reads every collector's cases, whoever triggers it.
        self = self.sudo()  # noqa: PLW0642
        group = self.env.ref("collections_proactive.group_collections_manager")
        sent = self.browse()
        for company in (
            self.env["res.company"]
            .sudo()
            .search([("collection_digest_enabled", "=", True)])
        ):
            managers = group.sudo().users.filtered(
                lambda user, c=company: (
                    c in user.company_ids
                    and not user.share
                    and user.active
                    and user.email
                )
            ) - self.env.ref("base.user_root")
            if not managers:
                continue
            today = fields.Date.context_today(
                self.with_context(tz=company.partner_id.tz or "UTC")
            )
            week = today - timedelta(days=today.weekday())
            figures = self._figures(company, today)
            for manager in managers:
                sent |= self._send_to(manager, company, week, figures)
        return sent

    def _send_to(self, manager, company, week, figures):
        """Queue one manager's digest unless it is already queued this week."""
        self.env.cr.execute(
            SQL(
                """INSERT INTO collection_manager_digest
                       (user_id, company_id, week, create_uid, create_date,
                        write_uid, write_date)
                   VALUES (%(user)s, %(company)s, %(week)s, %(uid)s, NOW() AT TIME
                           ZONE 'UTC', %(uid)s, NOW() AT TIME ZONE 'UTC')
                   ON CONFLICT (user_id, company_id, week) DO NOTHING
                   RETURNING id""",
                user=manager.id,
                company=company.id,
                week=week,
                uid=self.env.uid,
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            return self.browse()
        digest = self.browse(row[0])
        env = self.with_context(lang=manager.lang or "en_US").env
        body = env["ir.qweb"]._render(
            "collections_proactive.manager_digest",
            {
                "company": company,
                "manager": manager,
                "week": format_date(env, week),
                "format_amount": lambda amount: company.currency_id.with_env(
                    env
                ).format(amount),
                "format_date": lambda day: format_date(env, day),
                **figures,
            },
        )
        mail = (
            self.env["mail.mail"]
            .sudo()
            .create(
                {
                    "subject": env._(
                        "%(company)s: collections this week",
                        company=company.name,
                    ),
                    "body_html": body,
                    "email_from": company.email_formatted
                    or self.env["ir.mail_server"]._get_default_from_address(),
                    "recipient_ids": [fields.Command.set(manager.partner_id.ids)],
                    "auto_delete": True,
                }
            )
        )
        digest.mail_id = mail
        return digest

    @api.model
    def _figures(self, company, today):
        """What the digest says, for every manager of ``company``, in a few
        queries: customers whose risk rose and broken commitments this week (the
        early warnings), what falls due in the next 30 days by late
        probability, expected cash-in against it, and each collector's load."""
        week_ago = today - timedelta(days=7)
        alerts = (
            self.env["collection.risk.alert"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("create_date", ">=", week_ago),
                ]
            )
        )
        risen = alerts.filtered(lambda a: a.reason in ("band", "trend"))
        broken = alerts.filtered(lambda a: a.reason == "broken")
        open_sql = self.env["account.move.line"]._collection_open_sql(owed_only=True)
        horizon = today + timedelta(days=AHEAD_DAYS)
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT CASE WHEN lp.late_probability < %(b1)s THEN 'likely'
                            WHEN lp.late_probability < %(b2)s
                            THEN 'uncertain' ELSE 'late' END,
                       COUNT(*), SUM(l.amount_residual)
                  FROM account_move_line l
                  JOIN account_move m ON m.id = l.move_id
                  LEFT JOIN collection_line_prediction lp ON lp.move_line_id = l.id
                 WHERE l.company_id = %(company)s AND %(open)s
                   AND l.date_maturity BETWEEN %(today)s AND %(horizon)s
                 GROUP BY 1
                """,
                b1=BUCKETS[0][0],
                b2=BUCKETS[1][0],
                company=company.id,
                open=open_sql,
                today=today,
                horizon=horizon,
            )
        )
        due = {key: (count, amount) for key, count, amount in self.env.cr.fetchall()}
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(l.amount_residual)
                                FILTER (WHERE l.date_maturity BETWEEN %(today)s
                                                              AND %(horizon)s), 0),
                       COALESCE(SUM(l.amount_residual)
                                FILTER (WHERE lp.predicted_date
                                              BETWEEN %(today)s AND %(horizon)s), 0),
                       COALESCE(SUM(l.amount_residual)
                                FILTER (WHERE l.date_maturity < %(today)s), 0)
                  FROM account_move_line l
                  JOIN account_move m ON m.id = l.move_id
                  LEFT JOIN collection_line_prediction lp ON lp.move_line_id = l.id
                 WHERE l.company_id = %(company)s AND %(open)s
                """,
                company=company.id,
                open=open_sql,
                today=today,
                horizon=horizon,
            )
        )
        due_total, expected, overdue = self.env.cr.fetchone()
        load = self.env["collection.case"]._read_group(
            [("company_id", "=", company.id), ("state", "=", "open")],
            ["user_id"],
            ["__count", "amount_overdue:sum"],
            order="amount_overdue:sum desc",
        )
        targets = (
            self.env["collection.target"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("month", "=", today.replace(day=1)),
                ]
            )
        )
        return {
            "targets": targets,
            "risen": risen,
            "broken": broken,
            "due": [(key, *due.get(key, (0, 0.0))) for _bound, key in BUCKETS],
            "due_total": due_total,
            "expected": expected,
            "overdue": overdue,
            "load": load,
            "ahead_days": AHEAD_DAYS,
            "horizon": horizon,
        }
