from ast import literal_eval

from odoo import api, fields, models
from odoo.tools import SQL, format_date

BUCKETS = [
    ("0_not_due", "Not Yet Due"),
    ("1_30", "1-30 Days"),
    ("31_60", "31-60 Days"),
    ("61_90", "61-90 Days"),
    ("91_plus", "Over 90 Days"),
]

# The context key holding the date the aged balance is computed as of.
AGING_DATE_KEY = "collection_aging_date"


class CollectionAgingReport(models.Model):
    """Aged receivables: one row per receivable journal item open at a date.

    A row is a line of a posted entry on a receivable account dated on or before
    the date, with what was left of it at that date: its balance less what was
    reconciled with it by then (partial reconciliations whose ``max_date``, the
    later of both lines' dates, is on or before it), the way Odoo's own aged
    partner balance does it. Each line ages on its own due date, so an invoice
    paid in installments shows in as many buckets as it has installments; credit
    notes and unreconciled payments are negative and offset what is owed.

    The date is read from the context (``collection_aging_date``, today if
    absent): the table is a query computed for it, nothing is stored. Amounts
    are in the company's currency; the customer is the commercial partner and
    the collector the one set on it for the line's company.
    """

    _name = "collection.aging.report"
    _description = "Aged Receivables"
    _auto = False
    _order = "date_maturity, id"
    _rec_name = "move_id"
    _depends = {
        "account.move.line": [
            "account_id",
            "balance",
            "company_currency_id",
            "company_id",
            "date",
            "date_maturity",
            "move_id",
            "parent_state",
            "partner_id",
            "reconciled",
        ],
        "account.partial.reconcile": [
            "amount",
            "credit_move_id",
            "debit_move_id",
            "max_date",
        ],
        "account.account": ["account_type"],
        "res.partner": ["commercial_partner_id", "collection_user_id"],
    }

    move_line_id = fields.Many2one(
        "account.move.line", string="Journal Item", readonly=True
    )
    move_id = fields.Many2one("account.move", string="Document", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    user_id = fields.Many2one("res.users", string="Collector", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    account_id = fields.Many2one("account.account", readonly=True)
    date = fields.Date(readonly=True)
    date_maturity = fields.Date(string="Due Date", readonly=True)
    days_overdue = fields.Integer(readonly=True, aggregator="max")
    bucket = fields.Selection(BUCKETS, string="Age", readonly=True, group_expand=True)
    amount_residual = fields.Monetary(string="Amount Due", readonly=True)
    amount_overdue = fields.Monetary(string="Overdue", readonly=True)
    amount_not_due = fields.Monetary(string="Not Yet Due", readonly=True)
    amount_1_30 = fields.Monetary(string="1-30 Days", readonly=True)
    amount_31_60 = fields.Monetary(string="31-60 Days", readonly=True)
    amount_61_90 = fields.Monetary(string="61-90 Days", readonly=True)
    amount_91 = fields.Monetary(string="Over 90 Days", readonly=True)

    @api.model
    def _aging_date(self):
        """The date the rows are computed as of: the context's, or today."""
        return fields.Date.to_date(
            self.env.context.get(AGING_DATE_KEY)
        ) or fields.Date.context_today(self)

    @property
    def _table_query(self):
        as_of = self._aging_date()
        return SQL(
            """
SELECT l.id, l.id AS move_line_id, l.move_id, l.account_id, l.company_id,
       l.company_currency_id AS currency_id, l.date,
       COALESCE(p.commercial_partner_id, l.partner_id) AS partner_id,
       (cp.collection_user_id ->> l.company_id::text)::int AS user_id,
       o.due AS date_maturity, GREATEST(o.days, 0) AS days_overdue,
       CASE WHEN o.days <= 0 THEN '0_not_due'
            WHEN o.days <= 30 THEN '1_30'
            WHEN o.days <= 60 THEN '31_60'
            WHEN o.days <= 90 THEN '61_90'
            ELSE '91_plus' END AS bucket,
       o.residual AS amount_residual,
       CASE WHEN o.days > 0 THEN o.residual ELSE 0 END AS amount_overdue,
       CASE WHEN o.days <= 0 THEN o.residual ELSE 0 END AS amount_not_due,
       CASE WHEN o.days BETWEEN 1 AND 30 THEN o.residual ELSE 0 END AS amount_1_30,
       CASE WHEN o.days BETWEEN 31 AND 60 THEN o.residual ELSE 0 END
           AS amount_31_60,
       CASE WHEN o.days BETWEEN 61 AND 90 THEN o.residual ELSE 0 END
           AS amount_61_90,
       CASE WHEN o.days > 90 THEN o.residual ELSE 0 END AS amount_91
  FROM account_move_line l
  JOIN account_account a
    ON a.id = l.account_id AND a.account_type = 'asset_receivable'
  LEFT JOIN res_partner p ON p.id = l.partner_id
  LEFT JOIN res_partner cp ON cp.id = p.commercial_partner_id
 CROSS JOIN LATERAL (
       SELECT COALESCE(l.date_maturity, l.date) AS due,
              %(as_of)s::date - COALESCE(l.date_maturity, l.date) AS days,
              l.balance
              - COALESCE((SELECT SUM(apr.amount)
                            FROM account_partial_reconcile apr
                           WHERE apr.debit_move_id = l.id
                             AND apr.max_date <= %(as_of)s), 0)
              + COALESCE((SELECT SUM(apr.amount)
                            FROM account_partial_reconcile apr
                           WHERE apr.credit_move_id = l.id
                             AND apr.max_date <= %(as_of)s), 0) AS residual
       ) o
 WHERE l.parent_state = 'posted'
   AND l.date <= %(as_of)s
   -- reconciled today and by then: nothing was left of it at the date
   AND (NOT l.reconciled
        OR EXISTS (SELECT 1 FROM account_partial_reconcile apr
                    WHERE apr.debit_move_id = l.id AND apr.max_date > %(as_of)s)
        OR EXISTS (SELECT 1 FROM account_partial_reconcile apr
                    WHERE apr.credit_move_id = l.id AND apr.max_date > %(as_of)s))
   AND o.residual != 0
            """,
            as_of=as_of,
        )

    @api.model
    def _action_as_of(self, as_of, context=None):
        """The aged balance as of ``as_of``, titled with the date; ``context``
        adds to the action's (search defaults)."""
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.collection_aging_report_action"
        )
        action["name"] = action["display_name"] = self.env._(
            "Aged Receivables as of %(date)s", date=format_date(self.env, as_of)
        )
        action["context"] = {
            **literal_eval(action.get("context") or "{}"),
            **(context or {}),
            AGING_DATE_KEY: fields.Date.to_string(as_of),
        }
        return action

    def action_open_document(self):
        """Open the entry of the item: the invoice, credit note or payment."""
        self.ensure_one()
        # The item may no longer be open today: reach it by its journal item.
        move = self.env["account.move.line"].browse(self.id).move_id
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": move.id,
            "views": [(False, "form")],
            "target": "current",
        }
