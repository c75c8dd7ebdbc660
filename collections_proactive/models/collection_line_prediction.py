from odoo import fields, models


class CollectionLinePrediction(models.Model):
    """The scoring run's prediction for one receivable line, in a narrow table of
    its own.

    The run rewrites the predictions of every open line each day. As columns of
    ``account_move_line`` (18 indexes) each rewritten line added an entry to every
    index; here a line is one short row and one index entry. The line's fields
    (``collection_late_probability`` and the expected dates on
    ``account.move.line``) read and write this table; SQL joins it on
    ``move_line_id``. Internal: written in bulk by ``collection.risk.scoring``,
    read through the line (whose access rules apply)."""

    _name = "collection.line.prediction"
    _description = "Receivable Line Prediction"
    _log_access = False
    _rec_name = "move_line_id"

    move_line_id = fields.Many2one(
        "account.move.line",
        string="Journal Item",
        required=True,
        readonly=True,
        ondelete="cascade",
    )
    late_probability = fields.Float(string="Late Payment Probability", readonly=True)
    predicted_date = fields.Date(string="Expected Payment Date", readonly=True)
    date_low = fields.Date(string="Expected From", readonly=True)
    date_high = fields.Date(string="Expected By", readonly=True)

    _sql_constraints = [
        (
            "move_line_unique",
            "UNIQUE(move_line_id)",
            "A receivable line has one prediction.",
        ),
    ]
