from datetime import date, timedelta

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, format_date

from ..tools.portal_access import thread_access_kwargs
from ..tools.trace import log_trace, note_html, staff_env

# However far a manager may let a promise go, a date beyond this is a typo.
MAX_DAYS_AHEAD = 3660
# The receivable lines a promise or plan may cover, in the form's picker.
OPEN_LINE_DOMAIN = (
    "[('partner_id.commercial_partner_id', '=', partner_id),"
    " ('company_id', '=', company_id), ('parent_state', '=', 'posted'),"
    " ('account_id.account_type', '=', 'asset_receivable'),"
    " ('move_id.move_type', '=', 'out_invoice'), ('reconciled', '=', False),"
    " ('amount_residual', '>', 0)]"
)


def covered_lines(records):
    """The receivable lines a promise or plan covers for ``records``: lines as
    they are; invoices (what older callers give) by their open lines, or, for
    an invoice with none open, by all its receivable lines, so that the checks
    name it rather than drop it silently."""
    Line = records.env["account.move.line"]
    if records._name == Line._name:
        return records
    owed = Line._collection_open_domain(owed_only=True)
    lines = Line
    for move in records:
        terms = move.line_ids.filtered(lambda line: line.display_type == "payment_term")
        lines |= terms.filtered_domain(owed) or terms
    return lines


def lines_from_vals(model, vals):
    """``vals`` of a promise or plan with the invoices given by ``invoice_ids``
    (older callers: tests, imports, the demo) turned into the receivable lines
    they cover; ``invoice_ids`` follows the lines."""
    if "invoice_ids" not in vals or "move_line_ids" in vals:
        vals.pop("invoice_ids", None)
        return vals
    commands = vals.pop("invoice_ids")
    invoices = model.env["account.move"].browse(
        model._fields["invoice_ids"].convert_to_cache(commands, model[:1])
    )
    vals["move_line_ids"] = [Command.set(covered_lines(invoices).ids)]
    return vals


def lines_text(lines):
    """The lines as their invoices' names, with the installment when the
    invoice has several due dates: ``INV/2026/0001 (installment 2 of 3)``."""
    return ", ".join(
        f"{line.move_id.name} ({line.collection_term_label})"
        if line.collection_term_label
        else line.move_id.name
        for line in lines
    )


class CollectionPromise(models.Model):
    """A customer's promise to pay an amount on some of its receivable lines
    (what it owes on its invoices, each due date on its own) by a date.

    While open, it pauses the reminders of those amounts until the date plus the
    company's grace period. ``_cron_check_commitments`` marks it kept once payments
    on those lines reach the amount by then, or broken after: a broken promise
    escalates the customer's case, the reminders resume, and the risk score counts
    it. ``invoice_ids`` are the invoices of the lines, kept for what reads them
    (the reminder planner's SQL, reports, mail templates).
    """

    _name = "collection.promise"
    _description = "Promise to Pay"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "promised_date desc, id desc"
    _check_company_auto = True
    _rec_name = "partner_id"

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        domain="[('parent_id', '=', False)]",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    move_line_ids = fields.Many2many(
        "account.move.line",
        "collection_promise_move_line_rel",
        "promise_id",
        "move_line_id",
        string="Amounts Due",
        check_company=True,
        domain=OPEN_LINE_DOMAIN,
        help="The customer's receivable lines the promise covers: an invoice with "
        "several due dates has one per date.",
    )
    invoice_ids = fields.Many2many(
        "account.move",
        "collection_promise_move_rel",
        "promise_id",
        "move_id",
        string="Invoices",
        compute="_compute_invoice_ids",
        store=True,
        check_company=True,
        help="The invoices of the lines the promise covers.",
    )
    amount = fields.Monetary(required=True, tracking=True, currency_field="currency_id")
    promised_date = fields.Date(required=True, tracking=True)
    source = fields.Selection(
        [
            ("call", "Phone call"),
            ("email", "Email"),
            ("portal", "Portal"),
            ("visit", "Visit"),
            ("other", "Other"),
        ],
        required=True,
        default="call",
    )
    note = fields.Text()
    user_id = fields.Many2one(
        "res.users",
        string="Logged By",
        default=lambda self: self.env.user,
        readonly=True,
    )
    state = fields.Selection(
        [
            ("open", "Open"),
            ("kept", "Kept"),
            ("broken", "Broken"),
            ("cancelled", "Cancelled"),
        ],
        default="open",
        required=True,
        readonly=True,
        index=True,
        tracking=True,
        copy=False,
    )
    paid_amount = fields.Monetary(
        readonly=True,
        currency_field="currency_id",
        copy=False,
        help="Paid on the promised invoices since the promise, as last checked.",
    )
    closed_date = fields.Date(readonly=True, copy=False)
    grace_until = fields.Date(
        compute="_compute_grace_until",
        store=True,
        help="Reminders of the invoices wait until this date.",
    )

    @api.depends("move_line_ids")
    def _compute_invoice_ids(self):
        for promise in self:
            promise.invoice_ids = promise.move_line_ids.move_id

    @api.depends("promised_date", "company_id.collection_promise_grace_days")
    def _compute_grace_until(self):
        for promise in self:
            when = promise.promised_date
            try:
                promise.grace_until = when and when + timedelta(
                    days=promise.company_id.collection_promise_grace_days
                )
            except OverflowError:
                # A date typed at the end of the calendar: the grace ends there.
                promise.grace_until = date.max

    @api.model
    def _collection_not_open_of(self, lines, partner, company):
        """These lines that are not open lines owed by ``partner`` (its
        commercial entity) in ``company``: what a promise or plan may not
        cover (``account.move.line._collection_open_domain``)."""
        Line = self.env["account.move.line"]
        return lines - lines.filtered_domain(
            Line._collection_open_domain(owed_only=True)
            + [
                ("partner_id.commercial_partner_id", "=", partner.id),
                ("company_id", "=", company.id),
            ]
        )

    @api.constrains("amount", "move_line_ids", "partner_id", "promised_date")
    def _check_promise(self):
        for promise in self.filtered(lambda p: p.state == "open"):
            if promise.amount <= 0:
                raise ValidationError(self.env._("A promise is for a positive amount."))
            lines = promise.move_line_ids
            if not lines:
                raise ValidationError(self.env._("Say which invoices are promised."))
            partner = promise.partner_id.commercial_partner_id
            wrong = self._collection_not_open_of(lines, partner, promise.company_id)
            if wrong:
                raise ValidationError(
                    self.env._(
                        "Only open posted invoices of %(customer)s can be promised: "
                        "%(invoices)s",
                        customer=partner.display_name,
                        invoices=", ".join(wrong.move_id.mapped("name")),
                    )
                )
            due = sum(lines.mapped("amount_residual"))
            if promise.currency_id.compare_amounts(promise.amount, due) > 0:
                raise ValidationError(
                    self.env._(
                        "The promise (%(amount)s) is more than what is left to pay on "
                        "its invoices (%(due)s).",
                        amount=promise.currency_id.format(promise.amount),
                        due=promise.currency_id.format(due),
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        today = fields.Date.context_today(self)
        manager = self.env.user.has_group(
            "collections_proactive.group_collections_manager"
        )
        for vals in vals_list:
            when = vals.get("promised_date") and fields.Date.to_date(
                vals["promised_date"]
            )
            if when and when < today:
                raise ValidationError(self.env._("A promised date cannot be past."))
            if when and when > today + timedelta(days=MAX_DAYS_AHEAD):
                # Whoever promises: past this, no date arithmetic is safe.
                raise ValidationError(
                    self.env._(
                        "A promised date is at most %(days)s days ahead.",
                        days=MAX_DAYS_AHEAD,
                    )
                )
            company = self.env["res.company"].browse(
                vals.get("company_id") or self.env.company.id
            )
            limit = company.collection_promise_max_days
            if when and limit and not manager and (when - today).days > limit:
                raise ValidationError(
                    self.env._(
                        "A promised date is at most %(days)s days ahead (%(date)s).",
                        days=limit,
                        date=format_date(self.env, today + timedelta(days=limit)),
                    )
                )
            if vals.get("partner_id"):
                partner = self.env["res.partner"].browse(vals["partner_id"])
                vals["partner_id"] = partner.commercial_partner_id.id
            lines_from_vals(self, vals)
        promises = super().create(vals_list)
        for promise in promises:
            promise.message_post(body=promise._summary())
            promise._log_on_customer(promise._summary())
        self.env["collection.case"]._move_to_role(promises, "promise")
        promises._trace()
        return promises

    def write(self, vals):
        if "invoice_ids" in vals and "move_line_ids" not in vals:
            # Invoices given: each record covers their lines.
            for promise in self:
                super(CollectionPromise, promise).write(
                    lines_from_vals(promise, dict(vals))
                )
            return True
        return super().write(lines_from_vals(self, vals))

    def _trace(self):
        """Each promise's amount, date and note on its invoices and on the
        customer's case, in the language of the staff who read them."""
        for promise in self:
            staff = promise.with_env(
                staff_env(self.env, promise.company_id, promise.partner_id)
            )
            log_trace(
                staff.env,
                promise.invoice_ids,
                promise.partner_id,
                promise.company_id,
                note_html(staff._summary(), promise.note),
            )

    @api.model
    def _get_thread_with_access(self, thread_id, mode="read", **kwargs):
        return super()._get_thread_with_access(
            thread_id, mode, **thread_access_kwargs(self, thread_id, kwargs)
        )

    def _summary(self):
        self.ensure_one()
        return self.env._(
            "Promise to pay %(amount)s by %(date)s (%(invoices)s).",
            amount=self.currency_id.format(self.amount),
            date=format_date(self.env, self.promised_date),
            invoices=lines_text(self.move_line_ids),
        )

    def _amount_left(self):
        """{promise id: what is still owed on it}: the amount promised less what
        was paid on its invoices since, read now (not at the last check)."""
        paid = self._paid_since()
        return {
            promise.id: max(
                promise.currency_id.round(promise.amount - paid.get(promise.id, 0.0)),
                0.0,
            )
            for promise in self
        }

    def _log_on_customer(self, text):
        self.ensure_one()
        self.partner_id.sudo()._message_log(
            body=Markup("<p>%s</p>") % text, message_type="comment"
        )

    @api.model
    def _action_new(self, partner, records, company, overdue_only=False):
        """The form of a new promise for ``partner``'s open receivable lines
        among ``records`` (lines, or invoices for their lines) in ``company``,
        in a dialog, the amount and date proposed. With ``overdue_only``, the
        overdue lines are proposed (all when none is overdue): not the
        installment due in two months."""
        lines = (
            covered_lines(records)
            .filtered_domain(
                self.env["account.move.line"]._collection_open_domain(owed_only=True)
            )
            .sorted(lambda line: (line.date_maturity, line.id))
        )
        if overdue_only:
            today = fields.Date.context_today(self)
            lines = lines.filtered(lambda line: line.date_maturity < today) or lines
        if not lines:
            raise UserError(
                self.env._(
                    "%(customer)s has no open invoice to promise.",
                    customer=partner.display_name,
                )
            )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Log Promise to Pay"),
            "res_model": self._name,
            "view_mode": "form",
            "views": [
                (
                    self.env.ref(
                        "collections_proactive.collection_promise_view_form_log"
                    ).id,
                    "form",
                )
            ],
            "target": "new",
            "context": {
                "default_partner_id": partner.commercial_partner_id.id,
                "default_company_id": company.id,
                "default_move_line_ids": [Command.set(lines.ids)],
                "default_amount": sum(lines.mapped("amount_residual")),
                "default_promised_date": fields.Date.to_string(
                    fields.Date.context_today(self) + timedelta(days=7)
                ),
            },
        }

    @api.model
    def _portal_promise(
        self,
        partner,
        promised_date,
        line_ids=(),
        invoice_ids=(),
        note=False,
        today=None,
    ):
        """A promise made on the portal by ``partner`` (the logged-in customer)
        to pay by ``promised_date`` its lines ``line_ids``, or the lines of its
        invoices ``invoice_ids``: overdue, or falling due within the days its
        band's plan policy allows (not the installment due in six months), for
        what is left to pay on them after its credits; its collector is told.
        Raises AccessError when one is not such an amount of the customer
        (another's, due too late, settled by its credits), ValidationError for
        the rest."""
        today = today or fields.Date.context_today(self)
        open_lines, left = partner._collection_due_lines(today, planned=True)
        until = {
            company: partner._collection_agreeable_until(company, today)
            for company in open_lines.company_id
        }
        agreeable = open_lines.filtered(
            lambda line: line.date_maturity <= until[line.company_id]
        )
        lines = partner._collection_pick_lines(agreeable, line_ids, invoice_ids)
        if lines is None:
            raise AccessError(
                self.env._(
                    "Some of these invoices are not yours, or not due soon enough "
                    "to promise a date for."
                )
            )
        if len(lines.company_id) > 1:
            raise ValidationError(
                self.env._("Promise the invoices of one company at a time.")
            )
        if not promised_date:
            raise ValidationError(self.env._("Give the date you will pay by."))
        company = lines.company_id
        promise = (
            self.sudo()
            .with_company(company)
            .create(
                {
                    "partner_id": partner.commercial_partner_id.id,
                    "company_id": company.id,
                    "move_line_ids": [Command.set(lines.ids)],
                    "amount": company.currency_id.round(
                        sum(left[line.id] for line in lines)
                    ),
                    "promised_date": promised_date,
                    "source": "portal",
                    "note": note or False,
                }
            )
        )
        # Said to the collector, in the collector's language.
        company.sudo()._collection_notify(
            promise,
            promise.partner_id,
            lambda staff: staff._(
                "Promise to pay made on the portal by %(date)s",
                date=format_date(staff, promised_date),
            ),
        )
        return promise

    def action_logged(self):
        """The dialog's button: the promise is saved (the web client saves it
        before calling this); the user is told what was logged and where."""
        self.ensure_one()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Promise to pay logged"),
                "message": self.env._(
                    "%(summary)s Noted on the invoices and on the customer's case.",
                    summary=self._summary(),
                ),
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_cancel(self):
        self.filtered(lambda p: p.state == "open").write(
            {"state": "cancelled", "closed_date": fields.Date.context_today(self)}
        )

    # ------------------------------------------------------------------
    # Scheduled check
    # ------------------------------------------------------------------

    @api.model
    def _cron_check_commitments(self):
        """Mark open promises kept or broken from the payments on their invoices,
        in one query for all of them; then the payment plans' installments."""
        return {
            **self._check_promises(),
            **self.env["collection.payment.plan"]._check_plans(),
        }

    def _paid_since(self):
        """{promise id: paid on its lines from its creation to its grace date}."""
        if not self:
            return {}
        return self._collection_lines_paid_since(
            SQL(
                """SELECT p.id, rel.move_line_id, p.create_date, p.grace_until
                     FROM collection_promise p
                     JOIN collection_promise_move_line_rel rel
                       ON rel.promise_id = p.id
                    WHERE p.id = ANY(%s)""",
                self.ids,
            )
        )

    @api.model
    def _collection_lines_paid_since(self, links):
        """``{owner id: amount reconciled on its receivable lines}``, for the
        promises and the payment plans: only what was paid on the lines they
        cover counts (a payment of the installment due in two months keeps no
        promise on the overdue one).

        ``links`` is SQL yielding ``(owner id, line id, since, until)`` rows:
        only reconciliations made from ``since`` on, dated ``until`` at the
        latest (no limit when null), count. One query for all of them."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH links(owner_id, line_id, since, until) AS (%s)
                SELECT links.owner_id, COALESCE(SUM(apr.amount), 0)
                  FROM links
                  LEFT JOIN account_partial_reconcile apr
                    ON apr.debit_move_id = links.line_id
                   AND apr.create_date >= links.since
                   AND (links.until IS NULL OR apr.max_date <= links.until)
                 GROUP BY links.owner_id
                """,
                links,
            )
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _check_promises(self):
        today = fields.Date.context_today(self)
        promises = self.sudo().search([("state", "=", "open")])
        paid = promises._paid_since()
        kept, broken = self.browse(), self.browse()
        for promise in promises:
            amount = paid.get(promise.id, 0.0)
            if promise.currency_id.compare_amounts(amount, promise.amount) >= 0:
                kept |= promise
            elif promise.grace_until < today:
                broken |= promise
            if promise.currency_id.compare_amounts(amount, promise.paid_amount):
                promise.paid_amount = amount
        kept.write({"state": "kept", "closed_date": today})
        broken.write({"state": "broken", "closed_date": today})
        for promise in kept:
            promise._log_on_customer(
                self.env._(
                    "Promise to pay kept: %(summary)s", summary=promise._summary()
                )
            )
        for promise in broken:
            promise._log_on_customer(
                self.env._(
                    "Promise to pay broken: %(summary)s", summary=promise._summary()
                )
            )
        self.env["collection.case"]._move_to_role(broken, "escalated")
        return {"kept": len(kept), "broken": len(broken)}

    @api.model
    def _covered_lines(self, line_ids, today):
        """Ids of these receivable lines under an open promise whose grace runs
        on."""
        if not line_ids:
            return set()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT rel.move_line_id
                     FROM collection_promise_move_line_rel rel
                     JOIN collection_promise p ON p.id = rel.promise_id
                    WHERE p.state = 'open' AND p.grace_until >= %s
                      AND rel.move_line_id = ANY(%s)""",
                today,
                list(line_ids),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}
