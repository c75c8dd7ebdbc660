from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from .res_partner import RISK_BANDS


class CollectionCase(models.Model):
    """One customer (commercial partner) of one company that needs attention.

    Opened, updated and closed by ``_sync_cases``, one set of queries for every
    customer; moved by strategy steps and by people on the board. A case closes
    when nothing is owed any more and stays as history: a later debt opens a new
    case.
    """

    _name = "collection.case"
    _description = "Collection Case"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "amount_overdue desc, id desc"
    _check_company_auto = True
    _rec_name = "partner_id"

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        index=True,
        default=lambda self: self.env.company,
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    stage_id = fields.Many2one(
        "collection.stage",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
        ondelete="restrict",
        group_expand="_read_group_stage_ids",
        copy=False,
    )
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")],
        default="open",
        required=True,
        readonly=True,
        index=True,
        tracking=True,
        copy=False,
    )
    user_id = fields.Many2one(
        "res.users",
        string="Collector",
        index=True,
        tracking=True,
        domain="[('share', '=', False), ('company_ids', 'in', company_id)]",
        help="Set on the customer for this company and inherited by its cases.",
    )
    risk_band = fields.Selection(RISK_BANDS, readonly=True, index=True)
    risk_score = fields.Integer(readonly=True)
    amount_due = fields.Monetary(
        string="Total Due",
        currency_field="currency_id",
        readonly=True,
        help="Left to pay on the customer's posted invoices, less open credit notes.",
    )
    amount_overdue = fields.Monetary(
        string="Overdue", currency_field="currency_id", readonly=True
    )
    days_overdue = fields.Integer(
        readonly=True,
        aggregator="max",
        help="Days since the due date of the oldest overdue invoice.",
    )
    invoice_count = fields.Integer(string="Open Invoices", readonly=True)
    next_step_id = fields.Many2one(
        "collection.strategy.step",
        readonly=True,
        help="The next reminder the strategy has for this customer.",
    )
    next_step_date = fields.Date(readonly=True)
    next_check_date = fields.Date(
        readonly=True,
        help="The date of the customer's open promise to pay, or of the next "
        "installment of its active plan: when to see whether it was kept.",
    )
    next_action_date = fields.Date(
        compute="_compute_next_action_date",
        store=True,
        help="The earliest of the next reminder, the next promise or installment "
        "date, and the case's next activity.",
    )
    opened_date = fields.Datetime(readonly=True, default=fields.Datetime.now)
    closed_date = fields.Datetime(readonly=True, copy=False)
    paused_until = fields.Date(
        string="Follow-up Paused Until",
        tracking=True,
        copy=False,
        help="No reminder goes to the customer before this date.",
    )
    pause_reason = fields.Char(tracking=True, copy=False)
    invoice_ids = fields.Many2many(
        "account.move", compute="_compute_invoice_ids", string="Invoices"
    )
    reminder_ids = fields.Many2many(
        "collection.reminder", compute="_compute_reminder_ids", string="Reminders"
    )
    reminder_count = fields.Integer(compute="_compute_reminder_ids")
    color = fields.Integer(compute="_compute_color")
    promise_date = fields.Date(
        string="Promised For",
        compute="_compute_promises",
        help="The date of the customer's open promise to pay, if any.",
    )
    plan_id = fields.Many2one(
        "collection.payment.plan",
        string="Active Plan",
        compute="_compute_plan_id",
        help="The customer's active payment plan, if any.",
    )
    promise_count = fields.Integer(
        string="Promises", compute="_compute_promise_plan_counts"
    )
    plan_count = fields.Integer(
        string="Payment Plans", compute="_compute_promise_plan_counts"
    )
    has_broken_promise = fields.Boolean(
        string="Broke a Promise",
        compute="_compute_promises",
        search="_search_has_broken_promise",
        help="The customer broke a promise to pay since the case opened.",
    )

    def init(self):
        # One open case per customer and company; closed cases are history.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS collection_case_open_unique
               ON collection_case (partner_id, company_id) WHERE state = 'open'"""
        )

    @api.depends("next_step_date", "next_check_date", "activity_ids.date_deadline")
    def _compute_next_action_date(self):
        for case in self:
            dates = [
                d
                for d in [
                    case.next_step_date,
                    case.next_check_date,
                    *case.activity_ids.mapped("date_deadline"),
                ]
                if d
            ]
            case.next_action_date = min(dates, default=False)

    @api.depends("risk_band")
    def _compute_color(self):
        colors = {"low": 10, "medium": 3, "high": 2, "critical": 1}
        for case in self:
            case.color = colors.get(case.risk_band, 0)

    def _compute_plan_id(self):
        plans = self.env["collection.payment.plan"].search(
            [
                ("partner_id", "in", self.partner_id.ids),
                ("company_id", "in", self.company_id.ids),
                ("state", "=", "active"),
            ]
        )
        for case in self:
            case.plan_id = plans.filtered(
                lambda p, c=case: (
                    p.partner_id == c.partner_id and p.company_id == c.company_id
                )
            )[:1]

    def _compute_promise_plan_counts(self):
        """The customer's promises and payment plans in the case's company: what
        the case's Promises and Payment Plans buttons open."""
        counts = {}
        for model in ("collection.promise", "collection.payment.plan"):
            counts[model] = {
                (partner.id, company.id): count
                for partner, company, count in self.env[model]._read_group(
                    [
                        ("partner_id", "in", self.partner_id.ids),
                        ("company_id", "in", self.company_id.ids),
                    ],
                    ["partner_id", "company_id"],
                    ["__count"],
                )
            }
        for case in self:
            key = (case.partner_id.id, case.company_id.id)
            case.promise_count = counts["collection.promise"].get(key, 0)
            case.plan_count = counts["collection.payment.plan"].get(key, 0)

    def action_open_plans(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.collection_payment_plan_action"
        )
        action["domain"] = [
            ("partner_id", "=", self.partner_id.id),
            ("company_id", "=", self.company_id.id),
        ]
        return action

    def _compute_promises(self):
        promises = self.env["collection.promise"].search_fetch(
            [
                ("partner_id", "in", self.partner_id.ids),
                ("company_id", "in", self.company_id.ids),
                ("state", "in", ("open", "broken")),
            ],
            ["partner_id", "company_id", "state", "promised_date", "closed_date"],
        )
        for case in self:
            mine = promises.filtered(
                lambda p, c=case: (
                    p.partner_id == c.partner_id and p.company_id == c.company_id
                )
            )
            open_dates = mine.filtered(lambda p: p.state == "open").mapped(
                "promised_date"
            )
            case.promise_date = min(open_dates, default=False)
            case.has_broken_promise = any(
                p.state == "broken"
                and case.opened_date
                and p.closed_date >= case.opened_date.date()
                for p in mine
            )

    def _search_has_broken_promise(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Unsupported search on Broke a Promise."))
        self.env["collection.promise"].flush_model()
        self.flush_model()
        self.env.cr.execute(
            """SELECT c.id FROM collection_case c
                WHERE EXISTS (SELECT 1 FROM collection_promise p
                               WHERE p.partner_id = c.partner_id
                                 AND p.company_id = c.company_id
                                 AND p.state = 'broken'
                                 AND p.closed_date >= c.opened_date::date)"""
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        positive = (operator == "=") == value
        return [("id", "in" if positive else "not in", ids)]

    def _compute_invoice_ids(self):
        """The entries with something open on the customer's receivable: its
        invoices (each due date on its own line), credit notes and unreconciled
        payments, by the one definition of open."""
        Line = self.env["account.move.line"]
        lines = Line.search_fetch(
            Line._collection_open_domain()
            + [
                ("partner_id.commercial_partner_id", "in", self.partner_id.ids),
                ("company_id", "in", self.company_id.ids),
            ],
            ["move_id", "partner_id", "company_id", "date_maturity"],
            order="date_maturity, id",
        )
        for case in self:
            case.invoice_ids = lines.filtered(
                lambda line, c=case: (
                    line.partner_id.commercial_partner_id == c.partner_id
                    and line.company_id == c.company_id
                )
            ).move_id

    def _compute_reminder_ids(self):
        reminders = self.env["collection.reminder"].search(
            [
                ("partner_id", "in", self.partner_id.ids),
                ("company_id", "in", self.company_id.ids),
            ]
        )
        for case in self:
            case.reminder_ids = reminders.filtered(
                lambda r, c=case: (
                    r.partner_id == c.partner_id
                    and r.company_id == c.company_id
                    and r.planned_date >= c.opened_date - timedelta(days=60)
                )
            )
            case.reminder_count = len(case.reminder_ids)

    @api.model
    def _read_group_stage_ids(self, stages, domain):
        # Every column of the board, shared or of the companies in view.
        company_ids = self.env.context.get("allowed_company_ids") or [
            self.env.company.id
        ]
        return stages.search(
            ["|", ("company_id", "=", False), ("company_id", "in", company_ids)]
        )

    # ------------------------------------------------------------------
    # People on the board
    # ------------------------------------------------------------------

    def write(self, vals):
        if "stage_id" in vals:
            stage = self.env["collection.stage"].browse(vals["stage_id"])
            self._check_stage_move(stage)
            if stage.is_closed:
                vals = {**vals, "state": "closed", "closed_date": fields.Datetime.now()}
            entering = self.filtered(lambda case: case.stage_id != stage)
        if "user_id" in vals and not self.env.context.get("collection_case_sync"):
            self._set_partner_collector(vals["user_id"])
        result = super().write(vals)
        if "stage_id" in vals and stage.role == "escalated":
            entering._schedule_escalation()
        if "paused_until" in vals and not self.env.context.get("collection_case_sync"):
            # A pause moves what comes next: the log and the case say so now.
            for company in self.company_id:
                self._collection_refresh(
                    self.filtered(lambda case, c=company: case.company_id == c)
                    .sudo()
                    .partner_id,
                    company,
                )
        return result

    def _check_stage_move(self, stage):
        for case in self:
            if case.stage_id == stage:
                continue
            if case.state == "closed":
                raise UserError(
                    self.env._(
                        "The case of %(customer)s is closed: it stays as history. A "
                        "new case opens by itself when the customer owes again.",
                        customer=case.partner_id.display_name,
                    )
                )
            overdue = stage.is_closed and case._current_overdue()
            if overdue and case.currency_id.compare_amounts(overdue, 0) > 0:
                raise UserError(
                    self.env._(
                        "%(customer)s has %(amount)s overdue: the case closes once "
                        "nothing is overdue. Pause the follow-up instead if it must "
                        "wait.",
                        customer=case.partner_id.display_name,
                        amount=case.currency_id.format(overdue),
                    )
                )

    def _current_owed(self, domain=()):
        """The sum of the customer's open receivable lines in ``domain``, read
        now (not from the last sync)."""
        self.ensure_one()
        Line = self.env["account.move.line"].sudo()
        [(owed,)] = Line._read_group(
            Line._collection_open_domain()
            + [
                ("partner_id.commercial_partner_id", "=", self.partner_id.id),
                ("company_id", "=", self.company_id.id),
                *domain,
            ],
            [],
            ["amount_residual:sum"],
        )
        return owed or 0.0

    def _current_due(self):
        """What the customer owes now: credits offset invoices."""
        return self._current_owed()

    def _current_overdue(self):
        """What the customer has overdue now, as the case sync counts it: its
        amounts past their due date less its credits (credits settle the oldest
        debts first)."""
        today = fields.Date.context_today(
            self.with_context(tz=self.company_id.partner_id.tz or "UTC")
        )
        owed = self._current_owed(
            [
                "|",
                ("amount_residual", "<", 0),
                ("date_maturity", "<", today),
            ]
        )
        return max(owed, 0.0)

    def _schedule_escalation(self):
        for case in self:
            user = case.company_id._collection_manager() or self.env.user
            # In the language of the manager who reads it.
            env = case.with_context(lang=user.lang or "en_US").env
            case.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=env._(
                    "Escalated: %(customer)s", customer=case.partner_id.display_name
                ),
                note=env._(
                    "%(amount)s overdue, oldest %(days)s days.",
                    amount=case.currency_id.format(case.amount_overdue),
                    days=case.days_overdue,
                ),
                user_id=user.id,
            )

    def _set_partner_collector(self, user_id):
        for company in self.company_id:
            partners = self.filtered(
                lambda c, co=company: c.company_id == co
            ).partner_id
            partners.sudo().with_company(company).write({"collection_user_id": user_id})

    def action_pause(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Pause Follow-up"),
            "res_model": "collection.case.pause",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": self._name, "active_ids": self.ids},
        }

    def action_resume(self):
        self.write({"paused_until": False, "pause_reason": False})
        for case in self:
            case.message_post(body=self.env._("Follow-up resumed."))

    def action_send_now(self):
        self.ensure_one()
        return (
            self.partner_id.with_company(self.company_id)
            .with_context(allowed_company_ids=[self.company_id.id])
            .action_collection_preview_send()
        )

    def action_log_promise(self):
        self.ensure_one()
        return self.env["collection.promise"]._action_new(
            self.partner_id, self.invoice_ids, self.company_id, overdue_only=True
        )

    def action_new_plan(self):
        self.ensure_one()
        return self.env["collection.payment.plan"]._action_new(
            self.partner_id, self.invoice_ids, self.company_id
        )

    def action_open_promises(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.collection_promise_action"
        )
        action["domain"] = [
            ("partner_id", "=", self.partner_id.id),
            ("company_id", "=", self.company_id.id),
        ]
        return action

    def action_open_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.account_move_action_open_invoices"
        )
        action["domain"] = [("id", "in", self.invoice_ids.ids)]
        return action

    def action_open_reminders(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.collection_reminder_action"
        )
        action["domain"] = [("id", "in", self.reminder_ids.ids)]
        return action

    @api.model
    def action_sync(self):
        """Menu action: bring every case of the user's companies up to date."""
        self.check_access("write")
        self.sudo()._sync_cases(self.env.companies)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": self.env._("Cases are up to date."),
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
