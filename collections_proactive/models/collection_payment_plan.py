from dateutil.relativedelta import relativedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, float_round, format_date

from .collection_promise import OPEN_LINE_DOMAIN, covered_lines, lines_from_vals

FREQUENCIES = [
    ("weekly", "Weekly"),
    ("biweekly", "Every two weeks"),
    ("monthly", "Monthly"),
]
STEP = {
    "weekly": relativedelta(weeks=1),
    "biweekly": relativedelta(weeks=2),
    "monthly": relativedelta(months=1),
}


# Bounds of what a plan can be at all (the policy narrows them): beyond them a
# schedule cannot be drawn up (dates past the calendar) or costs minutes to build.
MAX_INSTALLMENTS = 360
MAX_YEARS_AHEAD = 10


def split_schedule(total, down_payment, count, first_date, frequency, currency):
    """``[(date, amount, is_down_payment)]`` adding up exactly to ``total`` in the
    currency's rounding: a down payment on the first date if any, then ``count``
    installments one period apart, each rounded down, the last taking the rest."""
    rows = []
    start = first_date
    if not currency.is_zero(down_payment):
        rows.append((first_date, currency.round(down_payment), True))
        start = first_date + STEP[frequency]
    rest = currency.round(total - currency.round(down_payment))
    # In whole units of the currency (CLP has no decimals), rounded down; the
    # last installment takes what is left.
    units = round(rest / currency.rounding)
    share = currency.round((units // count) * currency.rounding) if count else 0
    for index in range(count):
        amount = share if index < count - 1 else currency.round(rest - share * index)
        rows.append((start + STEP[frequency] * index, amount, False))
    return rows


class CollectionPaymentPlan(models.Model):
    """A schedule of installments agreed with a customer for some of its open
    receivable lines (what it owes on its invoices, each due date on its own),
    instead of pressure: drafted by a collector within the policy of the
    customer's risk band (or by a manager), proposed, accepted or declined.
    ``invoice_ids`` are the invoices of the lines, kept for what reads them (the
    reminder planner's SQL, the agreement, mail templates)."""

    _name = "collection.payment.plan"
    _description = "Payment Plan"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(
        readonly=True, copy=False, default=lambda self: self.env._("New")
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        domain="[('parent_id', '=', False)]",
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda s: s.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    move_line_ids = fields.Many2many(
        "account.move.line",
        "collection_plan_move_line_rel",
        "plan_id",
        "move_line_id",
        string="Amounts Due",
        check_company=True,
        domain=OPEN_LINE_DOMAIN,
        help="The customer's receivable lines the plan spreads: an invoice with "
        "several due dates has one per date.",
    )
    invoice_ids = fields.Many2many(
        "account.move",
        "collection_plan_move_rel",
        "plan_id",
        "move_id",
        string="Invoices",
        compute="_compute_invoice_ids",
        store=True,
        check_company=True,
        help="The invoices of the lines the plan covers.",
    )
    amount_invoices = fields.Monetary(
        string="Invoices Due",
        readonly=True,
        currency_field="currency_id",
        help="Left to pay on the lines it covers when the plan was drafted.",
    )
    fee_amount = fields.Monetary(
        string="Fee or Interest",
        currency_field="currency_id",
        tracking=True,
        help="Stated on the agreement and invoiced when the plan is accepted.",
    )
    amount_total = fields.Monetary(
        string="Total", compute="_compute_amounts", store=True, tracking=True
    )
    down_payment = fields.Monetary(currency_field="currency_id", tracking=True)
    installment_count = fields.Integer(
        string="Installments", default=3, required=True, tracking=True
    )
    frequency = fields.Selection(
        FREQUENCIES, default="monthly", required=True, tracking=True
    )
    first_date = fields.Date(
        required=True,
        tracking=True,
        default=lambda self: fields.Date.context_today(self) + relativedelta(days=7),
    )
    installment_ids = fields.One2many(
        "collection.payment.plan.installment", "plan_id", string="Schedule"
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("proposed", "Proposed"),
            ("accepted", "Accepted"),
            ("declined", "Declined"),
            ("active", "Active"),
            ("done", "Done"),
            ("broken", "Broken"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        index=True,
        tracking=True,
        copy=False,
    )
    policy_id = fields.Many2one("collection.plan.policy", compute="_compute_policy")
    policy_issue = fields.Char(
        compute="_compute_policy",
        help="Why the plan is outside its risk band's policy, if it is.",
    )
    can_propose = fields.Boolean(
        compute="_compute_can_propose",
        help="The user may propose this draft: a collections manager, or a "
        "collector when the plan is within the policy of the customer's band and "
        "the band does not need a manager.",
    )
    accepted_by = fields.Char(readonly=True, copy=False)
    accepted_date = fields.Datetime(readonly=True, copy=False)
    accepted_vat = fields.Char(
        string="Signer's Tax ID",
        readonly=True,
        copy=False,
        help="The tax ID the customer typed when accepting on the portal, checked "
        "for its country and against the customer's own.",
    )
    accepted_ip = fields.Char(string="Accepted From", readonly=True, copy=False)
    portal_requested = fields.Boolean(
        string="Requested on the Portal",
        readonly=True,
        copy=False,
        help="The customer asked for this plan on the portal.",
    )
    acceptance_note = fields.Text(readonly=True, copy=False)
    decline_reason = fields.Text(readonly=True, copy=False)
    fee_invoice_id = fields.Many2one("account.move", readonly=True, copy=False)
    closed_date = fields.Date(readonly=True, copy=False)
    reminder_count = fields.Integer(compute="_compute_reminder_count")
    payment_token_id = fields.Many2one(
        "payment.token",
        string="Automatic Debit",
        copy=False,
        tracking=True,
        check_company=True,
        domain="[('partner_id', 'child_of', partner_id),"
        " ('company_id', '=', company_id)]",
        help="The customer's saved payment method: each installment is charged on "
        "its date. A refused charge is logged and the installment's reminders go on.",
    )

    @api.depends("move_line_ids")
    def _compute_invoice_ids(self):
        for plan in self:
            plan.invoice_ids = plan.move_line_ids.move_id

    def _compute_reminder_count(self):
        counts = dict(
            self.env["collection.reminder"]._read_group(
                [("plan_id", "in", self.ids)], ["plan_id"], ["__count"]
            )
        )
        for plan in self:
            plan.reminder_count = counts.get(plan, 0)

    @api.ondelete(at_uninstall=False)
    def _unlink_only_never_agreed(self):
        """An accepted plan is an agreement with its history (payments, reminders,
        the acceptance): it is cancelled, not deleted."""
        if any(plan.state not in ("draft", "proposed", "declined") for plan in self):
            raise UserError(
                self.env._(
                    "Only draft, proposed or declined payment plans can be deleted; "
                    "cancel the others."
                )
            )

    def action_view_reminders(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.collection_reminder_action"
        )
        action["domain"] = [("plan_id", "=", self.id)]
        action["context"] = {}
        return action

    @api.depends("amount_invoices", "fee_amount")
    def _compute_amounts(self):
        for plan in self:
            plan.amount_total = plan.amount_invoices + plan.fee_amount

    @api.depends(
        "partner_id",
        "company_id",
        "installment_count",
        "first_date",
        "installment_ids.date",
        "down_payment",
        "amount_total",
    )
    def _compute_policy(self):
        Policy = self.env["collection.plan.policy"]
        for plan in self:
            policy = (
                Policy._for_partner(plan.partner_id, plan.company_id)
                if plan.partner_id
                else Policy
            )
            plan.policy_id = policy
            plan.policy_issue = plan._policy_issue(policy)

    @api.depends("state", "policy_id", "policy_issue")
    @api.depends_context("uid")
    def _compute_can_propose(self):
        manager = self._is_manager()
        for plan in self:
            plan.can_propose = plan.state == "draft" and (
                manager or not (plan.policy_issue or plan.policy_id.manager_approval)
            )

    @api.model
    def _policy_defaults(self, partner, records, company):
        """Down payment and installments of a new plan for ``partner``'s
        receivable lines ``records`` (or invoices, for their open lines) within
        the policy of its band: the least down payment the policy asks (rounded
        up, never under it) and three installments, fewer when the policy
        allows fewer or the schedule would last too long."""
        policy = self.env["collection.plan.policy"]._for_partner(partner, company)
        currency = company.currency_id
        total = sum(covered_lines(records).mapped("amount_residual"))
        down_payment = float_round(
            total * (policy.min_down_payment_percent or 0.0) / 100,
            precision_rounding=currency.rounding,
            rounding_method="UP",
        )
        count = min(3, policy.max_installments or 3)
        if policy.max_months:
            # Monthly from the first date (a month later after a down payment):
            # the last installment within the policy's months.
            months = policy.max_months - (0 if currency.is_zero(down_payment) else 1)
            count = max(1, min(count, months + 1))
        return {"down_payment": down_payment, "installment_count": count}

    def _policy_issue(self, policy):
        self.ensure_one()
        if not policy:
            return False
        issues = []
        if self.installment_count > policy.max_installments:
            issues.append(
                self.env._(
                    "%(count)s installments, the policy allows %(max)s",
                    count=self.installment_count,
                    max=policy.max_installments,
                )
            )
        dates = self.installment_ids.mapped("date")
        if dates and self.first_date:
            limit = self.first_date + relativedelta(months=policy.max_months)
            if max(dates) > limit:
                issues.append(
                    self.env._(
                        "lasts past %(date)s (%(months)s months)",
                        date=format_date(self.env, limit),
                        months=policy.max_months,
                    )
                )
        minimum = self.amount_total * policy.min_down_payment_percent / 100
        if self.currency_id.compare_amounts(self.down_payment, minimum) < 0:
            issues.append(
                self.env._(
                    "down payment under %(percent)s%%",
                    percent=policy.min_down_payment_percent,
                )
            )
        return "; ".join(issues) or False

    # ------------------------------------------------------------------
    # The schedule
    # ------------------------------------------------------------------

    @api.onchange(
        "move_line_ids",
        "fee_amount",
        "down_payment",
        "installment_count",
        "frequency",
        "first_date",
    )
    def _onchange_schedule(self):
        """The live preview of the schedule in the form."""
        if self.state == "draft":
            self.amount_invoices = sum(self.move_line_ids.mapped("amount_residual"))
            self.installment_ids = self._schedule_commands()

    def _schedule_commands(self):
        self.ensure_one()
        if (
            not self._within_bounds(self.installment_count, self.first_date)
            or self.installment_count < 1
            or not self.first_date
            or not self.currency_id
            or self.currency_id.compare_amounts(self.amount_total, 0) <= 0
        ):
            return [Command.clear()]
        rows = split_schedule(
            self.amount_total,
            self.down_payment,
            self.installment_count,
            self.first_date,
            self.frequency,
            self.currency_id,
        )
        return [Command.clear()] + [
            Command.create(
                {
                    "sequence": index,
                    "date": date,
                    "amount": amount,
                    "is_down_payment": is_down,
                }
            )
            for index, (date, amount, is_down) in enumerate(
                rows, start=0 if rows[0][2] else 1
            )
        ]

    def _check_plan(self):
        """The checks a plan passes before it is proposed (bad input is refused
        with the reason, nothing written)."""
        Promise = self.env["collection.promise"]
        for plan in self:
            lines = plan.move_line_ids
            if not lines:
                raise ValidationError(
                    self.env._("Choose the invoices the plan covers.")
                )
            partner = plan.partner_id.commercial_partner_id
            wrong = Promise._collection_not_open_of(lines, partner, plan.company_id)
            if wrong:
                raise ValidationError(
                    self.env._(
                        "A plan covers open posted invoices of %(customer)s in "
                        "%(company)s only: %(invoices)s",
                        customer=partner.display_name,
                        company=plan.company_id.display_name,
                        invoices=", ".join(wrong.move_id.mapped("name")),
                    )
                )
            foreign = lines.move_id.filtered(
                lambda move, plan=plan: move.currency_id != plan.currency_id
            )
            if foreign:
                raise ValidationError(
                    self.env._(
                        "A plan is in %(currency)s: %(invoices)s are in another "
                        "currency.",
                        currency=plan.currency_id.name,
                        invoices=", ".join(foreign.mapped("name")),
                    )
                )
            # A line is spread by one plan at a time (two plans may share an
            # invoice with several due dates, one date each).
            taken = self.search(
                [
                    ("id", "!=", plan.id),
                    ("state", "in", ("proposed", "accepted", "active")),
                    ("move_line_ids", "in", lines.ids),
                ],
                limit=1,
            )
            if taken:
                both = (lines & taken.move_line_ids).move_id
                names = ", ".join(both.mapped("name"))
                raise ValidationError(
                    self.env._(
                        "Invoice %(invoices)s is already in payment plan %(plan)s.",
                        invoices=names,
                        plan=taken.name,
                    )
                    if len(both) == 1
                    else self.env._(
                        "Invoices %(invoices)s are already in payment plan %(plan)s.",
                        invoices=names,
                        plan=taken.name,
                    )
                )
            if plan.installment_count < 1:
                raise ValidationError(
                    self.env._("A plan has at least one installment.")
                )
            if plan.first_date and plan.first_date < fields.Date.context_today(plan):
                raise ValidationError(
                    self.env._("The first installment cannot be in the past.")
                )
            if plan.currency_id.compare_amounts(plan.fee_amount, 0) < 0:
                raise ValidationError(self.env._("A fee cannot be negative."))
            if plan.currency_id.compare_amounts(plan.down_payment, 0) < 0 or (
                plan.currency_id.compare_amounts(plan.down_payment, plan.amount_total)
                >= 0
            ):
                raise ValidationError(
                    self.env._(
                        "The down payment is at least zero and less than the total."
                    )
                )
            plan._check_still_due()
            total = sum(plan.installment_ids.mapped("amount"))
            if plan.currency_id.compare_amounts(total, plan.amount_total):
                raise ValidationError(
                    self.env._(
                        "The schedule adds up to %(schedule)s, not the plan's total "
                        "%(total)s.",
                        schedule=plan.currency_id.format(total),
                        total=plan.currency_id.format(plan.amount_total),
                    )
                )

    def _check_still_due(self):
        """The plan still spreads what is due on its lines: a payment since it
        was drafted changes the total, and the plan must be drawn up again."""
        self.ensure_one()
        due = sum(self.move_line_ids.mapped("amount_residual"))
        if self.currency_id.compare_amounts(due, self.amount_invoices):
            raise UserError(
                self.env._(
                    "%(plan)s spreads %(planned)s but %(due)s is left to pay on its "
                    "invoices now (a payment arrived meanwhile): the plan must be "
                    "drawn up again.",
                    plan=self.name,
                    planned=self.currency_id.format(self.amount_invoices),
                    due=self.currency_id.format(due),
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_bounds(vals)
            if vals.get("partner_id"):
                partner = self.env["res.partner"].browse(vals["partner_id"])
                vals["partner_id"] = partner.commercial_partner_id.id
            if vals.get("name", self.env._("New")) == self.env._("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code(
                    "collection.payment.plan"
                ) or self.env._("New")
            lines_from_vals(self, vals)
        plans = super().create(vals_list)
        plans._refresh_schedule()
        return plans

    def _refresh_schedule(self):
        for plan in self:
            plan.amount_invoices = sum(plan.move_line_ids.mapped("amount_residual"))
            plan.installment_ids = plan._schedule_commands()

    def _within_bounds(self, count, first_date):
        today = fields.Date.context_today(self)
        return (count or 0) <= MAX_INSTALLMENTS and (
            not first_date
            or fields.Date.to_date(first_date)
            <= today + relativedelta(years=MAX_YEARS_AHEAD)
        )

    def _check_bounds(self, vals):
        """Refuse what no schedule can be drawn up for, before one is."""
        if not self._within_bounds(
            vals.get("installment_count"), vals.get("first_date")
        ):
            raise ValidationError(
                self.env._(
                    "A plan has at most %(count)s installments and starts within "
                    "%(years)s years.",
                    count=MAX_INSTALLMENTS,
                    years=MAX_YEARS_AHEAD,
                )
            )

    def write(self, vals):
        self._check_bounds(vals)
        locked = self.filtered(lambda p: p.state != "draft")
        schedule_fields = {
            "invoice_ids",
            "move_line_ids",
            "fee_amount",
            "down_payment",
            "installment_count",
            "frequency",
            "first_date",
            "installment_ids",
            "partner_id",
        }
        if locked and schedule_fields & set(vals):
            raise UserError(
                self.env._(
                    "Only a draft plan can change: %(plans)s",
                    plans=", ".join(locked.mapped("name")),
                )
            )
        if "invoice_ids" in vals and "move_line_ids" not in vals:
            # Invoices given: each plan covers their lines.
            for plan in self:
                super(CollectionPaymentPlan, plan).write(
                    lines_from_vals(plan, dict(vals))
                )
            result = True
        else:
            result = super().write(lines_from_vals(self, vals))
        if schedule_fields & (set(vals) - {"installment_ids"}):
            self._refresh_schedule()
        return result

    # ------------------------------------------------------------------
    # Tracking from real payments
    # ------------------------------------------------------------------

    def _paid_since_acceptance(self):
        """{plan id: paid on its lines (and fee invoice) since it was accepted},
        one query for all plans."""
        if not self:
            return {}
        return self.env["collection.promise"]._collection_lines_paid_since(
            SQL(
                """SELECT p.id, rel.move_line_id, p.accepted_date, NULL::date
                     FROM collection_payment_plan p
                     JOIN collection_plan_move_line_rel rel ON rel.plan_id = p.id
                    WHERE p.id = ANY(%(ids)s)
                    UNION
                   SELECT p.id, l.id, p.accepted_date, NULL::date
                     FROM collection_payment_plan p
                     JOIN account_move_line l
                       ON l.move_id = p.fee_invoice_id
                      AND l.display_type = 'payment_term'
                    WHERE p.id = ANY(%(ids)s)""",
                ids=self.ids,
            )
        )

    def _lines_to_pay(self):
        """The plan's open lines (and its fee invoice's), oldest due first: what
        a payment of an installment pays."""
        self.ensure_one()
        Line = self.env["account.move.line"]
        fee_terms = self.fee_invoice_id.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        )
        return (
            (self.move_line_ids | fee_terms)
            .filtered_domain(Line._collection_open_domain(owed_only=True))
            .sorted(lambda line: (line.date_maturity, line.id))
        )

    def _allocate_payments(self):
        """Spread what was paid over the installments in date order; returns the
        installments whose paid amount changed."""
        paid = self._paid_since_acceptance()
        changed = self.env["collection.payment.plan.installment"]
        for plan in self:
            left = paid.get(plan.id, 0.0)
            for installment in plan.installment_ids.sorted(
                lambda i: (i.date, i.sequence)
            ):
                share = plan.currency_id.round(min(left, installment.amount))
                left -= share
                if plan.currency_id.compare_amounts(share, installment.paid_amount):
                    installment.paid_amount = share
                    changed |= installment
        return changed

    @api.model
    def _check_plans(self):
        """Active plans: allocate the payments, then mark them done when all is
        paid, or broken when an installment is unpaid longer than the policy
        allows (the case escalates, the normal reminders resume)."""
        today = fields.Date.context_today(self)
        plans = self.sudo().search([("state", "=", "active")])
        plans._allocate_payments()
        done, broken = self.browse(), self.browse()
        for plan in plans:
            unpaid = plan.installment_ids.filtered(
                lambda i: i.currency_id.compare_amounts(i.paid_amount, i.amount) < 0
            )
            grace = plan.policy_id.broken_after_days
            if not unpaid:
                done |= plan
            elif any((today - installment.date).days > grace for installment in unpaid):
                broken |= plan
        done.write({"state": "done", "closed_date": today})
        broken.write({"state": "broken", "closed_date": today})
        for plan in broken:
            # The customer is told, in its language.
            told = plan.with_context(lang=plan.partner_id.lang or "en_US")
            told.message_post(
                body=told.env._(
                    "Your payment plan %(plan)s is cancelled: an installment is "
                    "unpaid %(days)s days after its date. The invoices it covered "
                    "are due again; please contact us to settle them.",
                    plan=plan.name,
                    days=plan.policy_id.broken_after_days,
                ),
                partner_ids=plan.partner_id.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        self.env["collection.case"]._move_to_role(broken, "escalated")
        return {"plans_done": len(done), "plans_broken": len(broken)}

    def _get_report_base_filename(self):
        """The agreement PDF's file name, for the portal's download link."""
        self.ensure_one()
        return self.env._("Payment plan %(plan)s", plan=self.name)

    def _portal_next_installment(self):
        """The first installment not fully paid, in date order."""
        self.ensure_one()
        return self.installment_ids.sorted(lambda i: (i.date, i.sequence)).filtered(
            lambda i: self.currency_id.compare_amounts(i.paid_amount, i.amount) < 0
        )[:1]

    @api.model
    def _covered_lines(self, line_ids):
        """Ids of these receivable lines covered by an active plan."""
        if not line_ids:
            return set()
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT rel.move_line_id FROM collection_plan_move_line_rel rel
                 JOIN collection_payment_plan p ON p.id = rel.plan_id
                WHERE p.state = 'active' AND rel.move_line_id = ANY(%s)
                UNION
               -- a plan's fee is paid with its installments
               SELECT l.id FROM account_move_line l
                 JOIN collection_payment_plan p ON p.fee_invoice_id = l.move_id
                WHERE p.state = 'active' AND l.id = ANY(%s)""",
            (list(line_ids), list(line_ids)),
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _covered_moves(self, move_ids):
        """Ids of these invoices covered by an active plan."""
        if not move_ids:
            return set()
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT rel.move_id FROM collection_plan_move_rel rel
                 JOIN collection_payment_plan p ON p.id = rel.plan_id
                WHERE p.state = 'active' AND rel.move_id = ANY(%s)""",
            (list(move_ids),),
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _compute_access_url(self):
        result = super()._compute_access_url()
        for plan in self:
            plan.access_url = f"/my/payment_plans/{plan.id}"
        return result
