from odoo import fields, models
from odoo.tools import SQL

from ..models.res_partner import RISK_BANDS


class CollectionCashForecast(models.Model):
    """Cash-in forecast by week: one row per open receivable line and week, the
    amount due on the line times the chance it is paid that week.

    The chance comes from the line's expected payment dates (written by the risk
    scoring): paid before the *expected from* date one time in ten, before the
    *expected* date one time in two, before the *expected by* date nine times in
    ten. The distribution runs linearly between those dates (a tenth of the
    amount on each end), so every line's weekly amounts add up to what is due on
    it, all of it between its *expected from* and *expected by* weeks. A line not
    scored yet is expected on its due date. Amounts are in the company's
    currency.
    """

    _name = "collection.cash.forecast"
    _description = "Cash-in Forecast"
    _auto = False
    _order = "week, move_line_id"
    _rec_name = "move_id"
    _depends = {
        "account.move.line": [
            "account_id",
            "amount_residual",
            "company_currency_id",
            "company_id",
            "date_maturity",
            "move_id",
            "parent_state",
            "partner_id",
            "reconciled",
        ],
        "account.move": ["collection_risk_band", "move_type"],
        "collection.line.prediction": [
            "date_high",
            "date_low",
            "move_line_id",
            "predicted_date",
        ],
        "res.partner": ["commercial_partner_id"],
    }

    week = fields.Date(readonly=True, help="The Monday of the week.")
    move_line_id = fields.Many2one(
        "account.move.line", string="Journal Item", readonly=True
    )
    move_id = fields.Many2one("account.move", string="Invoice", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    risk_band = fields.Selection(RISK_BANDS, readonly=True)
    date_maturity = fields.Date(string="Due Date", readonly=True)
    date_low = fields.Date(string="Expected From", readonly=True)
    date_expected = fields.Date(string="Expected Payment Date", readonly=True)
    date_high = fields.Date(string="Expected By", readonly=True)
    probability = fields.Float(
        string="Chance Paid This Week", readonly=True, aggregator="avg"
    )
    amount = fields.Monetary(string="Expected Cash-in", readonly=True)

    @property
    def _table_query(self):
        # F(x): the share paid by the end of day x, piecewise linear through
        # (low, 0.1), (expected, 0.5), (high, 0.9), a tenth at each end.
        def cdf(day):
            return SQL(
                """CASE WHEN %(day)s < d.low THEN 0.0
                        WHEN %(day)s >= d.high THEN 1.0
                        ELSE 0.1
                             + 0.4 * LEAST(1.0, (%(day)s - d.low + 1)::float
                                                / GREATEST(d.mid - d.low + 1, 1))
                             + 0.4 * GREATEST(0.0, (%(day)s - d.mid)::float
                                                   / GREATEST(d.high - d.mid, 1))
                   END""",
                day=day,
            )

        return SQL(
            """
SELECT l.id::bigint * 1000 + w.n AS id, w.week, l.id AS move_line_id, l.move_id,
       COALESCE(p.commercial_partner_id, l.partner_id) AS partner_id,
       l.company_id, l.company_currency_id AS currency_id,
       m.collection_risk_band AS risk_band, l.date_maturity,
       d.low AS date_low, d.mid AS date_expected, d.high AS date_high,
       s.share AS probability, l.amount_residual * s.share AS amount
  FROM account_move_line l
  JOIN account_move m ON m.id = l.move_id
  LEFT JOIN res_partner p ON p.id = l.partner_id
  LEFT JOIN collection_line_prediction lp ON lp.move_line_id = l.id
 CROSS JOIN LATERAL (
       SELECT LEAST(x.low, x.mid) AS low, x.mid, GREATEST(x.high, x.mid) AS high
         FROM (SELECT COALESCE(lp.predicted_date,
                               l.date_maturity, l.date) AS mid,
                      COALESCE(lp.date_low, lp.predicted_date,
                               l.date_maturity, l.date) AS low,
                      COALESCE(lp.date_high, lp.predicted_date,
                               l.date_maturity, l.date) AS high) x
       ) d
 CROSS JOIN LATERAL (
       SELECT n, (DATE_TRUNC('week', d.low) + n * INTERVAL '7 days')::date AS week
         FROM GENERATE_SERIES(
                0, ((DATE_TRUNC('week', d.high)::date
                     - DATE_TRUNC('week', d.low)::date) / 7)::int) n
       ) w
 CROSS JOIN LATERAL (
       SELECT %(end)s - %(start)s AS share
       ) s
 WHERE %(open)s
            """,
            end=cdf(SQL("(w.week + 6)")),
            start=cdf(SQL("(w.week - 1)")),
            open=self.env["account.move.line"]._collection_open_sql(
                "l", "m", owed_only=True
            ),
        )
