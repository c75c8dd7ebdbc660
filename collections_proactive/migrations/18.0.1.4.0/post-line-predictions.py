from odoo.tools import SQL
from odoo.tools.sql import column_exists

COLUMNS = {
    "collection_late_probability": "late_probability",
    "collection_predicted_payment_date": "predicted_date",
    "collection_predicted_date_low": "date_low",
    "collection_predicted_date_high": "date_high",
}


def migrate(cr, version):
    """The receivable lines' predictions moved from columns of
    ``account_move_line`` to ``collection_line_prediction``: copy what the last
    scoring run wrote, then drop the old columns (nothing reads them any more, and
    left there they would keep their values on every line, stale)."""
    if not column_exists(cr, "account_move_line", "collection_late_probability"):
        return
    cr.execute(
        SQL(
            """INSERT INTO collection_line_prediction (move_line_id, %(new)s)
               SELECT id, %(old)s
                 FROM account_move_line
                WHERE collection_late_probability IS NOT NULL
                   OR collection_predicted_payment_date IS NOT NULL
               ON CONFLICT (move_line_id) DO NOTHING""",
            new=SQL(", ").join(map(SQL.identifier, COLUMNS.values())),
            old=SQL(", ").join(map(SQL.identifier, COLUMNS)),
        )
    )
    for column in COLUMNS:
        cr.execute(
            SQL(
                "ALTER TABLE account_move_line DROP COLUMN IF EXISTS %s",
                SQL.identifier(column),
            )
        )
