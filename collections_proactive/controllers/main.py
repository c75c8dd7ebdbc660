from odoo import http, tools
from odoo.http import request

CHANNEL_FIELDS = {"email": "collection_no_email", "sms": "collection_no_sms"}


class CollectionsOptOut(http.Controller):
    """The unsubscribe link every reminder carries: signed per customer and
    channel, so it works without a login and only for that customer."""

    def _check(self, channel, partner_id, token):
        partner = request.env["res.partner"].sudo().browse(partner_id).exists()
        expected = partner and tools.hmac(
            request.env(su=True), "collections_proactive-optout", (partner.id, channel)
        )
        if (
            channel not in CHANNEL_FIELDS
            or not partner
            or not tools.consteq(expected, token or "")
        ):
            return None
        return partner

    @http.route(
        "/collections/optout/<string:channel>/<int:partner_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        website=False,
        csrf=False,
    )
    def optout(self, channel, partner_id, token, **post):
        partner = self._check(channel, partner_id, token)
        if not partner:
            return request.render(
                "collections_proactive.optout_page",
                {"invalid": True},
                status=404,
            )
        done = False
        # Confirming takes a POST: mail scanners that follow GET links must not
        # unsubscribe anyone.
        if request.httprequest.method == "POST":
            partner.write({CHANNEL_FIELDS[channel]: True})
            partner.message_post(
                body=request.env._(
                    "The customer stopped payment reminders by %(channel)s.",
                    channel="SMS" if channel == "sms" else "email",
                ),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
            done = True
        return request.render(
            "collections_proactive.optout_page",
            {"partner": partner, "channel": channel, "done": done, "invalid": False},
        )
