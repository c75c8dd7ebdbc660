from odoo import fields, models, tools
from odoo.tools import SQL

# Ratios of sums, so that every line and total of a pivot is the KPI of what it
# groups (a sum or an average of monthly ratios would not be). ``{t}`` is the
# report's table in the query; ``_months`` and ``_days`` are the months and the
# days the group spans.
_MONTHS = "COUNT(DISTINCT {t}.date)"
_DAYS = "(MAX({t}.ref_date) - MIN({t}.date) + 1)"
RATIOS = {
    # DSO: average month-end receivables / invoiced in the period * days in it.
    "dso": f"SUM({{t}}.ar_end) / {_MONTHS} / NULLIF(SUM({{t}}.sales), 0) * {_DAYS}",
    # Best possible DSO: the same with the receivables not yet due.
    "best_dso": f"SUM({{t}}.ar_current) / {_MONTHS}"
    f" / NULLIF(SUM({{t}}.sales), 0) * {_DAYS}",
    # Average days delinquent: DSO - best possible DSO.
    "add": f"SUM({{t}}.ar_end - {{t}}.ar_current) / {_MONTHS}"
    f" / NULLIF(SUM({{t}}.sales), 0) * {_DAYS}",
    # CEI: collected / (collected + overdue at month end), i.e. (opening + invoiced
    # - closing) / (opening + invoiced - closing not yet due), added up by month.
    "cei": "100 * SUM({t}.collected)"
    " / NULLIF(SUM({t}.collected) + SUM({t}.ar_end - {t}.ar_current), 0)",
    "paid_by_due_rate": "100 * SUM({t}.paid_by_due) / NULLIF(SUM({t}.due_amount), 0)",
    "reminder_effectiveness": "100 * SUM({t}.reminded_paid)"
    " / NULLIF(SUM({t}.reminded), 0)",
    "promise_kept_rate": "100.0 * SUM({t}.promises_kept)"
    " / NULLIF(SUM({t}.promises_closed), 0)",
    "plan_adherence": "100.0 * SUM({t}.installments_paid)"
    " / NULLIF(SUM({t}.installments_due), 0)",
}


class CollectionKpiReport(models.Model):
    """Collection KPIs by company, collector (the customer's, today) and month,
    computed by PostgreSQL from the amounts due of the posted customer invoices
    (their receivable lines, each on its own due date) and their
    reconciliations, as they stood at each month's end (today for this month).

    Amounts are in the company's currency; a reconciliation with a credit note
    counts as collected, as it settles the receivable.
    """

    _name = "collection.kpi.report"
    _description = "Collection KPIs"
    _auto = False
    _order = "date desc, company_id, user_id"
    _rec_name = "date"

    date = fields.Date(string="Month", readonly=True)
    ref_date = fields.Date(
        string="As Of",
        readonly=True,
        help="The month's last day, or today for the current month.",
    )
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    user_id = fields.Many2one("res.users", string="Collector", readonly=True)
    sales = fields.Monetary(string="Invoiced", readonly=True)
    collected = fields.Monetary(readonly=True)
    ar_end = fields.Monetary(string="Receivables", readonly=True)
    ar_current = fields.Monetary(string="Not Yet Due", readonly=True)
    aged_1_30 = fields.Monetary(string="1-30 Days", readonly=True)
    aged_31_60 = fields.Monetary(string="31-60 Days", readonly=True)
    aged_61_90 = fields.Monetary(string="61-90 Days", readonly=True)
    aged_91 = fields.Monetary(string="Over 90 Days", readonly=True)
    due_amount = fields.Monetary(string="Fell Due", readonly=True)
    paid_by_due = fields.Monetary(string="Paid by Due Date", readonly=True)
    reminded = fields.Monetary(readonly=True)
    reminded_paid = fields.Monetary(string="Paid within 7 Days", readonly=True)
    promises_kept = fields.Integer(readonly=True)
    promises_closed = fields.Integer(
        string="Promises Due",
        readonly=True,
        help="Promises to pay whose date fell in the month, kept or broken.",
    )
    installments_paid = fields.Integer(
        string="Installments Paid on Time",
        readonly=True,
        help="Installments that fell due in the month and were paid by their date.",
    )
    installments_due = fields.Integer(
        string="Installments Fallen Due",
        readonly=True,
        help="Installments of accepted payment plans whose date fell in the month.",
    )
    interest_accrued = fields.Monetary(
        readonly=True,
        help="Late interest accrued on the amounts due, as of its last "
        "computation (today for what is still open), by that month.",
    )
    interest_invoiced = fields.Monetary(readonly=True)
    interest_waived = fields.Monetary(readonly=True)
    fee_accrued = fields.Monetary(
        string="Collection Fees Accrued",
        readonly=True,
        help="Collection fees owed by the amounts due that went late, as of "
        "their last computation, by that month.",
    )
    fee_invoiced = fields.Monetary(string="Collection Fees Invoiced", readonly=True)
    fee_waived = fields.Monetary(string="Collection Fees Waived", readonly=True)
    dso = fields.Float(
        string="DSO",
        readonly=True,
        digits=(16, 1),
        help="Days sales outstanding: average month-end receivables / invoiced in "
        "the period x days in the period.",
    )
    best_dso = fields.Float(
        string="Best Possible DSO",
        readonly=True,
        digits=(16, 1),
        help="The DSO of the receivables not yet due alone.",
    )
    add = fields.Float(
        string="Average Days Delinquent",
        readonly=True,
        digits=(16, 1),
        help="DSO minus best possible DSO.",
    )
    cei = fields.Float(
        string="CEI (%)",
        readonly=True,
        digits=(16, 1),
        help="Collection effectiveness index: collected / (collected + overdue at "
        "month end), which is (opening + invoiced - closing receivables) / "
        "(opening + invoiced - closing receivables not yet due); over several "
        "months, numerators and denominators are added up.",
    )
    paid_by_due_rate = fields.Float(
        string="Paid by Due Date (%)",
        readonly=True,
        digits=(16, 1),
        help="Share of the amount that fell due in the month that was paid on or "
        "before its due date.",
    )
    promise_kept_rate = fields.Float(
        string="Promise-Kept Rate (%)",
        readonly=True,
        digits=(16, 1),
        help="Share of the promises to pay due in the month that were kept.",
    )
    plan_adherence = fields.Float(
        string="Plan Adherence (%)",
        readonly=True,
        digits=(16, 1),
        help="Share of the installments of accepted payment plans that fell due "
        "in the month and were paid by their date.",
    )
    reminder_effectiveness = fields.Float(
        string="Reminder Effectiveness (%)",
        readonly=True,
        digits=(16, 1),
        help="Share of the amount reminded in the month (what was left to pay on "
        "the invoices listed in the reminders sent) paid within 7 days.",
    )

    def _read_group_select(self, aggregate_spec, query):
        fname = aggregate_spec.split(":")[0]
        if fname in RATIOS:
            # The field's own column is not what is aggregated, but reading it
            # makes the ORM check the access to it.
            self._field_to_sql(self._table, fname, query)
            return SQL(RATIOS[fname].format(t=f'"{self._table}"'))
        return super()._read_group_select(aggregate_spec, query)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        ratios = {
            name: SQL(expression.format(t="k")) for name, expression in RATIOS.items()
        }
        self.env.cr.execute(
            SQL(
                """
CREATE OR REPLACE VIEW collection_kpi_report AS
WITH inv AS (
    -- the unit is the amount due: each receivable line of an invoice, on its
    -- own due date (an invoice at 30/60/90 days has three)
    SELECT l.id, l.company_id, m.commercial_partner_id AS partner_id,
           m.invoice_date, l.date_maturity AS due,
           l.balance AS amount, l.amount_residual AS residual
      FROM account_move_line l
      JOIN account_move m ON m.id = l.move_id
     WHERE m.move_type = 'out_invoice' AND m.state = 'posted'
       AND l.display_type = 'payment_term'
       AND m.invoice_date <= CURRENT_DATE
),
pay AS (
    -- what settled each amount due, and when
    SELECT apr.debit_move_id AS line_id, apr.max_date AS date,
           SUM(apr.amount) AS amount
      FROM account_partial_reconcile apr
      JOIN inv ON inv.id = apr.debit_move_id
     WHERE apr.max_date <= CURRENT_DATE
     GROUP BY apr.debit_move_id, apr.max_date
),
settled AS (
    SELECT inv.*,
           CASE WHEN inv.residual = 0
                THEN COALESCE(last.date, inv.invoice_date) END AS settled_on
      FROM inv
      LEFT JOIN (SELECT line_id, MAX(date) AS date FROM pay GROUP BY line_id) last
        ON last.line_id = inv.id
),
snap AS (
    -- one row per amount due and month end it was open at
    SELECT s.id, s.company_id, s.partner_id, s.due, s.amount, mon::date AS month,
           LEAST((mon + INTERVAL '1 month' - INTERVAL '1 day')::date, CURRENT_DATE)
               AS ref
      FROM settled s
     CROSS JOIN LATERAL generate_series(
           date_trunc('month', s.invoice_date),
           date_trunc('month', LEAST(COALESCE(s.settled_on, CURRENT_DATE),
                                     CURRENT_DATE)),
           INTERVAL '1 month') mon
),
snap_open AS (
    SELECT s.company_id, s.partner_id, s.month, s.ref, s.due,
           s.amount - COALESCE(SUM(p.amount) FILTER (WHERE p.date <= s.ref), 0)
               AS open
      FROM snap s
      LEFT JOIN pay p ON p.line_id = s.id
     GROUP BY s.id, s.company_id, s.partner_id, s.month, s.ref, s.due, s.amount
),
paid AS (
    -- per amount due: paid by its due date
    SELECT inv.id, COALESCE(SUM(p.amount) FILTER (WHERE p.date <= inv.due), 0)
               AS by_due
      FROM inv
      LEFT JOIN pay p ON p.line_id = inv.id
     WHERE inv.due <= CURRENT_DATE
     GROUP BY inv.id
),
reminded AS (
    -- each amount due reminded once per step, whatever the channels, and what
    -- was paid on it in the 7 days after
    SELECT rm.company_id, rm.partner_id, rm.sent, rm.amount,
           LEAST(rm.amount, COALESCE(SUM(p.amount), 0)) AS paid
      FROM (SELECT r.company_id, r.partner_id,
                   -- history kept from before lines were the unit names only
                   -- the invoice: its first amount due
                   COALESCE(l.move_line_id, (
                       SELECT t.id FROM account_move_line t
                        WHERE t.move_id = l.move_id
                          AND t.display_type = 'payment_term'
                        ORDER BY t.date_maturity, t.id LIMIT 1)) AS move_line_id,
                   MIN(r.sent_date)::date AS sent, MAX(l.amount_residual) AS amount
              FROM collection_reminder r
              JOIN collection_reminder_line l ON l.reminder_id = r.id
             WHERE r.state = 'sent'
             GROUP BY r.company_id, r.partner_id, 3, r.step_id) rm
      LEFT JOIN pay p
        ON p.line_id = rm.move_line_id AND p.date BETWEEN rm.sent AND rm.sent + 7
     GROUP BY rm.company_id, rm.partner_id, rm.move_line_id, rm.sent, rm.amount
),
facts AS (
    SELECT company_id, partner_id, month, 0 AS sales, 0 AS collected,
           open AS ar_end,
           CASE WHEN due >= ref THEN open ELSE 0 END AS ar_current,
           CASE WHEN ref - due BETWEEN 1 AND 30 THEN open ELSE 0 END AS aged_1_30,
           CASE WHEN ref - due BETWEEN 31 AND 60 THEN open ELSE 0 END AS aged_31_60,
           CASE WHEN ref - due BETWEEN 61 AND 90 THEN open ELSE 0 END AS aged_61_90,
           CASE WHEN ref - due > 90 THEN open ELSE 0 END AS aged_91,
           0 AS due_amount, 0 AS paid_by_due, 0 AS reminded, 0 AS reminded_paid,
           0 AS promises_kept, 0 AS promises_closed,
           0 AS installments_paid, 0 AS installments_due,
           0 AS interest_accrued, 0 AS interest_invoiced, 0 AS interest_waived,
           0 AS fee_accrued, 0 AS fee_invoiced, 0 AS fee_waived
      FROM snap_open
     WHERE open > 0
    UNION ALL
    SELECT company_id, partner_id, date_trunc('month', invoice_date)::date, amount,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
      FROM inv
    UNION ALL
    SELECT inv.company_id, inv.partner_id, date_trunc('month', p.date)::date, 0,
           p.amount, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
      FROM pay p
      JOIN inv ON inv.id = p.line_id
    UNION ALL
    SELECT inv.company_id, inv.partner_id, date_trunc('month', inv.due)::date, 0, 0,
           0, 0, 0, 0, 0, 0, inv.amount, LEAST(inv.amount, paid.by_due),
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
      FROM inv
      JOIN paid ON paid.id = inv.id
    UNION ALL
    SELECT company_id, partner_id, date_trunc('month', sent)::date, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0, amount, paid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
      FROM reminded
    UNION ALL
    -- promises to pay, by the month of their promised date, once settled
    SELECT company_id, partner_id, date_trunc('month', promised_date)::date, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           CASE WHEN state = 'kept' THEN 1 ELSE 0 END, 1, 0, 0, 0, 0, 0, 0, 0, 0
      FROM collection_promise
     WHERE state IN ('kept', 'broken')
    UNION ALL
    -- installments of accepted plans, by the month they fell due; one is kept
    -- when what the plan's invoices received since the acceptance, dated by the
    -- installment's date, covers it and the ones before it (the order payments
    -- are allocated in): paid late is not kept
    SELECT pl.company_id, pl.partner_id, date_trunc('month', i.date)::date, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           CASE WHEN COALESCE(paid.amount, 0) >= i.cumulative THEN 1 ELSE 0 END, 1,
           0, 0, 0, 0, 0, 0
      FROM (SELECT plan_id, date,
                   SUM(amount) OVER (PARTITION BY plan_id
                                     ORDER BY date, sequence, id) AS cumulative
              FROM collection_payment_plan_installment) i
      JOIN collection_payment_plan pl ON pl.id = i.plan_id
      LEFT JOIN LATERAL (
          SELECT SUM(apr.amount) AS amount
            FROM account_move_line l
            JOIN account_partial_reconcile apr ON apr.debit_move_id = l.id
           WHERE l.display_type = 'payment_term'
             AND (l.move_id = pl.fee_invoice_id
                  OR l.move_id IN (SELECT rel.move_id
                                     FROM collection_plan_move_rel rel
                                    WHERE rel.plan_id = pl.id))
             AND apr.create_date >= pl.accepted_date
             AND apr.max_date <= i.date
      ) paid ON TRUE
     WHERE pl.state IN ('active', 'done', 'broken') AND i.date <= CURRENT_DATE
    UNION ALL
    -- late interest and collection fees accrued on each amount due, as of
    -- their last computation (today for what is still open), by the month of
    -- that computation
    SELECT l.company_id, m.commercial_partner_id,
           date_trunc('month', l.collection_interest_date)::date,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           COALESCE(l.collection_interest_accrued, 0), 0, 0,
           COALESCE(l.collection_fee_accrued, 0), 0, 0
      FROM account_move_line l
      JOIN account_move m ON m.id = l.move_id
     WHERE (l.collection_interest_accrued > 0 OR l.collection_fee_accrued > 0)
       AND m.state = 'posted'
    UNION ALL
    -- late interest and fees invoiced or waived, by the month they were
    SELECT company_id, partner_id, date_trunc('month', date)::date,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           CASE WHEN kind = 'invoiced' AND charge_type = 'interest'
                THEN amount ELSE 0 END,
           CASE WHEN kind = 'waived' AND charge_type = 'interest'
                THEN amount ELSE 0 END,
           0,
           CASE WHEN kind = 'invoiced' AND charge_type = 'fee' THEN amount ELSE 0 END,
           CASE WHEN kind = 'waived' AND charge_type = 'fee' THEN amount ELSE 0 END
      FROM collection_interest_charge
),
k AS (
    SELECT f.company_id, c.currency_id,
           (p.collection_user_id->>f.company_id::text)::int AS user_id,
           f.month AS date,
           LEAST((f.month + INTERVAL '1 month' - INTERVAL '1 day')::date,
                 CURRENT_DATE) AS ref_date,
           SUM(f.sales) AS sales, SUM(f.collected) AS collected,
           SUM(f.ar_end) AS ar_end, SUM(f.ar_current) AS ar_current,
           SUM(f.aged_1_30) AS aged_1_30, SUM(f.aged_31_60) AS aged_31_60,
           SUM(f.aged_61_90) AS aged_61_90, SUM(f.aged_91) AS aged_91,
           SUM(f.due_amount) AS due_amount, SUM(f.paid_by_due) AS paid_by_due,
           SUM(f.reminded) AS reminded, SUM(f.reminded_paid) AS reminded_paid,
           SUM(f.promises_kept) AS promises_kept,
           SUM(f.promises_closed) AS promises_closed,
           SUM(f.installments_paid) AS installments_paid,
           SUM(f.installments_due) AS installments_due,
           SUM(f.interest_accrued) AS interest_accrued,
           SUM(f.interest_invoiced) AS interest_invoiced,
           SUM(f.interest_waived) AS interest_waived,
           SUM(f.fee_accrued) AS fee_accrued,
           SUM(f.fee_invoiced) AS fee_invoiced,
           SUM(f.fee_waived) AS fee_waived
      FROM facts f
      JOIN res_partner p ON p.id = f.partner_id
      JOIN res_company c ON c.id = f.company_id
     GROUP BY f.company_id, c.currency_id, 3, f.month
)
SELECT ROW_NUMBER() OVER (ORDER BY k.date, k.company_id, k.user_id) AS id, k.*,
       %(dso)s AS dso, %(best_dso)s AS best_dso, %(add)s AS add, %(cei)s AS cei,
       %(paid_by_due_rate)s AS paid_by_due_rate,
       %(reminder_effectiveness)s AS reminder_effectiveness,
       %(promise_kept_rate)s AS promise_kept_rate,
       %(plan_adherence)s AS plan_adherence
  FROM k
 GROUP BY k.company_id, k.currency_id, k.user_id, k.date, k.ref_date, k.sales,
          k.collected, k.ar_end, k.ar_current, k.aged_1_30, k.aged_31_60,
          k.aged_61_90, k.aged_91, k.due_amount, k.paid_by_due, k.reminded,
          k.reminded_paid, k.promises_kept, k.promises_closed,
          k.installments_paid, k.installments_due, k.interest_accrued,
          k.interest_invoiced, k.interest_waived, k.fee_accrued, k.fee_invoiced,
          k.fee_waived
                """,
                **ratios,
            )
        )
