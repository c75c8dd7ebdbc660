from datetime import date, timedelta

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, format_date

from ..tools.portal_access import thread_access_kwargs
from ..tools.trace import log_trace, note_html, staff_env

# However far a manager may let a promise go, a date beyond this is a typo.
MAX_DAYS_AHEAD = 3660


class CollectionPromise(models.Model):
    """A customer's promise to pay an amount on some invoices by a date.

    While open, it pauses the reminders of those invoices until the date plus the
    company's grace period. ``_cron_check_commitments`` marks it kept once payments
    on those invoices reach the amount by then, or broken after: a broken promise
    escalates the customer's case, the reminders resume, and the risk score counts
    it.
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
    invoice_ids = fields.Many2many(
        "account.move",
        "collection_promise_move_rel",
        "promise_id",
        "move_id",
        string="Invoices",
        required=True,
        check_company=True,
        domain="[('commercial_partner_id', '=', partner_id),"
        " ('move_type', '=', 'out_invoice'), ('state', '=', 'posted'),"
        " ('payment_state', 'in', ('not_paid', 'partial'))]",
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

    @api.constrains("amount", "invoice_ids", "partner_id", "promised_date")
    def _check_promise(self):
        for promise in self.filtered(lambda p: p.state == "open"):
            if promise.amount <= 0:
                raise ValidationError(self.env._("A promise is for a positive amount."))
            invoices = promise.invoice_ids
            if not invoices:
                raise ValidationError(self.env._("Say which invoices are promised."))
            partner = promise.partner_id.commercial_partner_id
            wrong = invoices._collection_not_open_of(partner, promise.company_id)
            if wrong:
                raise ValidationError(
                    self.env._(
                        "Only open posted invoices of %(customer)s can be promised: "
                        "%(invoices)s",
                        customer=partner.display_name,
                        invoices=", ".join(wrong.mapped("name")),
                    )
                )
            due = sum(invoices.mapped("amount_residual_signed"))
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
        promises = super().create(vals_list)
        for promise in promises:
            promise.message_post(body=promise._summary())
            promise._log_on_customer(promise._summary())
        self.env["collection.case"]._move_to_role(promises, "promise")
        promises._trace()
        return promises

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
            invoices=", ".join(self.invoice_ids.mapped("name")),
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
    def _action_new(self, partner, invoices, company, overdue_only=False):
        """The form of a new promise for ``partner``'s ``invoices`` in ``company``,
        in a dialog, the amount and date proposed. With ``overdue_only``, the
        overdue ones of them are proposed (all when none is overdue)."""
        invoices = invoices._collection_open()
        if overdue_only:
            today = fields.Date.context_today(self)
            invoices = (
                invoices.filtered(
                    lambda move: move.invoice_date_due and move.invoice_date_due < today
                )
                or invoices
            )
        if not invoices:
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
                "default_invoice_ids": [Command.set(invoices.ids)],
                "default_amount": sum(invoices.mapped("amount_residual_signed")),
                "default_promised_date": fields.Date.to_string(
                    fields.Date.context_today(self) + timedelta(days=7)
                ),
            },
        }

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
        """{promise id: paid on its invoices from its creation to its grace date}."""
        if not self:
            return {}
        return self.env["account.move"]._collection_paid_since(
            SQL(
                """SELECT p.id, rel.move_id, p.create_date, p.grace_until
                     FROM collection_promise p
                     JOIN collection_promise_move_rel rel ON rel.promise_id = p.id
                    WHERE p.id = ANY(%s)""",
                self.ids,
            )
        )

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
    def _covered_moves(self, move_ids, today):
        """Ids of these invoices under an open promise whose grace runs on."""
        if not move_ids:
            return set()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT rel.move_id
                     FROM collection_promise_move_rel rel
                     JOIN collection_promise p ON p.id = rel.promise_id
                    WHERE p.state = 'open' AND p.grace_until >= %s
                      AND rel.move_id = ANY(%s)""",
                today,
                list(move_ids),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}
