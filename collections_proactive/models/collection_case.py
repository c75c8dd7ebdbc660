import logging
from datetime import datetime, time, timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .res_partner import RISK_BANDS

_logger = logging.getLogger(__name__)

ANALYZE_AFTER = 1000


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
            if (
                stage.is_closed
                and case.currency_id.compare_amounts(case._current_due(), 0) > 0
            ):
                raise UserError(
                    self.env._(
                        "%(customer)s still owes %(amount)s: the case closes once "
                        "nothing is owed. Pause the follow-up instead if it must "
                        "wait.",
                        customer=case.partner_id.display_name,
                        amount=case.currency_id.format(case._current_due()),
                    )
                )

    def _current_due(self):
        """What the customer owes now, read from its open receivable lines (not
        the last sync): credits offset invoices."""
        self.ensure_one()
        Line = self.env["account.move.line"].sudo()
        [(due,)] = Line._read_group(
            Line._collection_open_domain()
            + [
                ("partner_id.commercial_partner_id", "=", self.partner_id.id),
                ("company_id", "=", self.company_id.id),
            ],
            [],
            ["amount_residual:sum"],
        )
        return due or 0.0

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

    # ------------------------------------------------------------------
    # Engine hooks
    # ------------------------------------------------------------------

    @api.model
    def _paused(self, partners, companies, now):
        """{(partner id, company id): (resume datetime, reason)} for paused cases."""
        if not partners:
            return {}
        cases = self.sudo().search_fetch(
            [
                ("partner_id", "in", partners.ids),
                ("company_id", "in", companies.ids),
                ("state", "=", "open"),
                ("paused_until", ">", now.date()),
            ],
            ["partner_id", "company_id", "paused_until", "pause_reason"],
        )
        return {
            (case.partner_id.id, case.company_id.id): (
                datetime.combine(case.paused_until, time.min),
                case.pause_reason or "",
            )
            for case in cases
        }

    @api.model
    def _advance(self, partners, company, stage):
        """Move the open cases of ``partners`` in ``company`` to ``stage``, only
        forward: a reminder never pulls a case back from Escalated."""
        cases = self.sudo().search(
            [
                ("partner_id", "in", partners.ids),
                ("company_id", "=", company.id),
                ("state", "=", "open"),
                ("stage_id", "!=", stage.id),
            ]
        )
        cases = cases.filtered(lambda case: case.stage_id.sequence < stage.sequence)
        if cases:
            cases.write({"stage_id": stage.id})

    @api.model
    def _move_to_role(self, records, role):
        """Sync the cases of the customers of ``records`` (promises, plans: they
        make a customer need a case), then move them to the stage of ``role``."""
        Case = self.sudo()
        for company in records.company_id:
            partners = records.filtered(
                lambda r, c=company: r.company_id == c
            ).partner_id
            # What comes next changes too: reminders decided again, case synced.
            Case._collection_refresh(partners, company)
            stage = self.env["collection.stage"]._for_role(role, company)
            if not stage:
                continue
            cases = Case.search(
                [
                    ("partner_id", "in", partners.ids),
                    ("company_id", "=", company.id),
                    ("state", "=", "open"),
                    ("stage_id", "!=", stage.id),
                ]
            )
            cases.write({"stage_id": stage.id})

    # ------------------------------------------------------------------
    # The set-based sync
    # ------------------------------------------------------------------

    @api.model
    def _collection_refresh(self, partners, companies):
        """After a change that alters what the engine does next for ``partners``
        (a promise, a plan, a pause, a hold, a payment): their planned reminders
        decided again and their cases brought up to date, so that every screen
        that says "next" agrees with the engine at once."""
        partners = partners.commercial_partner_id
        if not partners:
            return
        self.env["collection.reminder"]._refresh_planned(partners, companies)
        self._sync_cases(companies.sudo(), partners)

    @api.model
    def _sync_cases(self, companies=None, partners=None):
        """Open, update and close the cases of ``companies`` (all by default) from
        the ledger in a few statements per company, whatever their number.

        A customer needs a case when something is overdue, or when it is high or
        critical risk with invoices due within the company's horizon; an open
        case stays open while anything is owed, and closes (to the Resolved
        stage) when nothing is. Returns ``{"opened": n, "closed": n, "updated": n}``.
        """
        self = self.sudo().with_context(collection_case_sync=True)  # noqa: PLW0642
        counts = {"opened": 0, "closed": 0, "updated": 0}
        now = fields.Datetime.now()
        self.env.flush_all()
        for company in companies or self.env["res.company"].search([]):
            result = self._sync_company(company, now, partners)
            for key in counts:
                counts[key] += result[key]
        self.invalidate_model()
        return counts

    def _sync_company(self, company, now, partners=None):
        cr = self.env.cr
        today = fields.Datetime.context_timestamp(
            self.with_context(tz=company.partner_id.tz or "UTC"), now
        ).date()
        upcoming = self.env["collection.stage"]._for_role("upcoming", company)
        overdue = self.env["collection.stage"]._for_role("overdue", company)
        resolved = self.env["collection.stage"]._for_role("resolved", company)
        if not (upcoming or overdue) or not resolved:
            _logger.warning(
                "Company %s has no stage for new or resolved cases: no sync",
                company.name,
            )
            return {"opened": 0, "closed": 0, "updated": 0}
        key = str(company.id)
        partner_filter = (
            SQL("AND pc.commercial_partner_id = ANY(%s)", partners.ids)
            if partners
            else SQL()
        )
        case_filter = (
            SQL("AND c.partner_id = ANY(%s)", partners.ids) if partners else SQL()
        )
        cr.execute(
            SQL(
                """
                CREATE TEMP TABLE collection_case_sync ON COMMIT DROP AS
                SELECT partner_id, due,
                       -- credits settle the oldest debts first
                       GREATEST(overdue - credits, 0) AS overdue,
                       oldest, invoices, due_soon
                  FROM (
                    SELECT pc.commercial_partner_id AS partner_id,
                           SUM(l.amount_residual) AS due,
                           COALESCE(SUM(l.amount_residual)
                                    FILTER (WHERE l.amount_residual > 0
                                              AND l.date_maturity < %(today)s), 0)
                               AS overdue,
                           -COALESCE(SUM(l.amount_residual)
                                     FILTER (WHERE l.amount_residual < 0), 0)
                               AS credits,
                           MIN(l.date_maturity)
                               FILTER (WHERE l.amount_residual > 0
                                         AND l.date_maturity < %(today)s) AS oldest,
                           COUNT(DISTINCT l.move_id)
                               FILTER (WHERE l.amount_residual > 0) AS invoices,
                           COALESCE(BOOL_OR(l.date_maturity <= %(horizon)s)
                                    FILTER (WHERE l.amount_residual > 0), FALSE)
                               AS due_soon
                      FROM account_move_line l
                      JOIN account_move m ON m.id = l.move_id
                      JOIN res_partner pc ON pc.id = l.partner_id
                     WHERE l.company_id = %(company)s AND %(open)s %(partner_filter)s
                     GROUP BY pc.commercial_partner_id
                  ) figures
                """,
                today=today,
                horizon=today + timedelta(days=company.collection_case_horizon_days),
                company=company.id,
                open=self.env["account.move.line"]._collection_open_sql(),
                partner_filter=partner_filter,
            )
        )
        cr.execute("CREATE INDEX ON collection_case_sync (partner_id)")
        # Close: nothing owed any more.
        cr.execute(
            SQL(
                """
                UPDATE collection_case c
                   SET state = 'closed', stage_id = %(resolved)s,
                       closed_date = %(now)s, amount_due = 0, amount_overdue = 0,
                       days_overdue = 0, invoice_count = 0, next_step_id = NULL,
                       next_step_date = NULL, next_check_date = NULL,
                       next_action_date = NULL,
                       write_date = %(now)s, write_uid = %(uid)s
                 WHERE c.company_id = %(company)s AND c.state = 'open' %(case_filter)s
                   AND NOT EXISTS (SELECT 1 FROM collection_case_sync s
                                    WHERE s.partner_id = c.partner_id AND s.due > 0)
                RETURNING c.id
                """,
                resolved=resolved.id,
                now=now,
                uid=self.env.uid,
                company=company.id,
                case_filter=case_filter,
            )
        )
        closed = self.browse([row[0] for row in cr.fetchall()])
        # Open: customers that need attention and have no open case.
        cr.execute(
            SQL(
                """
                INSERT INTO collection_case
                       (partner_id, company_id, stage_id, state, user_id,
                        opened_date, create_uid, create_date, write_uid, write_date)
                SELECT s.partner_id, %(company)s,
                       CASE WHEN s.overdue > 0 THEN %(overdue)s ELSE %(upcoming)s END,
                       'open', (p.collection_user_id->>%(key)s)::int,
                       %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM collection_case_sync s
                  JOIN res_partner p ON p.id = s.partner_id
                 WHERE s.due > 0
                   AND (s.overdue > 0
                        OR (s.due_soon AND p.collection_risk_band->>%(key)s
                                           IN ('high', 'critical'))
                        OR EXISTS (SELECT 1 FROM collection_promise pr
                                    WHERE pr.partner_id = s.partner_id
                                      AND pr.company_id = %(company)s
                                      AND pr.state = 'open')
                        OR EXISTS (SELECT 1 FROM collection_payment_plan pl
                                    WHERE pl.partner_id = s.partner_id
                                      AND pl.company_id = %(company)s
                                      AND pl.state = 'active'))
                ON CONFLICT (partner_id, company_id) WHERE state = 'open' DO NOTHING
                RETURNING id
                """,
                company=company.id,
                overdue=(overdue or upcoming).id,
                upcoming=(upcoming or overdue).id,
                key=key,
                now=now,
                uid=self.env.uid,
            )
        )
        opened = self.browse([row[0] for row in cr.fetchall()])
        if len(opened) > ANALYZE_AFTER:
            # The statements below join the cases: with statistics from before a
            # bulk opening, PostgreSQL plans for a nearly empty table and scans
            # the invoices once per case.
            cr.execute("ANALYZE collection_case")
        # A case waiting before the due date moves on once something is overdue.
        if overdue and upcoming:
            cr.execute(
                SQL(
                    """
                    UPDATE collection_case c SET stage_id = %(overdue)s
                      FROM collection_case_sync s
                     WHERE s.partner_id = c.partner_id AND c.company_id = %(company)s
                       AND c.state = 'open' AND c.stage_id = %(upcoming)s
                       AND s.overdue > 0
                    """,
                    overdue=overdue.id,
                    upcoming=upcoming.id,
                    company=company.id,
                )
            )
        opened._assign_collectors(company)
        self.env.flush_all()
        updated = self._sync_figures(company, today, key, case_filter)
        if closed:
            closed._message_log_batch(
                bodies=dict.fromkeys(
                    closed.ids,
                    Markup("<p>%s</p>")
                    % self.env._("Closed: nothing is owed any more."),
                )
            )
        cr.execute("DROP TABLE collection_case_sync")
        return {"opened": len(opened), "closed": len(closed), "updated": updated}

    def _sync_figures(self, company, today, key, case_filter):
        """Amounts, risk, collector and next step of the open cases, written only
        where something changed."""
        self.env.cr.execute(
            SQL(
                """
                WITH nxt AS (%(next)s),
                next_step AS (
                    SELECT DISTINCT ON (partner_id) partner_id, step_id, day
                      FROM nxt
                     WHERE status IN ('planned', 'step')
                     ORDER BY partner_id, day, step_id
                ),
                -- a promise's date, a plan's next installment: when to look again
                next_check AS (
                    SELECT partner_id, MIN(day) AS day
                      FROM nxt
                     WHERE status IN ('promise', 'plan')
                     GROUP BY partner_id
                ),
                figures AS (
                    SELECT c.id,
                           COALESCE(s.due, 0) AS due,
                           COALESCE(s.overdue, 0) AS overdue,
                           COALESCE(%(today)s - s.oldest, 0) AS days,
                           COALESCE(s.invoices, 0) AS invoices,
                           p.collection_risk_band->>%(key)s AS band,
                           COALESCE((p.collection_risk_score->>%(key)s)::int, 0)
                               AS score,
                           (p.collection_user_id->>%(key)s)::int AS collector,
                           n.step_id, n.day, k.day AS check_day,
                           LEAST(n.day, k.day,
                                 (SELECT MIN(a.date_deadline)
                                    FROM mail_activity a
                                   WHERE a.res_model = 'collection.case'
                                     AND a.res_id = c.id)) AS next_action
                      FROM collection_case c
                      JOIN res_partner p ON p.id = c.partner_id
                      LEFT JOIN collection_case_sync s ON s.partner_id = c.partner_id
                      LEFT JOIN next_step n ON n.partner_id = c.partner_id
                      LEFT JOIN next_check k ON k.partner_id = c.partner_id
                     WHERE c.company_id = %(company)s AND c.state = 'open'
                           %(case_filter)s
                )
                UPDATE collection_case c
                   SET amount_due = f.due, amount_overdue = f.overdue,
                       days_overdue = f.days, invoice_count = f.invoices,
                       risk_band = f.band, risk_score = f.score,
                       user_id = COALESCE(f.collector, c.user_id),
                       next_step_id = f.step_id, next_step_date = f.day,
                       next_check_date = f.check_day,
                       next_action_date = f.next_action
                  FROM figures f
                 WHERE f.id = c.id
                   AND (c.amount_due, c.amount_overdue, c.days_overdue,
                        c.invoice_count, c.risk_band, c.risk_score, c.user_id,
                        c.next_step_id, c.next_step_date, c.next_check_date,
                        c.next_action_date)
                       IS DISTINCT FROM
                       (f.due, f.overdue, f.days, f.invoices, f.band, f.score,
                        COALESCE(f.collector, c.user_id), f.step_id, f.day,
                        f.check_day, f.next_action)
                """,
                company=company.id,
                next=self.env["collection.strategy"]._next_sql(
                    company,
                    today,
                    SQL(
                        """AND EXISTS (SELECT 1 FROM collection_case c
                                        WHERE c.partner_id = m.commercial_partner_id
                                          AND c.company_id = %s
                                          AND c.state = 'open')""",
                        company.id,
                    ),
                ),
                today=today,
                key=key,
                case_filter=case_filter,
            )
        )
        return self.env.cr.rowcount

    def _assign_collectors(self, company):
        """Give these new cases' customers without a collector one, by the
        company's assignment rules (round-robin within a rule, fewest open cases
        first), and the case the customer's collector."""
        rules = self.env["collection.assignment.rule"].search(
            [("company_id", "=", company.id)]
        )
        if not self or not rules:
            return
        key = str(company.id)
        self.env.cr.execute(
            SQL(
                """SELECT c.id, c.partner_id, p.collection_risk_band->>%(key)s
                     FROM collection_case c JOIN res_partner p ON p.id = c.partner_id
                    WHERE c.id = ANY(%(ids)s)
                      AND (p.collection_user_id->>%(key)s) IS NULL
                    ORDER BY c.id""",
                key=key,
                ids=self.ids,
            )
        )
        todo = self.env.cr.fetchall()
        if not todo:
            return
        load = dict(
            self._read_group(
                [("company_id", "=", company.id), ("state", "=", "open")],
                ["user_id"],
                ["__count"],
            )
        )
        load = {user.id: count for user, count in load.items() if user}
        chosen = {}
        for case_id, partner_id, band in todo:
            rule = rules.filtered(
                lambda r, b=band: not r.risk_band or r.risk_band == b
            )[:1]
            if not rule.user_ids:
                continue
            user = min(rule.user_ids, key=lambda u: (load.get(u.id, 0), u.id))
            load[user.id] = load.get(user.id, 0) + 1
            chosen.setdefault(user.id, []).append((case_id, partner_id))
        for user_id, pairs in chosen.items():
            partners = self.env["res.partner"].browse([p for _c, p in pairs])
            partners.with_company(company).write({"collection_user_id": user_id})
            self.browse([c for c, _p in pairs]).write({"user_id": user_id})
