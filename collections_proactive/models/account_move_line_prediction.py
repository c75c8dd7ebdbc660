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
    for the open lines of customer invoices, into ``collection.line.prediction``
    (a narrow table: see there why); these fields read and write it."""

    _inherit = "account.move.line"

    collection_late_probability = fields.Float(
        string="Late Payment Probability",
        compute="_compute_collection_prediction",
        inverse="_inverse_collection_prediction",
        readonly=True,
        help="How likely this due date is to be paid after it; never certain "
        "before the due date.",
    )
    collection_predicted_payment_date = fields.Date(
        string="Expected Payment Date",
        compute="_compute_collection_prediction",
        inverse="_inverse_collection_prediction",
        readonly=True,
        help="The most likely payment date of this due date, from the customer's "
        "recent payments (its delays, the weekday and the company's holidays).",
    )
    collection_predicted_date_low = fields.Date(
        string="Expected From",
        compute="_compute_collection_prediction",
        inverse="_inverse_collection_prediction",
        readonly=True,
        help="Paid before this date in only one case out of ten.",
    )
    collection_predicted_date_high = fields.Date(
        string="Expected By",
        compute="_compute_collection_prediction",
        inverse="_inverse_collection_prediction",
        readonly=True,
        help="Paid by this date in nine cases out of ten.",
    )
    collection_expected_text = fields.Char(
        string="Expected Payment",
        compute="_compute_collection_expected_text",
        help="When this due date is expected to be paid: from the date paid "
        "before in one case out of ten to the date paid by in nine out of ten.",
    )

    @api.depends("reconciled", "amount_residual")
    def _compute_collection_prediction(self):
        ids = [line_id for line_id in self.ids if line_id]
        stored = {}
        if ids:
            self.env["collection.line.prediction"].flush_model()
            self.env.cr.execute(
                SQL(
                    """SELECT move_line_id, late_probability, predicted_date,
                              date_low, date_high
                         FROM collection_line_prediction
                        WHERE move_line_id = ANY(%s)""",
                    ids,
                )
            )
            stored = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for line in self:
            # A due date paid since the last run keeps its row until the next:
            # nothing is expected of it any more.
            settled = line.reconciled or not line.amount_residual
            p, day, low, high = (
                not settled and stored.get(line.id) or (0.0, False, False, False)
            )
            line.collection_late_probability = p or 0.0
            line.collection_predicted_payment_date = day or False
            line.collection_predicted_date_low = low or False
            line.collection_predicted_date_high = high or False

    def _inverse_collection_prediction(self):
        self._collection_write_predictions(
            [
                (
                    line.id,
                    line.collection_late_probability,
                    line.collection_predicted_payment_date or None,
                    line.collection_predicted_date_low or None,
                    line.collection_predicted_date_high or None,
                )
                for line in self
            ]
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
        """Bulk-write ``(line id, probability, date, low, high)`` rows into the
        lines' predictions; unchanged ones are not rewritten."""
        predictions = self.env["collection.line.prediction"]
        predictions.flush_model()
        for page in range(0, len(rows), WRITE_PAGE):
            values = SQL(", ").join(
                SQL("(%s::int, %s::float, %s::date, %s::date, %s::date)", *row)
                for row in rows[page : page + WRITE_PAGE]
            )
            self.env.cr.execute(
                SQL(
                    """INSERT INTO collection_line_prediction AS c
                              (move_line_id, late_probability, predicted_date,
                               date_low, date_high)
                       VALUES %s
                       ON CONFLICT (move_line_id) DO UPDATE
                          SET late_probability = EXCLUDED.late_probability,
                              predicted_date = EXCLUDED.predicted_date,
                              date_low = EXCLUDED.date_low,
                              date_high = EXCLUDED.date_high
                        WHERE (c.late_probability, c.predicted_date, c.date_low,
                               c.date_high)
                              IS DISTINCT FROM
                              (EXCLUDED.late_probability, EXCLUDED.predicted_date,
                               EXCLUDED.date_low, EXCLUDED.date_high)""",
                    values,
                )
            )
        predictions.invalidate_model()
        self.invalidate_model(
            [
                "collection_late_probability",
                "collection_predicted_payment_date",
                "collection_predicted_date_low",
                "collection_predicted_date_high",
            ]
        )
        return len(rows)
