import math

from odoo import http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from .portal import CollectionsPortal

# The largest cap per debit the form takes: beyond, it is no cap but a typo.
MAX_CAP = 10**12
# What the customer may do to its mandate, by the route's last word.
ACTIONS = {
    "pause": "action_pause",
    "resume": "action_resume",
    "revoke": "action_revoke",
}
# The confirmations the page shows after a redirect.
DONE_MESSAGES = ("enabled", "pause", "resume", "revoke")


class CollectionsAutopayPortal(CollectionsPortal):
    """The customer's automatic debit: turn it on with a saved payment method,
    see what will be charged and when, pause, resume or revoke it.

    Mandates are read through the portal user's own rights (the record rule
    limits them to its commercial partner): someone else's is a 404. Which lines
    are charged, and that a second click makes no second mandate, are the
    model's decisions (``collection.autopay``)."""

    def _autopay_tokens(self):
        """The customer's saved payment methods, any of its contacts'."""
        return (
            request.env["payment.token"]
            .sudo()
            .search([("partner_id", "child_of", self._customer().id)])
        )

    def _autopay_check_access(self, autopay_id):
        """The mandate (sudo) when it is the user's customer's, else None."""
        wanted = self._to_int(autopay_id)
        Autopay = request.env["collection.autopay"]
        if not wanted or not Autopay.has_access("read"):
            return None
        return Autopay.search([("id", "=", wanted)]).sudo() or None

    def _autopay_not_found(self):
        return self._collections_error(
            request.env._(
                "This automatic debit does not exist or is not yours. Sign in with "
                "your own account."
            ),
            status=404,
        )

    @http.route("/my/autopay", type="http", auth="user", website=True, sitemap=False)
    def portal_my_autopay(self, **kw):
        env = request.env
        Autopay = env["collection.autopay"]
        mandates = (
            Autopay.search([("state", "!=", "revoked")]).sudo()
            if Autopay.has_access("read")
            else Autopay
        )
        schedule = {mandate.id: mandate._schedule() for mandate in mandates}
        covered = {row["line"].id for rows in schedule.values() for row in rows}
        lines = self._customer()._collection_portal_lines(self._today())
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "autopay",
                "today": self._today(),
                "mandates": mandates,
                "schedule": schedule,
                # What falls due and is not charged automatically (no mandate,
                # above the cap, in a plan): paid as usual.
                "other_lines": lines["due_later"].filtered(
                    lambda line: line.id not in covered
                ),
                "line_left": lines["left"],
                "tokens": self._autopay_tokens(),
                "done": kw.get("done") if kw.get("done") in DONE_MESSAGES else None,
            }
        )
        return request.render("collections_proactive.portal_my_autopay", values)

    @http.route(
        "/my/autopay/enable",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def portal_autopay_enable(self, token_id=None, max_amount=None, accept=None, **kw):
        """Turn automatic debit on (or change its payment method or cap)."""
        env = request.env
        wanted = self._to_int(token_id)
        if not wanted or wanted < 1:
            return self._collections_error(
                env._("Choose one of your saved payment methods.")
            )
        token = self._autopay_tokens().filtered(lambda token: token.id == wanted)
        if not token:
            return self._collections_error(
                env._("This payment method is not one of yours."), status=403
            )
        cap = self._text(max_amount, 32).replace(",", ".")
        try:
            cap = float(cap) if cap else 0.0
        except ValueError:
            cap = -1.0
        if not math.isfinite(cap) or not 0 <= cap < MAX_CAP:
            return self._collections_error(
                env._("The cap per debit must be an amount, or empty for no cap.")
            )
        if accept != "1":
            return self._collections_error(
                env._(
                    "Tick the box to authorize us to charge your invoices on their "
                    "due dates."
                )
            )
        try:
            with env.cr.savepoint():
                env["collection.autopay"].sudo()._portal_enable(
                    self._customer(),
                    token,
                    max_amount=cap,
                    ip=request.httprequest.remote_addr,
                )
        except (UserError, ValidationError) as error:
            return self._collections_error(error.args[0], status=409)
        return request.redirect("/my/autopay?done=enabled")

    @http.route(
        "/my/autopay/<int:autopay_id>/<string:action>",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def portal_autopay_action(self, autopay_id, action, **kw):
        """Pause, resume or revoke the customer's automatic debit."""
        env = request.env
        method = ACTIONS.get(action)
        autopay = self._autopay_check_access(autopay_id)
        if not (method and autopay):
            return self._autopay_not_found()
        try:
            with env.cr.savepoint():
                # Locked: a double submission waits, then finds it done.
                env.cr.execute(
                    "SELECT id FROM collection_autopay WHERE id = %s FOR UPDATE",
                    (autopay.id,),
                )
                autopay.invalidate_recordset(["state"])
                getattr(autopay, method)()
        except UserError as error:
            return self._collections_error(error.args[0], status=409)
        return request.redirect(f"/my/autopay?done={action}")
