from odoo import http
from odoo.http import request


class CollectionsInvoiceLink(http.Controller):
    """The invoice links of the reminders: signed per invoice, no login; the
    invoice's portal access token is made here, when the link is followed."""

    @http.route(
        "/collections/invoice/<int:move_id>/<string:signature>",
        type="http",
        auth="public",
        methods=["GET"],
        website=False,
    )
    def invoice(self, move_id, signature, **kw):
        Move = request.env["account.move"].sudo()
        move = Move.browse(move_id).exists() if 0 < move_id < 2**31 else Move
        if not move._collection_link_check(signature):
            return request.render(
                "collections_proactive.offer_page", {"verdict": "invalid"}, status=404
            )
        move._portal_ensure_token()
        return request.redirect(move.get_portal_url())
