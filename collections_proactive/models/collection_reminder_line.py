from odoo import fields, models

from .collection_reminder import CHANNELS


class CollectionReminderLine(models.Model):
    """One amount due in a reminder: a receivable line of an invoice, with its
    own due date (an invoice with three due dates has three). Its unique key is
    what makes a reminder exactly once: a receivable line can never get the
    same step on the same planned channel twice, whatever races or crashes
    happen (the database refuses the second row)."""

    _name = "collection.reminder.line"
    _description = "Collection Reminder Amount Due"
    # The order the planner inserts them in: by invoice within a reminder.
    _order = "id"

    reminder_id = fields.Many2one(
        "collection.reminder", required=True, ondelete="cascade", index=True
    )
    move_id = fields.Many2one(
        "account.move", string="Invoice", required=True, ondelete="cascade", index=True
    )
    move_line_id = fields.Many2one(
        "account.move.line",
        string="Receivable Line",
        ondelete="cascade",
        index=True,
        help="The invoice's amount due on one date that this reminder speaks of.",
    )
    date_maturity = fields.Date(string="Due Date", related="move_line_id.date_maturity")
    company_id = fields.Many2one(related="reminder_id.company_id", store=True)
    step_id = fields.Many2one(
        "collection.strategy.step", required=True, ondelete="restrict"
    )
    channel = fields.Selection(
        CHANNELS,
        string="Planned Channel",
        required=True,
        help="The channel the step planned, kept when the reminder goes out on a "
        "fallback channel: it is part of the exactly-once key.",
    )
    amount_residual = fields.Monetary(
        string="Amount Due", currency_field="currency_id", readonly=True
    )
    currency_id = fields.Many2one(related="move_id.company_currency_id")

    _sql_constraints = [
        (
            "move_line_step_channel_unique",
            "UNIQUE(move_line_id, step_id, channel)",
            "An amount due gets each step on each channel once.",
        ),
    ]

    def init(self):
        # Before the receivable line was the unit, the key was the invoice's and
        # its date the last due date: each reminder of the history is the one of
        # the invoice's last receivable line, so that a step reached on it is not
        # sent again, and the earlier due dates still get theirs. A row whose key
        # another row holds already stays as history, without a line.
        self.env.cr.execute(
            """WITH target AS (
                   SELECT rl.id, rl.step_id, rl.channel,
                          (SELECT l.id FROM account_move_line l
                            WHERE l.move_id = rl.move_id
                              AND l.display_type = 'payment_term'
                            ORDER BY l.date_maturity DESC, l.id DESC
                            LIMIT 1) AS line_id
                     FROM collection_reminder_line rl
                    WHERE rl.move_line_id IS NULL
               ),
               ranked AS (
                   SELECT t.*, ROW_NUMBER() OVER (
                              PARTITION BY t.line_id, t.step_id, t.channel
                              ORDER BY t.id) AS rank
                     FROM target t
                    WHERE t.line_id IS NOT NULL
               )
               UPDATE collection_reminder_line rl
                  SET move_line_id = r.line_id
                 FROM ranked r
                WHERE rl.id = r.id AND r.rank = 1
                  AND NOT EXISTS (
                      SELECT 1 FROM collection_reminder_line x
                       WHERE x.move_line_id = r.line_id
                         AND x.step_id = r.step_id AND x.channel = r.channel);
               ALTER TABLE collection_reminder_line
                     DROP CONSTRAINT IF EXISTS
                     collection_reminder_line_move_step_channel_unique"""
        )
