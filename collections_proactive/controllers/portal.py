from datetime import timedelta

from odoo import fields, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request
from odoo.tools import format_date

from odoo.addons.account_payment.controllers.portal import PortalAccount
from odoo.addons.portal.controllers.portal import pager as portal_pager

from ..models.collection_payment_plan_agreement import PlanTaken

ALERT_DAYS = 7
PLANS_PER_PAGE = 20
# Plans the customer sees: everything once proposed, and its own requests.
PORTAL_PLAN_DOMAIN = ["|", ("state", "!=", "draft"), ("portal_requested", "=", True)]


class CollectionsPortal(PortalAccount):
    """The customer's side of collections: a summary of what to pay, its payment
    plans (accept, decline, request, pay an installment, automatic debit) and its
    promises to pay.

    Everything is read through the portal user's own access rights (record rules
    limit them to its commercial partner) or checked against the document's access
    token; ``sudo`` only writes what that check allowed. What is owed, what may be
    promised or planned, and the tax ID check are the models' decisions
    (``res.partner._collection_portal_lines``, ``collection.promise._portal_promise``,
    ``collection.payment.plan._portal_request``); this is HTTP only.
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
            today = self._today()
            values["collections_due_count"] = (
                self._customer()._collection_due_invoice_count(
                    today + timedelta(days=ALERT_DAYS), today
                )
            )
        return values

    @staticmethod
    def _customer():
        """The logged-in user's customer (its commercial entity)."""
        return request.env.user.partner_id.commercial_partner_id

    @staticmethod
    def _today():
        return fields.Date.context_today(request.env.user)

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
        """What the customer owes, line by line (each due date of an invoice on
        its own, after its credits), and the plan policy of its band: what the
        plan request page needs, and the start of the summary."""
        env = request.env
        today = self._today()
        partner = self._customer()
        lines = partner._collection_portal_lines(today)
        company = lines["due_now"][:1].company_id or env.company
        return {
            "today": today,
            "due_now_lines": lines["due_now"],
            "due_later_lines": lines["due_later"],
            "overdue_lines": lines["overdue"],
            # What a promise may be about: overdue, or due soon as the band's
            # plan policy allows.
            "agreeable_lines": lines["agreeable"],
            # What a new plan may take: not what a proposal holds already.
            "plannable_lines": lines["plannable"],
            "plannable_now_lines": lines["plannable_now"],
            "line_left": lines["left"],
            "collections_company": company,
            "plan_policy": env["collection.plan.policy"]._for_partner(
                partner.sudo(), company
            ),
            **extra,
        }

    def _collections_summary_values(self):
        values = self._collections_overdue_values(page_name="collections")
        env, today = request.env, values["today"]
        Plan = env["collection.payment.plan"]
        Promise = env["collection.promise"]
        company = values["collections_company"]
        promises = (
            Promise.search([("state", "=", "open")])
            if Promise.has_access("read")
            else Promise
        )
        values.update(
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

    def _collections_ids(self, name):
        """The ids posted in the form's field ``name`` (repeated), or None when
        one is not an id."""
        ids = [self._to_int(value) for value in request.httprequest.form.getlist(name)]
        return None if None in ids else ids

    @http.route(
        "/my/collections/promise",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def portal_collections_promise(self, promised_date=None, note=None, **post):
        """The customer promises to pay some of its overdue amounts by a date:
        the lines it chose (``move_line_ids``), or the overdue lines of the
        invoices it chose (``invoice_ids``, what older pages send)."""
        env = request.env
        line_ids = self._collections_ids("move_line_ids")
        invoice_ids = self._collections_ids("invoice_ids")
        if line_ids is None or invoice_ids is None or not (line_ids or invoice_ids):
            return self._collections_error(
                env._("Choose the invoices you promise to pay.")
            )
        try:
            when = fields.Date.to_date(self._text(promised_date, 64) or None)
        except ValueError:
            when = None
        try:
            with env.cr.savepoint():
                env["collection.promise"]._portal_promise(
                    self._customer(),
                    when,
                    line_ids=line_ids,
                    invoice_ids=invoice_ids,
                    note=self._text(note) or False,
                    today=self._today(),
                )
        except AccessError as error:
            return self._collections_error(error.args[0], status=403)
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
            vat = plan.partner_id._collection_check_vat(self._text(signer_vat, 64))
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
        if not values["agreeable_lines"]:
            return self._collections_error(
                env._(
                    "Nothing of yours is overdue or falls due soon: there is "
                    "nothing to spread."
                ),
                status=409,
            )
        Plan = env["collection.payment.plan"]
        policy = values["plan_policy"]
        values["max_installments"] = policy.max_installments or 1
        values["first_date"] = Plan._portal_first_date(values["today"])
        if request.httprequest.method != "POST":
            return request.render(
                "collections_proactive.portal_payment_plan_request", values
            )
        line_ids = self._collections_ids("move_line_ids")
        invoice_ids = self._collections_ids("invoice_ids")
        if line_ids is None or invoice_ids is None or not (line_ids or invoice_ids):
            return self._collections_error(
                env._("Choose the invoices the plan should cover.")
            )
        try:
            # Checked before anything is created: a refused request leaves no
            # draft and takes no plan number.
            with env.cr.savepoint():
                plan = Plan._portal_request(
                    self._customer(),
                    line_ids=line_ids,
                    invoice_ids=invoice_ids,
                    installment_count=self._to_int(post.get("installment_count")),
                    frequency=self._text(post.get("frequency"), 32) or "monthly",
                    today=values["today"],
                )
        except PlanTaken as error:
            return self._collections_error(error.args[0], status=409)
        except AccessError as error:
            return self._collections_error(error.args[0], status=403)
        except (UserError, ValidationError) as error:
            return self._collections_error(error.args[0])
        return request.redirect(plan.get_portal_url(query_string="&requested=1"))
