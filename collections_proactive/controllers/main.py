from odoo import http
from odoo.http import request

# How the unsubscribe messages name each channel.
CHANNEL_WORDS = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}


class CollectionsOptOut(http.Controller):
    """The unsubscribe link every reminder carries: signed per customer and
    channel, so it works without a login and only for that customer."""

    @http.route(
        "/collections/optout/<string:channel>/<int:partner_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        website=False,
        csrf=False,
    )
    def optout(self, channel, partner_id, token, **post):
        Partner = request.env["res.partner"]
        partner = (
            Partner.browse(partner_id)._collection_optout_check(channel, token)
            if 0 < partner_id < 2**31
            else Partner
        )
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
            field = Partner.COLLECTION_OPTOUT_FIELDS[channel]
            # Locked, so that a replayed or double POST notes the stop once.
            request.env.cr.execute(
                "SELECT id FROM res_partner WHERE id = %s FOR NO KEY UPDATE",
                (partner.id,),
            )
            partner.invalidate_recordset([field])
            if not partner[field]:
                partner.write({field: True})
                partner.message_post(
                    body=request.env._(
                        "The customer stopped payment reminders by %(channel)s.",
                        channel=CHANNEL_WORDS[channel],
                    ),
                    message_type="notification",
                    subtype_xmlid="mail.mt_note",
                )
            done = True
        return request.render(
            "collections_proactive.optout_page",
            {"partner": partner, "channel": channel, "done": done, "invalid": False},
        )
