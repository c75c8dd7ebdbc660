from odoo.tools import SQL


def migrate(cr, version):
    """Promises and payment plans cover receivable lines (``move_line_ids``),
    no longer whole invoices. A record made before covered every due date of
    its invoices: it is given all their receivable lines, paid ones included,
    so that what was paid on it since it was made (kept, broken, the
    installments' allocation) reads the same as before the update."""
    if not version:
        return
    for rel, owner, line_rel in (
        (
            "collection_promise_move_rel",
            "promise_id",
            "collection_promise_move_line_rel",
        ),
        ("collection_plan_move_rel", "plan_id", "collection_plan_move_line_rel"),
    ):
        cr.execute(
            SQL(
                """
                INSERT INTO %(line_rel)s (%(owner)s, move_line_id)
                SELECT rel.%(owner)s, l.id
                  FROM %(rel)s rel
                  JOIN account_move_line l
                    ON l.move_id = rel.move_id AND l.display_type = 'payment_term'
                ON CONFLICT DO NOTHING
                """,
                line_rel=SQL.identifier(line_rel),
                owner=SQL.identifier(owner),
                rel=SQL.identifier(rel),
            )
        )
