import json
from datetime import timedelta

from markupsafe import Markup
from stdnum import get_cc_module
from stdnum.exceptions import ValidationError as StdnumError

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, ValidationError

from ..tools.portal_access import thread_access_kwargs
from ..tools.signing import sign
from .res_company import RISK_MODEL_STATES

RISK_BANDS = [
    ("low", "Low"),
    ("medium", "Medium"),
    ("high", "High"),
    ("critical", "Critical"),
]
CONFIDENCE_LEVELS = [("low", "Low"), ("medium", "Medium"), ("high", "High")]
# Payment plans whose lines are paid through them: not offered to pay alone.
AGREED_PLAN_STATES = ("accepted", "active")
# Payment plans that hold their lines: no other plan may take them.
HOLDING_PLAN_STATES = ("proposed", "accepted", "active")


class ResPartner(models.Model):
    _inherit = "res.partner"

    # Company-dependent: a customer of two companies has a score in each, computed
    # from its history in that company only (collection.risk.scoring).
    collection_risk_score = fields.Integer(
        string="Risk Score",
        company_dependent=True,
        readonly=True,
        copy=False,
        help="0 to 100, higher is riskier: how likely a new invoice of this customer "
        "is to be paid after its due date, weighted by how late it pays when it is "
        "late, from its own payment history in this company.",
    )
    collection_risk_band = fields.Selection(
        RISK_BANDS,
        string="Risk Band",
        company_dependent=True,
        readonly=True,
        copy=False,
    )
    collection_risk_confidence = fields.Selection(
        CONFIDENCE_LEVELS,
        string="Risk Confidence",
        company_dependent=True,
        readonly=True,
        copy=False,
        help="How much history the score rests on: with little, the company's "
        "average weighs in.",
    )
    collection_risk_computed_at = fields.Datetime(
        string="Risk Computed On", company_dependent=True, readonly=True, copy=False
    )
    collection_risk_factors = fields.Text(
        string="Risk Factors (technical)",
        company_dependent=True,
        readonly=True,
        copy=False,
    )
    collection_strategy_id = fields.Many2one(
        "collection.strategy",
        company_dependent=True,
        copy=False,
        help="Overrides the strategy of the customer's risk band in this company.",
    )
    collection_no_email = fields.Boolean(
        string="No Collection Emails", help="The customer asked for no reminder emails."
    )
    collection_no_sms = fields.Boolean(
        string="No Collection SMS", help="The customer asked for no reminder SMS."
    )
    collection_whatsapp_optin = fields.Boolean(
        string="Accepts WhatsApp Reminders",
        copy=False,
        help="The customer agreed to get payment reminders by WhatsApp: WhatsApp "
        "steps reach only such customers (the others get SMS or email).",
    )
    collection_whatsapp_optin_date = fields.Datetime(
        string="WhatsApp Accepted On",
        compute="_compute_collection_whatsapp_optin_date",
        store=True,
        copy=False,
    )
    collection_no_whatsapp = fields.Boolean(
        string="No Collection WhatsApp",
        copy=False,
        help="The customer asked for no reminders by WhatsApp (a STOP reply or "
        "the unsubscribe link).",
    )
    collection_whatsapp_unreachable = fields.Boolean(
        string="Not on WhatsApp",
        copy=False,
        help="WhatsApp answered that the customer's number cannot receive its "
        "messages: WhatsApp steps go by SMS or email. Clear it when the number "
        "changes.",
    )
    collection_no_followup = fields.Boolean(
        string="No Follow-up", copy=False, help="Send this customer no reminder at all."
    )
    collection_no_followup_reason = fields.Char(
        string="No Follow-up Reason", copy=False
    )
    collection_user_id = fields.Many2one(
        "res.users",
        string="Collector",
        company_dependent=True,
        copy=False,
        domain="[('share', '=', False)]",
        help="Who works this customer's collection cases in this company.",
    )
    collection_case_ids = fields.One2many(
        "collection.case", "partner_id", string="Collection Cases"
    )
    collection_case_count = fields.Integer(compute="_compute_collection_case_count")
    collection_promise_count = fields.Integer(
        compute="_compute_collection_promise_plan_counts",
        groups="collections_proactive.group_collections_user",
    )
    collection_plan_count = fields.Integer(
        compute="_compute_collection_promise_plan_counts",
        groups="collections_proactive.group_collections_user",
    )
    collection_reminder_ids = fields.One2many(
        "collection.reminder", "partner_id", string="Reminders"
    )
    collection_reminder_count = fields.Integer(
        compute="_compute_collection_reminder_count"
    )
    collection_risk_run_seq = fields.Integer(
        string="Risk Run (technical)",
        company_dependent=True,
        readonly=True,
        copy=False,
        help="The scoring run that last scored this customer, so an interrupted run "
        "resumes where it stopped.",
    )
    collection_risk_explanation = fields.Html(
        string="Why this score",
        compute="_compute_collection_risk_explanation",
        sanitize=False,
    )

    collection_risk_method = fields.Selection(
        RISK_MODEL_STATES,
        string="Risk Method",
        compute="_compute_collection_risk_method",
    )

    # Reminder channels a customer can unsubscribe from by the signed link, and
    # the flag each one sets.
    COLLECTION_OPTOUT_FIELDS = {
        "email": "collection_no_email",
        "sms": "collection_no_sms",
        "whatsapp": "collection_no_whatsapp",
    }

    def _collection_optout_token(self, channel):
        """The signature of this customer's unsubscribe link for ``channel``:
        the one place it is computed, for the messages and the controller."""
        self.ensure_one()
        return sign(self.env, "collections_proactive-optout", (self.id, channel))

    def _collection_optout_url(self, channel, base_url=None):
        self.ensure_one()
        return (
            f"{base_url or self.get_base_url()}/collections/optout/{channel}/"
            f"{self.id}/"
            f"{self._collection_optout_token(channel)}"
        )

    def _collection_optout_check(self, channel, token):
        """The customer the link ``/collections/optout/<channel>/<id>/<token>``
        unsubscribes, or an empty recordset: the same answer for a malformed
        token, a wrong one and an id that does not exist, so that the link
        reveals nothing about which customers exist."""
        self.ensure_one()
        if (
            channel not in self.COLLECTION_OPTOUT_FIELDS
            or not isinstance(token, str)
            or not token.isascii()
        ):
            return self.browse()
        # A signature is computed even for an id that does not exist, so that
        # both take the same time.
        expected = self._collection_optout_token(channel)
        partner = self.sudo().exists()
        if not (partner and tools.consteq(expected, token)):
            return self.browse()
        return partner

    @api.model
    def _get_thread_with_access(self, thread_id, mode="read", **kwargs):
        return super()._get_thread_with_access(
            thread_id, mode, **thread_access_kwargs(self, thread_id, kwargs)
        )

    @api.depends_context("company")
    def _compute_collection_reminder_count(self):
        counts = dict(
            self.env["collection.reminder"]._read_group(
                [
                    ("partner_id", "in", self.ids),
                    ("company_id", "=", self.env.company.id),
                ],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.collection_reminder_count = counts.get(partner, 0)

    @api.depends_context("company")
    def _compute_collection_case_count(self):
        counts = dict(
            self.env["collection.case"]._read_group(
                [
                    ("partner_id", "in", self.commercial_partner_id.ids),
                    ("company_id", "=", self.env.company.id),
                ],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.collection_case_count = counts.get(partner.commercial_partner_id, 0)

    @api.depends_context("company")
    def _compute_collection_promise_plan_counts(self):
        counts = {}
        for model in ("collection.promise", "collection.payment.plan"):
            counts[model] = dict(
                self.env[model]._read_group(
                    [
                        ("partner_id", "in", self.commercial_partner_id.ids),
                        ("company_id", "=", self.env.company.id),
                    ],
                    ["partner_id"],
                    ["__count"],
                )
            )
        for partner in self:
            commercial = partner.commercial_partner_id
            partner.collection_promise_count = counts["collection.promise"].get(
                commercial, 0
            )
            partner.collection_plan_count = counts["collection.payment.plan"].get(
                commercial, 0
            )

    def _collection_action_of(self, xmlid):
        """The action ``xmlid`` on the customer's records in the current
        company."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = [
            ("partner_id", "=", self.commercial_partner_id.id),
            ("company_id", "=", self.env.company.id),
        ]
        return action

    def action_open_collection_promises(self):
        return self._collection_action_of(
            "collections_proactive.collection_promise_action"
        )

    def action_open_collection_plans(self):
        return self._collection_action_of(
            "collections_proactive.collection_payment_plan_action"
        )

    @api.depends("collection_whatsapp_optin")
    def _compute_collection_whatsapp_optin_date(self):
        now = fields.Datetime.now()
        for partner in self:
            if not partner.collection_whatsapp_optin:
                partner.collection_whatsapp_optin_date = False
            elif not partner.collection_whatsapp_optin_date:
                partner.collection_whatsapp_optin_date = now

    def action_open_collection_cases(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.collection_case_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {"search_default_filter_open": 0}
        return action

    def write(self, vals):
        result = super().write(vals)
        if "collection_no_followup" in vals and not self.env.context.get(
            "collection_case_sync"
        ):
            self.env["collection.case"].sudo()._collection_refresh(
                self, self.env["res.company"].sudo().search([])
            )
        if "collection_user_id" in vals and not self.env.context.get(
            "collection_case_sync"
        ):
            # The open cases follow the customer's collector in this company.
            cases = (
                self.env["collection.case"]
                .sudo()
                .search(
                    [
                        ("partner_id", "in", self.ids),
                        ("company_id", "=", self.env.company.id),
                        ("state", "=", "open"),
                    ]
                )
            )
            cases.with_context(collection_case_sync=True).write(
                {"user_id": vals["collection_user_id"]}
            )
        return result

    # ------------------------------------------------------------------
    # What the customer owes, line by line: promises, plans, the portal
    # ------------------------------------------------------------------

    def _collection_open_lines(self, company=None):
        """The customer's open receivable lines of invoices (what it owes) in
        ``company`` (all when none), read with the caller's access rights,
        oldest due first (``account.move.line._collection_open_domain``)."""
        self.ensure_one()
        Line = self.env["account.move.line"]
        domain = Line._collection_open_domain(owed_only=True) + [
            ("move_id.commercial_partner_id", "=", self.commercial_partner_id.id)
        ]
        if company:
            domain.append(("company_id", "=", company.id))
        return Line.search(domain, order="date_maturity, id")

    def _collection_left_to_pay(self, company):
        """``{line id: left to pay}`` for every open line the customer owes in
        ``company``, once its credits (credit notes, unreconciled payments:
        open lines with a negative residual) settle the oldest debts first, as
        the cases count them. A line its credits cover has nothing left."""
        self.ensure_one()
        Line = self.env["account.move.line"].sudo()
        commercial = self.commercial_partner_id
        open_lines = Line.search(
            Line._collection_open_domain()
            + [
                ("partner_id.commercial_partner_id", "=", commercial.id),
                ("company_id", "=", company.id),
            ],
            order="date_maturity, id",
        )
        owed = open_lines.filtered_domain(Line._collection_open_domain(owed_only=True))
        credits = -sum((open_lines - owed).mapped("amount_residual"))
        currency = company.currency_id
        left = {}
        for line in owed:
            settled = min(max(credits, 0.0), line.amount_residual)
            credits -= settled
            left[line.id] = currency.round(line.amount_residual - settled)
        return left

    def _collection_planned_lines(self, states=AGREED_PLAN_STATES):
        """The customer's receivable lines in a payment plan in ``states``: an
        agreed plan's are paid through the plan; a proposal holds its own."""
        self.ensure_one()
        return (
            self.env["collection.payment.plan"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", self.commercial_partner_id.id),
                    ("state", "in", states),
                ]
            )
            .move_line_ids
        )

    def _collection_due_lines(
        self, today=None, until=None, overdue=False, planned=False
    ):
        """``(lines, left)``: the customer's open lines with something left to
        pay after its credits, read with the caller's access rights, oldest
        due first, and ``{line id: left to pay}``. Due by ``until``, or before
        ``today`` with ``overdue``; those of an agreed payment plan (paid
        through the plan) only with ``planned``."""
        self.ensure_one()
        Line = self.env["account.move.line"]
        if not Line.has_access("read"):
            return Line, {}
        today = today or fields.Date.context_today(self)
        lines = self._collection_open_lines()
        if not planned:
            lines -= self._collection_planned_lines()
        if overdue:
            lines = lines.filtered(lambda line: line.date_maturity < today)
        if until:
            lines = lines.filtered(lambda line: line.date_maturity <= until)
        left = {}
        for company in lines.company_id:
            left.update(self._collection_left_to_pay(company))
        lines = lines.filtered(lambda line: left.get(line.id, 0.0) > 0)
        return lines, {line.id: left[line.id] for line in lines}

    def _collection_portal_lines(self, today=None):
        """What the customer's portal summary shows, line by line (an invoice
        with terms at 30/60/90 days has three lines, each on its own date),
        after its credits and outside its agreed plans: ``due_now`` (due by
        today, overdue first), ``due_later``, ``overdue``, ``agreeable`` (what
        a promise or a plan request may be about: the overdue lines and, as
        the plan policy of the customer's band allows, those falling due
        soon), ``plannable`` (what a plan request may cover: not what a plan
        holds already, the installments due later too), ``plannable_now`` (a
        request is for these, at least one) and ``left`` ({line id: left to
        pay})."""
        self.ensure_one()
        today = today or fields.Date.context_today(self)
        lines, left = self._collection_due_lines(today)
        held = self._collection_planned_lines(HOLDING_PLAN_STATES)
        due_now = lines.filtered(lambda line: line.date_maturity <= today)
        overdue = due_now.filtered(lambda line: line.date_maturity < today)
        until = {
            company: self._collection_agreeable_until(company, today)
            for company in lines.company_id
        }
        agreeable = overdue | lines.filtered(
            lambda line: line.date_maturity <= until[line.company_id]
        )
        return {
            "due_now": due_now,
            "due_later": lines - due_now,
            "overdue": overdue,
            "agreeable": agreeable,
            "plannable": lines - held,
            "plannable_now": agreeable - held,
            "left": left,
        }

    def _collection_agreeable_until(self, company, today):
        """The last due date a promise or a plan request of the customer may
        be about in ``company``: before today (overdue) unless the plan policy
        of its band lets it agree on what falls due within some days."""
        days = (
            self.env["collection.plan.policy"]
            ._for_partner(self.sudo(), company)
            .early_days
        )
        return today + timedelta(days=days) if days else today - timedelta(days=1)

    def _collection_pick_lines(
        self, allowed, line_ids=(), invoice_ids=(), by_invoice=None
    ):
        """The lines the customer chose on the portal among ``allowed``, oldest
        due first: by line (``line_ids``), or by invoice (``invoice_ids``: its
        lines among ``by_invoice``, by default ``allowed``; what older pages
        send). None when one of them is not there to choose."""
        by_invoice = allowed if by_invoice is None else by_invoice
        wanted, invoices = set(line_ids), set(invoice_ids)
        picked = allowed.filtered(lambda line: line.id in wanted) | by_invoice.filtered(
            lambda line: line.move_id.id in invoices
        )
        if not (wanted <= set(picked.ids) and invoices <= set(picked.move_id.ids)):
            return None
        return picked.sorted(lambda line: (line.date_maturity, line.id))

    def _collection_due_invoice_count(self, until, today=None):
        """How many of the customer's invoices have something to pay by
        ``until`` outside its agreed plans (the portal's alert)."""
        self.ensure_one()
        lines, _left = self._collection_due_lines(today, until=until)
        return len(lines.move_id)

    def _collection_check_vat(self, vat):
        """The tax ID ``vat`` typed for this customer (accepting a plan on the
        portal), formatted, when valid for the customer's country and the
        customer's own (when it has one); else raise ValidationError."""
        self.ensure_one()
        env = self.env
        country = (self.country_id.code or "").lower()
        module = get_cc_module(country, "vat") if country else None
        typed = (vat or "").strip()
        if not typed:
            raise ValidationError(env._("Type the tax ID of the customer."))
        if module:

            def national(number):
                # Odoo stores VATs with or without the country prefix.
                if number[:2].upper() == country.upper() and not module.is_valid(
                    number
                ):
                    return number[2:]
                return number

            try:
                typed = module.validate(national(typed))
            except StdnumError as error:
                raise ValidationError(
                    env._(
                        "%(vat)s is not a valid %(label)s.",
                        vat=vat,
                        label=self.country_id.vat_label or env._("tax ID"),
                    )
                ) from error
            own = module.compact(national(self.vat)) if self.vat else ""
        else:
            typed = "".join(ch for ch in typed.upper() if ch.isalnum())
            own = "".join(ch for ch in (self.vat or "").upper() if ch.isalnum())
        if own and typed != own:
            raise ValidationError(
                env._(
                    "This tax ID is not the one of %(customer)s.",
                    customer=self.display_name,
                )
            )
        return module.format(typed) if module and hasattr(module, "format") else typed

    def action_collection_log_promise(self):
        self.ensure_one()
        return self.env["collection.promise"]._action_new(
            self.commercial_partner_id,
            self._collection_open_lines(self.env.company),
            self.env.company,
            overdue_only=True,
        )

    def action_collection_new_plan(self):
        self.ensure_one()
        return self.env["collection.payment.plan"]._action_new(
            self.commercial_partner_id,
            self._collection_open_lines(self.env.company),
            self.env.company,
        )

    def action_open_collection_reminders(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "collections_proactive.collection_reminder_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        return action

    @api.depends_context("company")
    def _compute_collection_risk_method(self):
        self.collection_risk_method = self.env.company.collection_risk_model_state

    @api.depends_context("company", "lang")
    @api.depends("collection_risk_factors")
    def _compute_collection_risk_explanation(self):
        window = self.env.company.collection_risk_window_days
        for partner in self:
            factors = json.loads(partner.collection_risk_factors or "[]")
            base = sum(f["points"] for f in factors if f["code"] == "base")
            lines = [
                self._collection_risk_sentence(factor, window)
                for factor in factors
                if factor["code"] != "base"
            ]
            if base:
                intro = self.env._(
                    "The score of %(score)s starts from %(base)s, what the "
                    "company's history predicts before this customer's own "
                    "record, and adds:",
                    base=round(base),
                    score=partner.collection_risk_score,
                )
            else:
                intro = self.env._(
                    "The score of %(score)s adds up these points:",
                    score=partner.collection_risk_score,
                )
            partner.collection_risk_explanation = (
                Markup("<p>%s</p><ul>%s</ul>")
                % (
                    intro,
                    Markup().join(
                        Markup("<li>%s</li>") % line for line in lines if line
                    ),
                )
                if lines
                else False
            )

    def _collection_risk_sentence(self, factor, window):
        """One factor as a plain sentence with the points it adds or removes."""
        value, code = factor["value"], factor["code"]
        months = round(window / 30.4)
        if code == "late_share":
            text = self.env._(
                "Pays %(percent)s%% of its invoiced amount late over the last "
                "%(months)s months",
                percent=round(value * 100),
                months=months,
            )
        elif code == "avg_days_late":
            days = round(value)
            if days > 0:
                text = self.env._("Pays %(days)s days late on average", days=days)
            elif days < 0:
                text = self.env._("Pays %(days)s days early on average", days=-days)
            else:
                text = self.env._("Pays on the due date on average")
        elif code == "overdue_share":
            if not value:
                return None
            text = self.env._(
                "%(percent)s%% of what it owes now is overdue",
                percent=round(value * 100),
            )
        elif code == "oldest_overdue":
            text = (
                self.env._(
                    "Its oldest unpaid invoice is %(days)s days overdue", days=value
                )
                if value
                else self.env._("Nothing is overdue now")
            )
        elif code == "trend":
            text = (
                self.env._("Recent invoices are paid late more often than before")
                if value > 0
                else self.env._(
                    "Recent invoices are paid on time more often than before"
                )
            )
        elif code == "broken_commitments":
            text = self.env._(
                "%(count)s broken promises or payment plans", count=round(value)
            )
        elif code == "credit_use":
            text = self.env._(
                "Uses %(percent)s%% of its credit limit", percent=round(value * 100)
            )
        elif code == "history":
            if value == 0:
                text = self.env._(
                    "No payment history yet: the company's average applies"
                )
            elif value < 10:
                text = self.env._(
                    "Only %(count)s settled invoices to judge from: the company's "
                    "average weighs in",
                    count=round(value),
                )
            else:
                text = self.env._(
                    "Judged on %(count)s settled invoices over %(months)s months",
                    count=round(value),
                    months=max(round(factor.get("tenure_days", 0) / 30.4), 1),
                )
        else:
            return None
        points = round(factor["points"])
        if points:
            text = self.env._(
                "%(reason)s (%(points)+d points)", reason=text, points=points
            )
        return text

    def action_collection_compute_risk(self):
        """Rescore these customers now, in the current company."""
        if not self.env.user.has_group("collections_proactive.group_collections_user"):
            raise AccessError(
                self.env._("Only collection users can rescore customers.")
            )
        scoring = self.env["collection.risk.scoring"].sudo()
        company = self.env.company.sudo()
        today = scoring._risk_today()
        scoring._risk_fit(company, today)
        scoring._risk_score_partners(company, self.commercial_partner_id.ids, today)
        return True

    def action_collection_preview_send(self):
        """Open the preview of what *Send Due Reminders Now* would do."""
        self.ensure_one()
        if not self.env.user.has_group("collections_proactive.group_collections_user"):
            raise AccessError(self.env._("Only collection users can send reminders."))
        return self.env["collection.send.wizard"].action_open(self)

    def action_collection_send_now(self):
        """Plan and send this customer's due reminders now, through the same engine,
        contact policy and log as the scheduled action."""
        self.ensure_one()
        if not self.env.user.has_group("collections_proactive.group_collections_user"):
            raise AccessError(self.env._("Only collection users can send reminders."))
        reminders = self.env["collection.reminder"].sudo()
        partner = self.commercial_partner_id
        reminders.env["collection.reminder.planner"]._plan_reminders(
            companies=self.env.company, partners=partner
        )
        if not reminders._reserve_customers(partner):
            return self._collection_notification(
                self.env._(
                    "The scheduled action is sending this customer's reminders "
                    "right now: each goes out once. Look at the reminders in a "
                    "minute."
                ),
                "warning",
            )
        todo = reminders.search(
            self.env["collection.send.wizard"]._sendable_domain(
                partner, self.env.company
            )
        )
        done = todo._send()
        sent = done.filtered(lambda r: r.state == "sent")
        deferred = done.filtered(lambda r: r.state == "planned")
        message = self.env._(
            "%(sent)s reminder(s) sent, %(deferred)s deferred by the contact policy, "
            "%(other)s skipped.",
            sent=len(sent),
            deferred=len(deferred),
            other=len(done - sent - deferred),
        )
        reasons = list(dict.fromkeys(filter(None, deferred.mapped("reason"))))
        if reasons:
            message += " " + "; ".join(reasons)
        waiting = reminders.search_count(
            [
                ("partner_id", "=", partner.id),
                ("company_id", "=", self.env.company.id),
                ("state", "=", "planned"),
            ]
        ) - len(deferred)
        if waiting > 0:
            message += " " + self.env._(
                "%(count)s more planned for later (a collections manager may send "
                "them now, within the contact policy).",
                count=waiting,
            )
        return self._collection_notification(message, "success" if sent else "warning")

    def _collection_notification(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Reminders"),
                "message": message,
                "type": kind,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
