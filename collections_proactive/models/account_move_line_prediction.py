from babel.dates import format_interval

from odoo import api, fields, models
from odoo.tools import SQL, format_date
from odoo.tools.misc import babel_locale_parse

# Receivable lines written per UPDATE statement.
WRITE_PAGE = 5000


def expected_text(env, low, high):
    """ "expected 12-19 March", in the reader's language and date conventions."""
    if not low or not high:
        return False
    if low == high:
        dates = format_date(env, low, date_format="d MMMM")
    else:
        locale = babel_locale_parse(env.lang or "en_US")
        skeleton = "MMMMd" if low.year == high.year else "yMMMMd"
        dates = format_interval(low, high, skeleton, locale=locale)
    return env._("expected %(dates)s", dates=dates)


class AccountMoveLine(models.Model):
    """Per receivable line (one due date of an invoice): how likely it is to be
    paid after its own due date, and when it is expected to be paid, with the
    10th-90th percentile interval. Written in bulk by ``collection.risk.scoring``
    for the open lines of customer invoices."""

    _inherit = "account.move.line"

    collection_late_probability = fields.Float(
        string="Late Payment Probability",
        readonly=True,
        copy=False,
        aggregator="avg",
        help="How likely this due date is to be paid after it; never certain "
        "before the due date.",
    )
    collection_predicted_payment_date = fields.Date(
        string="Expected Payment Date",
        readonly=True,
        copy=False,
        help="The most likely payment date of this due date, from the customer's "
        "recent payments (its delays, the weekday and the company's holidays).",
    )
    collection_predicted_date_low = fields.Date(
        string="Expected From",
        readonly=True,
        copy=False,
        help="Paid before this date in only one case out of ten.",
    )
    collection_predicted_date_high = fields.Date(
        string="Expected By",
        readonly=True,
        copy=False,
        help="Paid by this date in nine cases out of ten.",
    )
    collection_expected_text = fields.Char(
        string="Expected Payment",
        compute="_compute_collection_expected_text",
        help="When this due date is expected to be paid: from the date paid "
        "before in one case out of ten to the date paid by in nine out of ten.",
    )

    @api.depends_context("lang")
    @api.depends("collection_predicted_date_low", "collection_predicted_date_high")
    def _compute_collection_expected_text(self):
        for line in self:
            line.collection_expected_text = expected_text(
                self.env,
                line.collection_predicted_date_low,
                line.collection_predicted_date_high,
            )

    @api.model
    def _collection_prediction_lines(self, move_ids):
        """``[(line id, move id, due date)]``: the open receivable lines of these
        customer invoices, the ones the scoring predicts, in one query."""
        if not move_ids:
            return []
        self.env.cr.execute(
            SQL(
                """SELECT l.id, l.move_id, l.date_maturity
                     FROM account_move_line l
                     JOIN account_move m ON m.id = l.move_id
                    WHERE l.move_id = ANY(%(moves)s) AND %(open)s
                 ORDER BY l.id""",
                moves=list(move_ids),
                open=self._collection_open_sql("l", "m", owed_only=True),
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _collection_write_predictions(self, rows):
        """Bulk-write ``(line id, probability, date, low, high)`` rows; unchanged
        lines are not rewritten."""
        fnames = [
            "collection_late_probability",
            "collection_predicted_payment_date",
            "collection_predicted_date_low",
            "collection_predicted_date_high",
        ]
        self.flush_model(fnames)
        for page in range(0, len(rows), WRITE_PAGE):
            values = SQL(", ").join(
                SQL("(%s::int, %s::float, %s::date, %s::date, %s::date)", *row)
                for row in rows[page : page + WRITE_PAGE]
            )
            self.env.cr.execute(
                SQL(
                    """UPDATE account_move_line l
                          SET collection_late_probability = v.p,
                              collection_predicted_payment_date = v.predicted,
                              collection_predicted_date_low = v.low,
                              collection_predicted_date_high = v.high
                         FROM (VALUES %s) AS v(id, p, predicted, low, high)
                        WHERE l.id = v.id
                          AND (l.collection_late_probability IS DISTINCT FROM v.p
                               OR l.collection_predicted_payment_date
                                  IS DISTINCT FROM v.predicted
                               OR l.collection_predicted_date_low
                                  IS DISTINCT FROM v.low
                               OR l.collection_predicted_date_high
                                  IS DISTINCT FROM v.high)""",
                    values,
                )
            )
        self.invalidate_model(fnames)
        return len(rows)
