from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, format_date

from ..tools.trace import log_trace, note_html
from .account_move_line_prediction import expected_text
from .res_partner import RISK_BANDS


class AccountMove(models.Model):
    _inherit = "account.move"

    # Collection works per customer: its case refreshed after each payment, the
    # risk alerts, the new-customer steps read a customer's invoices. Without an
    # index each such read scans every entry (on 1,000,000 invoices: a case
    # refresh after a payment 0.59 s -> 0.045 s, opening 2,251 alerted
    # customers' cases 5.5 s -> 1.0 s).
    commercial_partner_id = fields.Many2one(index=True)

    # Written in bulk by collection.risk.scoring for customer invoices not yet paid.
    collection_late_probability = fields.Float(
        string="Late Payment Probability",
        readonly=True,
        copy=False,
        aggregator="avg",
        help="How likely this invoice is to be paid in full after its due date "
        "(its last one, with several), as a percentage; never certain before the "
        "due date (shown only until then: once overdue, it is late). Each due "
        "date has its own on the receivable lines.",
    )
    collection_predicted_payment_date = fields.Date(
        string="Predicted Payment Date",
        readonly=True,
        copy=False,
        help="When this invoice is expected to be paid in full (its last open due "
        "date), from the customer's recent payments.",
    )
    collection_predicted_date_low = fields.Date(
        string="Expected From",
        readonly=True,
        copy=False,
        help="Paid in full before this date in only one case out of ten.",
    )
    collection_predicted_date_high = fields.Date(
        string="Expected By",
        readonly=True,
        copy=False,
        help="Paid in full by this date in nine cases out of ten.",
    )
    collection_expected_text = fields.Char(
        string="Expected Payment",
        compute="_compute_collection_expected_text",
        help="When this invoice is expected to be paid in full: from the date "
        "paid before in one case out of ten to the date paid by in nine out of ten.",
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
    collection_open = fields.Boolean(
        string="Open for Collection",
        compute="_compute_collection_open",
        search="_search_collection_open",
        help="Has an open receivable line: an amount still owed on one of its "
        "due dates, or a credit not yet used.",
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

    @api.depends("line_ids.amount_residual", "line_ids.reconciled", "state")
    def _compute_collection_open(self):
        lines = self.env["account.move.line"].search_fetch(
            self.env["account.move.line"]._collection_open_domain()
            + [("move_id", "in", self.filtered("id").ids)],
            ["move_id"],
        )
        for move in self:
            move.collection_open = move in lines.move_id

    @api.depends_context("lang")
    @api.depends("collection_predicted_date_low", "collection_predicted_date_high")
    def _compute_collection_expected_text(self):
        for move in self:
            move.collection_expected_text = expected_text(
                self.env,
                move.collection_predicted_date_low,
                move.collection_predicted_date_high,
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
    @api.depends(
        "invoice_date_due",
        "payment_state",
        "collection_followup_hold",
        "collection_reminder_line_ids",
    )
    def _compute_collection_next_step(self):
        """What the engine does next with the invoice, from the same decision
        as the case board (``collection.strategy._next_sql``), in words and
        dates of the reader."""
        self.collection_next_step = False
        invoices = self.filtered(
            lambda m: m.id and m.move_type == "out_invoice" and m.state == "posted"
        )
        if not invoices:
            return
        self.env.flush_all()
        rows = {}
        for company in invoices.company_id:
            self.env.cr.execute(
                self.env["collection.strategy"]._next_sql(
                    company,
                    fields.Date.context_today(self),
                    SQL("AND m.id = ANY(%s)", invoices.ids),
                )
            )
            # An invoice with several due dates: what comes first speaks for it.
            for row in self.env.cr.fetchall():
                move_id, status, day = row[0], row[2], row[4]
                if status and (
                    move_id not in rows
                    or (day and (not rows[move_id][2] or day < rows[move_id][2]))
                ):
                    rows[move_id] = row[2:7]
        for invoice in invoices:
            if invoice.id in rows:
                invoice.collection_next_step = invoice._collection_next_text(
                    *rows[invoice.id]
                )

    def _collection_next_text(self, status, step_id, day, ref_id, paused):
        self.ensure_one()
        env = self.env
        when = day and format_date(env, day)
        if status == "hold":
            return env._("On hold: no reminder")
        if status == "covered":
            return env._("Nothing owed: the customer's credits cover it")
        if status == "plan":
            plan = env["collection.payment.plan"].sudo().browse(ref_id)
            return env._(
                "In payment plan %(plan)s: next installment on %(date)s",
                plan=plan.name,
                date=when,
            )
        if status == "promise":
            return env._("Promised for %(date)s: no reminder meanwhile", date=when)
        if status == "autopay":
            return env._(
                "Automatic debit on %(date)s, with a notice a few days before",
                date=when,
            )
        if status in ("planned", "step"):
            step = env["collection.strategy.step"].sudo().browse(step_id)
            if paused:
                return env._(
                    "%(step)s on %(date)s (follow-up paused until then)",
                    step=step.name,
                    date=when,
                )
            return env._("%(step)s on %(date)s", step=step.name, date=when)
        return False

    def action_collection_preview_send(self):
        """*Send Reminder Now* from the invoice: the customer's preview, in the
        invoice's company (the engine bundles the customer's due reminders)."""
        self.ensure_one()
        return self.commercial_partner_id.with_company(
            self.company_id
        ).action_collection_preview_send()

    def write(self, vals):
        result = super().write(vals)
        if "collection_followup_hold" in vals and not self.env.context.get(
            "collection_case_sync"
        ):
            # A hold changes what the engine does next: the log and the case
            # say so at once.
            posted = self.filtered(lambda move: move.state == "posted")
            self.env["collection.case"].sudo()._collection_refresh(
                posted.commercial_partner_id, posted.company_id
            )
        if "collection_followup_hold" in vals:
            self._collection_trace_hold()
        elif "collection_followup_hold_reason" in vals:
            self.filtered("collection_followup_hold")._collection_trace_hold()
        return result

    def _collection_trace_hold(self):
        """A hold put on or lifted: a note on the invoice and on the customer's
        case, with what is owed, the date and the reason (escaped: typed text)."""
        today = format_date(self.env, fields.Date.context_today(self))
        for move in self.filtered(
            lambda m: m.state == "posted" and m.is_sale_document()
        ):
            values = {
                "invoice": move.name,
                "amount": move.currency_id.format(move.amount_residual),
                "date": today,
            }
            if move.collection_followup_hold:
                hold = dict(
                    move._fields["collection_followup_hold"]._description_selection(
                        self.env
                    )
                )[move.collection_followup_hold]
                summary = self.env._(
                    "%(invoice)s on hold (%(hold)s) on %(date)s, %(amount)s due: "
                    "no reminder until the hold is lifted.",
                    hold=hold,
                    **values,
                )
            else:
                summary = self.env._(
                    "%(invoice)s: hold lifted on %(date)s, %(amount)s due; the "
                    "reminders resume.",
                    **values,
                )
            log_trace(
                self.env,
                move,
                move.commercial_partner_id,
                move.company_id,
                note_html(
                    summary,
                    move.collection_followup_hold
                    and move.collection_followup_hold_reason,
                ),
            )

    def _collection_open(self):
        """These moves that are customer invoices with an amount still owed:
        an open receivable line (``account.move.line._collection_open_domain``,
        the one definition) with something left to pay."""
        if not self:
            return self
        lines = self.env["account.move.line"].search_fetch(
            self.env["account.move.line"]._collection_open_domain(owed_only=True)
            + [("move_id", "in", self.ids)],
            ["move_id"],
        )
        return self & lines.move_id

    def _search_collection_open(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Operation not supported"))
        lines = self.env["account.move.line"]._search(
            self.env["account.move.line"]._collection_open_domain()
        )
        in_or_not = "in" if (operator == "=") == value else "not in"
        return [("id", in_or_not, lines.subselect("move_id"))]

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
