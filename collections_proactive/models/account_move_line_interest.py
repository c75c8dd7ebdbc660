from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# Open bounds of the rate periods in SQL (a fixed rate has neither).
_FIRST_DAY = fields.Date.to_date("1900-01-01")
_LAST_DAY = fields.Date.to_date("9999-12-31")
# The interest a customer avoids by paying on time is shown for a month late.
AVOID_DAYS = 30


class AccountMoveLine(models.Model):
    """Late interest on the receivable line, the unit of collection.

    Interest is simple, in the company's currency, on each amount of the line
    for the days it stayed unpaid after the due date (the day after the due
    date is the first): the residual until today, each payment until the day
    it was reconciled (a line paid in full is computed once more after its
    payment, up to it); a credit note reconciled with the line reduces it from
    the start (that amount was never owed). With grace days and "from the due
    date", nothing accrues on what was paid within the grace days, and what was
    paid later accrues from the due date; "after the grace days" counts only
    the days after them. Each day accrues at the rate in force that day (a
    fixed rate, or the published table). Interest invoices accrue none (no
    interest on interest).

    The collection fee (a percentage set per company; Chile: 1%) is charged
    once per line that goes late, on what was still unpaid past the grace
    days: the same amounts that accrue interest, whatever their number of
    days. It is stored beside the interest by the same UPDATE, and invoiced or
    waived once, like it.

    ``collection_interest_accrued`` is stored as of ``collection_interest_date``
    by the daily cron, one UPDATE per company; ``collection_interest_charged``
    is what was invoiced or waived of it (``collection.interest.charge``)."""

    _inherit = "account.move.line"

    collection_interest_accrued = fields.Monetary(
        string="Interest Accrued",
        currency_field="company_currency_id",
        readonly=True,
        copy=False,
        help="Late interest accrued on this amount due, as of the date beside.",
    )
    collection_interest_charged = fields.Monetary(
        string="Interest Invoiced or Waived",
        currency_field="company_currency_id",
        readonly=True,
        copy=False,
    )
    collection_interest_days = fields.Integer(
        string="Interest Days", readonly=True, copy=False
    )
    collection_interest_date = fields.Date(
        string="Interest As Of", readonly=True, copy=False
    )
    collection_fee_accrued = fields.Monetary(
        string="Collection Fee",
        currency_field="company_currency_id",
        readonly=True,
        copy=False,
        help="The fixed fee this amount due owes for going late.",
    )
    collection_fee_base = fields.Monetary(
        currency_field="company_currency_id",
        readonly=True,
        copy=False,
        help="What was still unpaid when this amount due went late.",
    )
    collection_fee_charged = fields.Monetary(
        string="Collection Fee Invoiced or Waived",
        currency_field="company_currency_id",
        readonly=True,
        copy=False,
    )
    collection_fee_pending = fields.Monetary(
        currency_field="company_currency_id",
        compute="_compute_collection_interest_preview",
        help="The collection fee not yet invoiced or waived.",
    )
    collection_fee_avoid = fields.Monetary(
        string="Collection Fee if Late",
        currency_field="company_currency_id",
        compute="_compute_collection_interest_preview",
    )
    collection_interest_pending = fields.Monetary(
        string="Interest Pending",
        currency_field="company_currency_id",
        compute="_compute_collection_interest_preview",
        help="Accrued and not yet invoiced or waived.",
    )
    collection_interest_daily = fields.Monetary(
        string="Interest a Day",
        currency_field="company_currency_id",
        compute="_compute_collection_interest_preview",
    )
    collection_interest_pay_by = fields.Date(
        string="Pay By (No Interest)",
        compute="_compute_collection_interest_preview",
    )
    collection_interest_avoid = fields.Monetary(
        string="Interest of a Month Late",
        currency_field="company_currency_id",
        compute="_compute_collection_interest_preview",
    )

    @api.depends_context("date")
    @api.depends(
        "collection_interest_accrued",
        "collection_interest_charged",
        "collection_fee_accrued",
        "collection_fee_charged",
        "amount_residual",
        "date_maturity",
    )
    def _compute_collection_interest_preview(self):
        """For the screens and the messages: what is pending, what one more day
        adds, and, for what is not yet late, the last day without interest, the
        interest of a month late and the fee that going late costs. Small sets
        only (one invoice, one customer's reminder); the ledger-wide work is
        the cron's."""
        today = fields.Date.context_today(self)
        for line in self:
            company = line.company_id
            values = {
                "collection_interest_pending": 0.0,
                "collection_interest_daily": 0.0,
                "collection_interest_pay_by": False,
                "collection_interest_avoid": 0.0,
                "collection_fee_pending": 0.0,
                "collection_fee_avoid": 0.0,
            }
            if (
                company.collection_interest_enabled
                and line.account_id.account_type == "asset_receivable"
                and line.date_maturity
                and not line.move_id.collection_interest_invoice
            ):
                currency = company.currency_id
                values["collection_interest_pending"] = currency.round(
                    max(
                        line.collection_interest_accrued
                        - line.collection_interest_charged,
                        0.0,
                    )
                )
                values["collection_fee_pending"] = currency.round(
                    max(line.collection_fee_accrued - line.collection_fee_charged, 0.0)
                )
                residual = line.amount_residual if line.amount_residual > 0 else 0.0
                factor = company._collection_interest_daily_factor(
                    company._collection_interest_rate_today(today)
                )
                grace = company.collection_interest_grace_days
                pay_by = line.date_maturity + timedelta(days=grace)
                if residual and pay_by >= today:
                    values["collection_interest_pay_by"] = pay_by
                    late_days = AVOID_DAYS + (
                        grace if company.collection_interest_start == "due" else 0
                    )
                    values["collection_interest_avoid"] = currency.round(
                        residual * factor * late_days
                    )
                    values["collection_fee_avoid"] = currency.round(
                        residual * company.collection_fee_percent / 100.0
                    )
                elif residual:
                    values["collection_interest_daily"] = currency.round(
                        residual * factor
                    )
            line.update(values)

    def _collection_pending_charges(self, rate_today):
        """What of this line's interest and collection fee is not yet invoiced
        or waived: a dict per charge type with something left (its amount,
        accrued, charged, days, rate and base; ``rate_today``: the interest
        rate shown beside it)."""
        self.ensure_one()
        company = self.company_id
        currency = company.currency_id
        charges = []
        for charge_type, accrued, charged, rate, base in (
            (
                "interest",
                self.collection_interest_accrued,
                self.collection_interest_charged,
                rate_today,
                self.balance,
            ),
            (
                "fee",
                self.collection_fee_accrued,
                self.collection_fee_charged,
                company.collection_fee_percent,
                self.collection_fee_base,
            ),
        ):
            amount = currency.round(accrued - charged)
            if currency.compare_amounts(amount, 0) > 0:
                charges.append(
                    {
                        "charge_type": charge_type,
                        "days": self.collection_interest_days,
                        "rate": rate,
                        "base": base,
                        "accrued": accrued,
                        "charged": charged,
                        "amount": amount,
                    }
                )
        return charges

    @api.model
    def _cron_interest_accrual(self):
        """Daily: the interest of every open overdue receivable line of each
        company with late interest, as of today, in one UPDATE per company
        (idempotent: a second run the same day writes nothing)."""
        companies = (
            self.env["res.company"]
            .sudo()
            .search([("collection_interest_enabled", "=", True)])
        )
        for company in companies:
            self._collection_accrue_interest(company)

    @api.model
    def _collection_accrue_interest(
        self, company, today=None, partner=None, but_plan=None
    ):
        """Bring the stored interest of ``company``'s open lines (of one
        commercial ``partner``, if given) up to ``today``; returns the number
        of lines written. The lines of an active plan that waives interest keep
        theirs, except ``but_plan``'s (brought up to date as it waives them)."""
        today = today or fields.Date.context_today(self.with_company(company))
        periods = company._collection_interest_periods()
        fee = company.collection_fee_percent / 100.0
        if not periods:
            if not fee:
                return 0
            # No rate in force: no interest, but the fee is owed all the same.
            periods = [(None, None, 0.0)]
        self.env.flush_all()
        grace = company.collection_interest_grace_days
        shift = grace if company.collection_interest_start == "grace" else 0
        rates = SQL(", ").join(
            SQL(
                "(%s::date, %s::date, %s::float8)",
                start or _FIRST_DAY,
                end or _LAST_DAY,
                factor,
            )
            for start, end, factor in periods
        )
        self.env.cr.execute(
            SQL(
                """
WITH rates(d_from, d_to, factor) AS (VALUES %(rates)s),
lines AS (
    SELECT l.id, l.amount_residual AS residual, l.date_maturity AS due,
           l.date_maturity + %(shift)s AS s
      FROM account_move_line l
      JOIN account_move m ON m.id = l.move_id
     WHERE l.company_id = %(company)s
       AND (%(open)s
            -- paid in full since the last computation: once more, to count
            -- the days up to the payment
            OR (l.reconciled AND l.collection_interest_date IS NOT NULL
                AND l.parent_state = 'posted' AND m.move_type = 'out_invoice'
                AND EXISTS (
                    SELECT 1 FROM account_partial_reconcile apr
                     WHERE apr.debit_move_id = l.id
                       AND apr.create_date::date >= l.collection_interest_date)))
       AND l.date_maturity < %(today)s
       AND NOT COALESCE(m.collection_interest_invoice, FALSE) %(partner)s
       AND NOT EXISTS (
           SELECT 1 FROM collection_plan_move_line_rel rel
             JOIN collection_payment_plan p ON p.id = rel.plan_id
            WHERE rel.move_line_id = l.id AND p.state = 'active'
              AND p.waive_interest AND p.id != %(but_plan)s)
),
pieces AS (
    SELECT id, due, s, residual AS amount, %(today)s::date AS until FROM lines
    UNION ALL
    SELECT lines.id, lines.due, lines.s, apr.amount,
           CASE WHEN cm.move_type = 'out_refund' THEN lines.s
                ELSE LEAST(apr.max_date, %(today)s::date) END
      FROM lines
      JOIN account_partial_reconcile apr ON apr.debit_move_id = lines.id
      JOIN account_move_line cl ON cl.id = apr.credit_move_id
      JOIN account_move cm ON cm.id = cl.move_id
),
acc AS (
    SELECT p.id,
           SUM(p.amount * r.factor * GREATEST(0,
               LEAST(p.until + 1, r.d_to) - GREATEST(p.s + 1, r.d_from))) AS amount
      FROM pieces p
     CROSS JOIN rates r
     WHERE p.until - p.due > %(grace)s
     GROUP BY p.id
),
late AS (
    -- what was still unpaid past the grace days: the fee's base
    SELECT id, SUM(amount) AS amount FROM pieces
     WHERE until - due > %(grace)s
     GROUP BY id
),
new AS (
    -- the days the line has been late: until today, or until it was paid
    SELECT lines.id,
           ROUND(COALESCE(acc.amount, 0)::numeric, %(digits)s) AS amount,
           ROUND((COALESCE(late.amount, 0) * %(fee)s)::numeric, %(digits)s) AS fee,
           CASE WHEN %(fee)s > 0 THEN COALESCE(late.amount, 0) ELSE 0 END
               AS fee_base,
           CASE WHEN lines.until - lines.due > %(grace)s
                THEN lines.until - lines.s ELSE 0 END AS days
      FROM (SELECT lines.*,
                   CASE WHEN lines.residual > 0 THEN %(today)s::date
                        ELSE (SELECT LEAST(MAX(apr.max_date), %(today)s::date)
                                FROM account_partial_reconcile apr
                               WHERE apr.debit_move_id = lines.id) END AS until
              FROM lines) lines
      LEFT JOIN acc ON acc.id = lines.id
      LEFT JOIN late ON late.id = lines.id
)
UPDATE account_move_line l
   SET collection_interest_accrued = new.amount,
       collection_interest_days = new.days,
       collection_interest_date = %(today)s,
       collection_fee_accrued = new.fee,
       collection_fee_base = new.fee_base
  FROM new
 WHERE l.id = new.id
   AND (l.collection_interest_accrued IS DISTINCT FROM new.amount
        OR l.collection_interest_days IS DISTINCT FROM new.days
        OR l.collection_fee_accrued IS DISTINCT FROM new.fee
        OR l.collection_fee_base IS DISTINCT FROM new.fee_base)
                """,
                rates=rates,
                shift=shift,
                grace=grace,
                company=company.id,
                open=self._collection_open_sql(owed_only=True),
                today=today,
                partner=SQL("AND m.commercial_partner_id = %s", partner.id)
                if partner
                else SQL(),
                but_plan=but_plan.id if but_plan else 0,
                digits=company.currency_id.decimal_places,
                fee=fee,
            )
        )
        count = self.env.cr.rowcount
        self.invalidate_model(
            [
                "collection_interest_accrued",
                "collection_interest_days",
                "collection_interest_date",
                "collection_fee_accrued",
                "collection_fee_base",
            ]
        )
        return count
