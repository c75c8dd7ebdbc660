from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .res_partner import RISK_BANDS


class AccountMove(models.Model):
    _inherit = "account.move"

    # Written in bulk by collection.risk.scoring for customer invoices not yet paid.
    collection_late_probability = fields.Float(
        string="Late Payment Probability",
        readonly=True,
        copy=False,
        aggregator="avg",
        help="Probability, from 0 to 1, that this invoice is paid after its due "
        "date; 1 once it is overdue.",
    )
    collection_predicted_payment_date = fields.Date(
        string="Predicted Payment Date",
        readonly=True,
        copy=False,
        help="When this invoice is expected to be paid, from the customer's history.",
    )
    collection_expected_on_time_amount = fields.Monetary(
        string="Expected by Due Date",
        currency_field="company_currency_id",
        readonly=True,
        copy=False,
        help="Amount due times the probability of being paid on time.",
    )
    collection_risk_band = fields.Selection(
        RISK_BANDS,
        string="Customer Risk Band",
        readonly=True,
        copy=False,
        help="The customer's risk band when this invoice was last scored.",
    )
    collection_followup_hold = fields.Selection(
        [("dispute", "Disputed"), ("no_followup", "No follow-up")],
        string="Follow-up Hold",
        copy=False,
        tracking=True,
        help="Held invoices get no reminder; the log says why.",
    )
    collection_followup_hold_reason = fields.Char(string="Hold Reason", copy=False)
    collection_reminder_line_ids = fields.One2many(
        "collection.reminder.line", "move_id", string="Reminder Lines"
    )
    collection_reminder_count = fields.Integer(
        compute="_compute_collection_reminder_count"
    )

    def _compute_collection_reminder_count(self):
        counts = dict(
            self.env["collection.reminder.line"]._read_group(
                [("move_id", "in", self.ids)], ["move_id"], ["__count"]
            )
        )
        for move in self:
            move.collection_reminder_count = counts.get(move, 0)

    def action_open_collection_reminders(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.collection_reminder_action"
        )
        action["domain"] = [("line_ids.move_id", "=", self.id)]
        return action

    collection_next_step = fields.Char(
        string="Next Reminder",
        compute="_compute_collection_next_step",
        help="The next step of the customer's strategy for this invoice, and its date.",
    )

    @api.depends_context("company", "lang")
    @api.depends("invoice_date_due", "payment_state", "collection_reminder_line_ids")
    def _compute_collection_next_step(self):
        self.collection_next_step = False
        invoices = self.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and m.state == "posted"
                and m.payment_state in ("not_paid", "partial")
                and m.invoice_date_due
            )
        )
        strategies = self.env["collection.strategy"].sudo()
        for company in invoices.company_id:
            by_band = strategies._strategy_by_band(company)
            for invoice in invoices.filtered(lambda m, c=company: m.company_id == c):
                partner = invoice.commercial_partner_id.with_company(company)
                strategy = partner.collection_strategy_id or strategies.browse(
                    by_band.get(partner.collection_risk_band or "default")
                    or by_band.get("default")
                )
                done = invoice.sudo().collection_reminder_line_ids.step_id.mapped(
                    "offset_days"
                )
                last = max(done, default=None)
                step = strategy.step_ids.filtered(
                    lambda st, last=last: last is None or st.offset_days > last
                )[:1]
                if step:
                    when = invoice.invoice_date_due + timedelta(days=step.offset_days)
                    invoice.collection_next_step = self.env._(
                        "%(step)s on %(date)s",
                        step=step.name,
                        date=fields.Date.to_string(when),
                    )

    def _collection_open(self):
        """These moves that are posted customer invoices still to be paid."""
        return self.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and m.state == "posted"
                and m.payment_state in ("not_paid", "partial")
            )
        )

    def _collection_not_open_of(self, partner, company):
        """These moves that are not open posted invoices of ``partner`` (its
        commercial entity) in ``company``: what a promise or plan may not cover."""
        commercial = partner.commercial_partner_id
        return self - self._collection_open().filtered(
            lambda m: m.commercial_partner_id == commercial and m.company_id == company
        )

    @api.model
    def _collection_paid_since(self, links):
        """``{owner id: amount reconciled on the receivable lines of its moves}``.

        ``links`` is SQL yielding ``(owner id, move id, since, until)`` rows: only
        reconciliations made from ``since`` on, dated ``until`` at the latest (no
        limit when null), count. One query for every promise or plan."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH links(owner_id, move_id, since, until) AS (%s)
                SELECT links.owner_id, COALESCE(SUM(apr.amount), 0)
                  FROM links
                  JOIN account_move_line l
                    ON l.move_id = links.move_id AND l.display_type = 'payment_term'
                  LEFT JOIN account_partial_reconcile apr
                    ON apr.debit_move_id = l.id
                   AND apr.create_date >= links.since
                   AND (links.until IS NULL OR apr.max_date <= links.until)
                 GROUP BY links.owner_id
                """,
                links,
            )
        )
        return dict(self.env.cr.fetchall())

    def action_collection_log_promise(self):
        """Log a promise to pay on these invoices, of one customer and company."""
        customers = self.commercial_partner_id
        if len(customers) != 1 or len(self.company_id) != 1:
            raise UserError(
                self.env._(
                    "A promise to pay covers invoices of one customer in one company."
                )
            )
        return self.env["collection.promise"]._action_new(
            customers, self, self.company_id
        )

    def action_collection_new_plan(self):
        """A payment plan for these invoices, of one customer and company."""
        customers = self.commercial_partner_id
        if len(customers) != 1 or len(self.company_id) != 1:
            raise UserError(
                self.env._(
                    "A payment plan covers invoices of one customer in one company."
                )
            )
        return self.env["collection.payment.plan"]._action_new(
            customers, self, self.company_id
        )
