from datetime import timedelta

from stdnum import get_cc_module
from stdnum.exceptions import ValidationError as StdnumError

from odoo import fields, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.fields import Command
from odoo.http import request
from odoo.tools import format_date

from odoo.addons.account_payment.controllers.portal import PortalAccount
from odoo.addons.portal.controllers.portal import pager as portal_pager

SOON_DAYS = 30
ALERT_DAYS = 7
PLANS_PER_PAGE = 20
# Plans the customer sees: everything once proposed, and its own requests.
PORTAL_PLAN_DOMAIN = ["|", ("state", "!=", "draft"), ("portal_requested", "=", True)]
# Plans whose invoices are paid through them: listed under the plan, not with a
# Pay button of their own.
AGREED_PLAN_STATES = ("accepted", "active")
# Plans that hold their invoices: no other plan may take them.
HOLDING_PLAN_STATES = ("proposed", "accepted", "active")


class CollectionsPortal(PortalAccount):
    """The customer's side of collections: a summary of what to pay, its payment
    plans (accept, decline, request, pay an installment, automatic debit) and its
    promises to pay.

    Everything is read through the portal user's own access rights (record rules
    limit them to its commercial partner) or checked against the document's access
    token; ``sudo`` only writes what that check allowed.
    """

    # ------------------------------------------------------------------
    # Home: counters and the due-soon alert
    # ------------------------------------------------------------------

    @http.route()
    def home(self, **kw):
        """The due-soon alert is counted with the page, so that its title agrees
        with its number (one invoice, several invoices)."""
        response = super().home(**kw)
        if getattr(response, "qcontext", None) is not None:
            response.qcontext.update(
                self._prepare_home_portal_values(["collections_due_count"])
            )
        return response

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "payment_plan_count" in counters:
            Plan = request.env["collection.payment.plan"]
            values["payment_plan_count"] = (
                Plan.search_count(PORTAL_PLAN_DOMAIN) if Plan.has_access("read") else 0
            )
        if "promise_count" in counters:
            Promise = request.env["collection.promise"]
            values["promise_count"] = (
                Promise.search_count([("state", "=", "open")])
                if Promise.has_access("read")
                else 0
            )
        if "collections_due_count" in counters:
            values["collections_due_count"] = (
                request.env["account.move"].search_count(
                    self._collections_invoice_domain(
                        until=fields.Date.context_today(request.env.user)
                        + timedelta(days=ALERT_DAYS)
                    )
                )
                if request.env["account.move"].has_access("read")
                else 0
            )
        return values

    def _collections_planned_ids(self, states=AGREED_PLAN_STATES):
        """Ids of the user's invoices in a payment plan in ``states``."""
        partner = request.env.user.partner_id.commercial_partner_id
        return (
            request.env["collection.payment.plan"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", partner.id),
                    ("state", "in", states),
                ]
            )
            .invoice_ids.ids
        )

    def _collections_invoice_domain(self, until=None, overdue=False, planned=False):
        """The user's open customer invoices (the record rules keep them to its
        commercial partner), due by ``until`` or before today; those of an
        agreed payment plan (paid through the plan) only with ``planned``."""
        today = fields.Date.context_today(request.env.user)
        partner = request.env.user.partner_id.commercial_partner_id
        domain = [
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "in", ("not_paid", "partial")),
            ("commercial_partner_id", "=", partner.id),
        ]
        if not planned:
            domain.append(("id", "not in", self._collections_planned_ids()))
        if overdue:
            domain.append(("invoice_date_due", "<", today))
        if until:
            domain.append(("invoice_date_due", "<=", until))
        return domain

    # ------------------------------------------------------------------
    # Errors: a page with the reason and a 4xx status, never a 500
    # ------------------------------------------------------------------

    def _collections_error(self, message, status=400):
        return request.render(
            "collections_proactive.portal_collections_error",
            {"error_message": message, "page_name": "collections_error"},
            status=status,
        )

    def _plan_check_access(self, plan_id, access_token=None):
        """The plan (sudo) when the user may see it: its own, or with the plan's
        access token. None otherwise."""
        if not (isinstance(access_token, str) and access_token.isascii()):
            # A token is ASCII text; anything else is no token at all.
            access_token = None
        try:
            return self._document_check_access(
                "collection.payment.plan", plan_id, access_token
            )
        except (AccessError, MissingError):
            return None

    def _not_found(self):
        return self._collections_error(
            request.env._(
                "This payment plan does not exist or is not yours. Check the link "
                "you received, or sign in with your own account."
            ),
            status=404,
        )

    @staticmethod
    def _to_int(value):
        """``value`` as an id or count PostgreSQL can hold, else None."""
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            return None
        return number if -(2**31) <= number < 2**31 else None

    @staticmethod
    def _text(value, limit=2000):
        """Posted text as it may be stored: stripped, without NUL characters
        (PostgreSQL refuses them), at most ``limit`` characters. Anything else
        than text (a file part of a multipart form) is no text at all."""
        if not isinstance(value, str):
            return ""
        return value.replace("\x00", "").strip()[:limit]

    def _is_plan_customer(self, plan):
        """Whether the logged-in user is the plan's customer (or one of its
        contacts): the link alone makes a visitor, not the card holder."""
        user = request.env.user
        return (
            not user._is_public()
            and user.partner_id.commercial_partner_id
            == plan.partner_id.commercial_partner_id
        )

    # ------------------------------------------------------------------
    # My payments: the summary
    # ------------------------------------------------------------------

    @http.route(
        "/my/collections", type="http", auth="user", website=True, sitemap=False
    )
    def portal_my_collections(self, **kw):
        return request.render(
            "collections_proactive.portal_my_collections",
            self._collections_summary_values(),
        )

    def _collections_overdue_values(self, **extra):
        """The customer's overdue invoices and the plan policy of its band: what
        the plan request page needs, and the start of the summary."""
        env = request.env
        today = fields.Date.context_today(env.user)
        Move = env["account.move"]
        overdue = (
            Move.search(
                self._collections_invoice_domain(overdue=True),
                order="invoice_date_due, id",
            )
            if Move.has_access("read")
            else Move
        )
        partner = env.user.partner_id.commercial_partner_id
        company = overdue[:1].company_id or env.company
        # What a new plan may take: not what a proposal holds already.
        held = set(self._collections_planned_ids(HOLDING_PLAN_STATES))
        return {
            "today": today,
            "overdue_invoices": overdue,
            "plannable_invoices": overdue.filtered(lambda move: move.id not in held),
            "collections_company": company,
            "plan_policy": env["collection.plan.policy"]._for_partner(
                partner.sudo(), company
            ),
            **extra,
        }

    def _collections_summary_values(self):
        values = self._collections_overdue_values(page_name="collections")
        env, today = request.env, values["today"]
        Move = env["account.move"]
        soon = (
            Move.search(
                self._collections_invoice_domain(
                    until=today + timedelta(days=SOON_DAYS)
                )
                + [("invoice_date_due", ">=", today)],
                order="invoice_date_due, id",
            )
            if Move.has_access("read")
            else Move
        )
        Plan = env["collection.payment.plan"]
        Promise = env["collection.promise"]
        company = values["collections_company"]
        promises = (
            Promise.search([("state", "=", "open")])
            if Promise.has_access("read")
            else Promise
        )
        values.update(
            soon_invoices=soon,
            plans=(
                Plan.search([("state", "in", ("proposed", "active"))])
                if Plan.has_access("read")
                else Plan
            ),
            promises=promises,
            # What is still owed on each promise: promised less paid since.
            promise_left=promises._amount_left(),
            promise_max_date=today
            + timedelta(days=company.collection_promise_max_days or 365),
        )
        return values

    @http.route(
        "/my/collections/promise",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def portal_collections_promise(self, promised_date=None, note=None, **post):
        """The customer promises to pay some overdue invoices by a date."""
        env = request.env
        invoice_ids = [
            self._to_int(value)
            for value in request.httprequest.form.getlist("invoice_ids")
        ]
        if not invoice_ids or None in invoice_ids:
            return self._collections_error(
                env._("Choose the overdue invoices you promise to pay.")
            )
        invoices = env["account.move"].search(
            self._collections_invoice_domain(overdue=True, planned=True)
            + [("id", "in", invoice_ids)]
        )
        if len(invoices) != len(set(invoice_ids)):
            return self._collections_error(
                env._("Some of these invoices are not yours or not overdue."),
                status=403,
            )
        if len(invoices.company_id) > 1:
            return self._collections_error(
                env._("Promise the invoices of one company at a time.")
            )
        try:
            when = fields.Date.to_date(self._text(promised_date, 64) or None)
        except ValueError:
            when = None
        if not when:
            return self._collections_error(env._("Give the date you will pay by."))
        try:
            with env.cr.savepoint():
                promise = (
                    env["collection.promise"]
                    .sudo()
                    .with_company(invoices.company_id)
                    .create(
                        {
                            "partner_id": invoices.commercial_partner_id.id,
                            "company_id": invoices.company_id.id,
                            "invoice_ids": [Command.set(invoices.ids)],
                            "amount": sum(invoices.mapped("amount_residual_signed")),
                            "promised_date": when,
                            "source": "portal",
                            "note": self._text(note) or False,
                        }
                    )
                )
                # Said to the collector, in the collector's language.
                invoices.company_id.sudo()._collection_notify(
                    promise,
                    promise.partner_id,
                    lambda staff: staff._(
                        "Promise to pay made on the portal by %(date)s",
                        date=format_date(staff, when),
                    ),
                )
        except (UserError, ValidationError) as error:
            return self._collections_error(error.args[0])
        return request.redirect("/my/collections?promised=1")

    # ------------------------------------------------------------------
    # Payment plans: list, detail, agreement PDF
    # ------------------------------------------------------------------

    @http.route(
        ["/my/payment_plans", "/my/payment_plans/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
        sitemap=False,
    )
    def portal_my_payment_plans(self, page=1, **kw):
        Plan = request.env["collection.payment.plan"]
        if not Plan.has_access("read"):
            return request.redirect("/my")
        count = Plan.search_count(PORTAL_PLAN_DOMAIN)
        pager = portal_pager(
            url="/my/payment_plans",
            total=count,
            page=page,
            step=PLANS_PER_PAGE,
        )
        plans = Plan.search(
            PORTAL_PLAN_DOMAIN,
            order="id desc",
            limit=PLANS_PER_PAGE,
            offset=pager["offset"],
        )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "plans": plans,
                "pager": pager,
                "page_name": "payment_plans",
                "default_url": "/my/payment_plans",
            }
        )
        return request.render("collections_proactive.portal_my_payment_plans", values)

    @http.route(
        "/my/payment_plans/<int:plan_id>",
        type="http",
        auth="public",
        website=True,
        sitemap=False,
    )
    def portal_payment_plan(
        self, plan_id, access_token=None, report_type=None, download=False, **kw
    ):
        plan = self._plan_check_access(plan_id, access_token)
        if not plan:
            return self._not_found()
        if report_type in ("html", "pdf", "text"):
            return self._show_report(
                model=plan,
                report_type=report_type,
                report_ref="collections_proactive.collection_payment_plan_report",
                download=download,
            )
        # The page's alert says what the customer's own form got wrong, never
        # what a link says.
        kw.pop("message", None)
        return request.render(
            "collections_proactive.portal_payment_plan_page",
            self._plan_page_values(plan, access_token, **kw),
        )

    def _plan_page_values(self, plan, access_token, **kw):
        values = self._get_page_view_values(
            plan, access_token, {}, "my_payment_plans_history", False, **kw
        )
        tokens = request.env["payment.token"]
        # Only the customer's own users see its saved cards: a visitor with the
        # plan's link (another customer, or nobody logged in) sees none.
        is_plan_customer = self._is_plan_customer(plan)
        if is_plan_customer and plan.state in ("proposed", "active"):
            tokens = (
                request.env["payment.token"]
                .sudo()
                .search(
                    [
                        ("partner_id", "child_of", plan.partner_id.id),
                        ("company_id", "=", plan.company_id.id),
                    ]
                )
            )
        values.update(
            {
                "plan": plan,
                "page_name": "payment_plan",
                "next_installment": plan._portal_next_installment(),
                "saved_tokens": tokens,
                "is_plan_customer": is_plan_customer,
                "vat_label": plan.partner_id.country_id.vat_label
                or request.env._("Tax ID"),
                "message": kw.get("message"),
            }
        )
        return values

    # ------------------------------------------------------------------
    # Accept, decline
    # ------------------------------------------------------------------

    def _check_vat(self, plan, vat):
        """The typed tax ID, compacted, when valid for the customer's country and
        the customer's own (when it has one); else raise ValidationError."""
        env = request.env
        partner = plan.partner_id
        country = (partner.country_id.code or "").lower()
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
                        label=partner.country_id.vat_label or env._("tax ID"),
                    )
                ) from error
            own = module.compact(national(partner.vat)) if partner.vat else ""
        else:
            typed = "".join(ch for ch in typed.upper() if ch.isalnum())
            own = "".join(ch for ch in (partner.vat or "").upper() if ch.isalnum())
        if own and typed != own:
            raise ValidationError(
                env._(
                    "This tax ID is not the one of %(customer)s.",
                    customer=partner.display_name,
                )
            )
        return module.format(typed) if module and hasattr(module, "format") else typed

    def _plan_refusal(self, plan, action):
        """Why ``action`` (accept, decline) cannot be done on this plan now."""
        env = request.env
        if plan.state != "proposed":
            states = dict(plan._fields["state"]._description_selection(env))
            return env._(
                "This payment plan cannot be %(action)s any more: it is %(state)s.",
                action=action,
                state=states[plan.state].lower(),
            )
        first = plan.installment_ids.sorted("date")[:1]
        if first and first.date < fields.Date.context_today(plan):
            return env._(
                "This proposal has expired: its first installment was due on "
                "%(date)s. Ask us for a new one.",
                date=format_date(env, first.date),
            )
        return None

    @http.route(
        "/my/payment_plans/<int:plan_id>/accept",
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def portal_payment_plan_accept(
        self, plan_id, access_token=None, signer_name=None, signer_vat=None, **post
    ):
        env = request.env
        plan = self._plan_check_access(plan_id, access_token)
        if not plan:
            return self._not_found()
        refusal = self._plan_refusal(plan, env._("accepted"))
        if refusal:
            return self._collections_error(refusal, status=409)
        name = self._text(signer_name, 201)
        if len(name) < 3 or len(name) > 200:
            return self._plan_form_error(
                plan, access_token, env._("Type your full name to sign.")
            )
        try:
            vat = self._check_vat(plan, self._text(signer_vat, 64))
            with env.cr.savepoint():
                # Locked: a double submission waits, then finds it accepted.
                env.cr.execute(
                    "SELECT id FROM collection_payment_plan WHERE id = %s FOR UPDATE",
                    (plan.id,),
                )
                plan.invalidate_recordset(["state"])
                refusal = self._plan_refusal(plan, env._("accepted"))
                if refusal:
                    return self._collections_error(refusal, status=409)
                plan.action_record_acceptance(
                    name,
                    note=env._("Accepted on the portal."),
                    ip=request.httprequest.remote_addr,
                    vat=vat,
                )
        except (UserError, ValidationError) as error:
            return self._plan_form_error(plan, access_token, error.args[0])
        plan.company_id.sudo()._collection_notify(
            plan,
            plan.partner_id,
            lambda staff: staff._("%(plan)s accepted on the portal", plan=plan.name),
        )
        return request.redirect(plan.get_portal_url(query_string="&accepted=1"))

    def _plan_form_error(self, plan, access_token, message):
        """The plan's page again, with what was wrong, as a 400."""
        return request.render(
            "collections_proactive.portal_payment_plan_page",
            self._plan_page_values(plan, access_token, message=message),
            status=400,
        )

    @http.route(
        "/my/payment_plans/<int:plan_id>/decline",
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def portal_payment_plan_decline(
        self, plan_id, access_token=None, decline_reason=None, **post
    ):
        env = request.env
        plan = self._plan_check_access(plan_id, access_token)
        if not plan:
            return self._not_found()
        if plan.state != "proposed":
            return self._collections_error(
                self._plan_refusal(plan, env._("declined")), status=409
            )
        reason = self._text(decline_reason, 2001)
        if not reason or len(reason) > 2000:
            return self._plan_form_error(
                plan, access_token, env._("Tell us why you decline the plan.")
            )
        with env.cr.savepoint():
            plan.action_decline(reason)
            plan.company_id.sudo()._collection_notify(
                plan,
                plan.partner_id,
                lambda staff: staff._(
                    "%(plan)s declined on the portal", plan=plan.name
                ),
                note=reason,
            )
        return request.redirect(plan.get_portal_url(query_string="&declined=1"))

    # ------------------------------------------------------------------
    # Request a plan
    # ------------------------------------------------------------------

    @http.route(
        "/my/payment_plans/request",
        type="http",
        auth="user",
        methods=["GET", "POST"],
        website=True,
        sitemap=False,
    )
    def portal_payment_plan_request(self, **post):
        env = request.env
        values = self._collections_overdue_values(page_name="payment_plan_request")
        if not values["overdue_invoices"]:
            return self._collections_error(
                env._("You have no overdue invoice: there is nothing to spread."),
                status=409,
            )
        # Not the invoices a proposal holds already: the page says so.
        overdue = values["plannable_invoices"]
        policy = values["plan_policy"]
        values["max_installments"] = policy.max_installments or 1
        values["first_date"] = fields.Date.context_today(env.user) + timedelta(days=7)
        if request.httprequest.method != "POST":
            return request.render(
                "collections_proactive.portal_payment_plan_request", values
            )
        invoice_ids = [
            self._to_int(value)
            for value in request.httprequest.form.getlist("invoice_ids")
        ]
        count = self._to_int(post.get("installment_count"))
        if not invoice_ids or None in invoice_ids:
            return self._collections_error(
                env._("Choose the overdue invoices the plan should cover.")
            )
        invoices = overdue.filtered(lambda move: move.id in invoice_ids)
        if len(invoices) != len(set(invoice_ids)):
            # Checked before anything is created: a refused request leaves no
            # draft and takes no plan number.
            if set(invoice_ids) & set(
                self._collections_planned_ids(HOLDING_PLAN_STATES)
            ):
                return self._collections_error(
                    env._("Some of these invoices are already in a payment plan."),
                    status=409,
                )
            return self._collections_error(
                env._("Some of these invoices are not yours or not overdue."),
                status=403,
            )
        if len(invoices.company_id) > 1:
            return self._collections_error(
                env._("Ask for a plan for the invoices of one company at a time.")
            )
        if invoices.currency_id != invoices.company_id.currency_id:
            return self._collections_error(
                env._(
                    "Ask for a plan for the invoices in %(currency)s only.",
                    currency=invoices.company_id.currency_id.name,
                )
            )
        if count is None or not 1 <= count <= values["max_installments"]:
            return self._collections_error(
                env._(
                    "Choose between 1 and %(max)s installments.",
                    max=values["max_installments"],
                )
            )
        frequency = self._text(post.get("frequency"), 32) or "monthly"
        Plan = env["collection.payment.plan"].sudo()
        if frequency not in dict(Plan._fields["frequency"].selection):
            return self._collections_error(env._("Choose how often to pay."))
        company = invoices.company_id
        # The least down payment the band's policy asks, so that a request within
        # policy is proposed at once.
        down_payment = company.currency_id.round(
            sum(invoices.mapped("amount_residual_signed"))
            * (policy.min_down_payment_percent or 0.0)
            / 100
        )
        try:
            with env.cr.savepoint():
                plan = Plan.with_company(company).create(
                    {
                        "partner_id": invoices.commercial_partner_id.id,
                        "company_id": company.id,
                        "invoice_ids": [Command.set(invoices.ids)],
                        "down_payment": down_payment,
                        "installment_count": count,
                        "frequency": frequency,
                        "first_date": values["first_date"],
                        "portal_requested": True,
                    }
                )
                plan._check_plan()
                if plan.policy_issue or plan.policy_id.manager_approval:
                    plan.company_id.sudo()._collection_notify(
                        plan,
                        plan.partner_id,
                        lambda staff: staff._(
                            "Payment plan requested on the portal: review and "
                            "propose %(plan)s",
                            plan=plan.name,
                        ),
                        note=plan.policy_issue,
                    )
                else:
                    # Within the policy of the customer's band and no manager
                    # needed: proposed at once, for the customer to sign.
                    plan.action_propose()
                    plan.company_id.sudo()._collection_notify(
                        plan,
                        plan.partner_id,
                        lambda staff: staff._(
                            "Payment plan %(plan)s requested and proposed on the "
                            "portal",
                            plan=plan.name,
                        ),
                    )
        except (UserError, ValidationError) as error:
            return self._collections_error(error.args[0])
        return request.redirect(plan.get_portal_url(query_string="&requested=1"))
