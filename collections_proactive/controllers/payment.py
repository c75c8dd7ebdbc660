from odoo import http
from odoo.exceptions import AccessError, ValidationError
from odoo.http import request

from .portal import CollectionsPortal


class CollectionsPaymentPortal(CollectionsPortal):
    """The customer pays a plan's next installment or sets up its automatic debit."""

    # ------------------------------------------------------------------
    # Pay the next installment; automatic debit
    # ------------------------------------------------------------------

    @http.route(
        "/my/payment_plans/<int:plan_id>/pay",
        type="http",
        auth="public",
        website=True,
        sitemap=False,
    )
    def portal_payment_plan_pay(self, plan_id, access_token=None, **kw):
        env = request.env
        plan = self._plan_check_access(plan_id, access_token)
        if not plan:
            return self._not_found()
        installment = plan._portal_next_installment()
        if plan.state != "active" or not installment:
            return self._collections_error(
                env._("This payment plan has no installment to pay now."), status=409
            )
        amount = installment.amount - installment.paid_amount
        values = self._get_common_page_view_values(
            invoices_data={
                "partner": plan.partner_id,
                "company": plan.company_id,
                "total_amount": amount,
                "currency": plan.currency_id,
                "amount_residual": amount,
                "landing_route": plan.get_portal_url(query_string="&paid=1"),
                "transaction_route": f"/my/payment_plans/{plan.id}/transaction",
            },
            access_token=plan._portal_ensure_token(),
        )
        values.update(
            {
                "plan": plan,
                "installment": installment,
                "amount": amount,
                "page_name": "payment_plan_pay",
            }
        )
        return request.render("collections_proactive.portal_payment_plan_pay", values)

    @http.route(
        "/my/payment_plans/<int:plan_id>/transaction", type="json", auth="public"
    )
    def portal_payment_plan_transaction(
        self, plan_id, access_token=None, payment_reference=None, **kwargs
    ):
        """A draft transaction for the plan's next installment: the amount is the
        installment's, whatever the browser sent, and it pays the plan's open
        invoices, oldest first."""
        env = request.env
        plan = self._plan_check_access(plan_id, access_token)
        if not plan:
            raise ValidationError(env._("The access token is invalid."))
        installment = plan._portal_next_installment()
        if plan.state != "active" or not installment:
            raise ValidationError(env._("This payment plan has no installment to pay."))
        self._validate_transaction_kwargs(kwargs)
        if kwargs.get("flow") == "token" and env.user._is_public():
            # A saved card is charged by its owner, logged in (Odoo then checks
            # the card is the user's): the emailed link alone lets anyone pay
            # with a new card, never with the customer's saved one.
            raise AccessError(env._("Sign in to pay with a saved payment method."))
        kwargs.pop("amount", None)
        invoices = plan._lines_to_pay().move_id
        logged_in = not env.user._is_public()
        partner = env.user.partner_id if logged_in else plan.partner_id
        return self._process_transaction(
            partner.id,
            plan.currency_id.id,
            invoices.ids,
            False,
            amount=installment.amount - installment.paid_amount,
            **kwargs,
        )

    @http.route(
        "/my/payment_plans/<int:plan_id>/auto_debit",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def portal_payment_plan_auto_debit(self, plan_id, token_id=None, **post):
        """Charge the installments with a saved payment method, or stop it."""
        env = request.env
        plan = self._plan_check_access(plan_id)
        if not plan:
            return self._not_found()
        if plan.state not in ("proposed", "active"):
            return self._collections_error(
                env._("Automatic debit is for proposed and active plans."), status=409
            )
        token = env["payment.token"]
        if token_id:
            wanted = self._to_int(token_id)
            token = (
                env["payment.token"]
                .sudo()
                .search(
                    [
                        ("id", "=", wanted or 0),
                        ("partner_id", "child_of", plan.partner_id.id),
                        ("company_id", "=", plan.company_id.id),
                    ]
                )
            )
            if not token:
                return self._collections_error(
                    env._("This payment method is not one of yours."), status=403
                )
        plan.payment_token_id = token
        return request.redirect(plan.get_portal_url(query_string="&auto_debit=1"))
