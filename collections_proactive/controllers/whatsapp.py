import time

from odoo import http
from odoo.http import request
from odoo.tools import consteq

from ..models.collection_whatsapp_notification import REPLAY_WINDOW
from ..tools import whatsapp_api

# Meta's notifications are a few kilobytes; anything much larger is refused
# before its signature is even computed.
MAX_BODY = 256 * 1024


class CollectionsWhatsapp(http.Controller):
    """Meta's webhook for the WhatsApp channel: the address check (GET) and
    the signed notifications (POST) of delivery statuses and replies."""

    @http.route(
        "/collections/whatsapp/webhook",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def whatsapp_verify(self, **params):
        """Meta checks the address: the challenge is echoed when the verify
        token is one of a company's."""
        mode = params.get("hub.mode")
        token = params.get("hub.verify_token")
        challenge = params.get("hub.challenge")
        if not (
            mode == "subscribe"
            and isinstance(token, str)
            and token.isascii()
            and 0 < len(token) <= 256
            and isinstance(challenge, str)
            and challenge.isascii()
            and challenge.isalnum()
            and len(challenge) <= 256
        ):
            return self._answer(403, "Forbidden")
        tokens = (
            request.env["res.company"]
            .sudo()
            .search([("collection_whatsapp_verify_token", "!=", False)])
            .mapped("collection_whatsapp_verify_token")
        )
        if not any(consteq(known, token) for known in tokens if known.isascii()):
            return self._answer(403, "Forbidden")
        return self._answer(200, challenge)

    @http.route(
        "/collections/whatsapp/webhook",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def whatsapp_notify(self, **_params):
        """A notification signed with the app secret of the company whose
        phone number it is about; refused unsigned or wrongly signed (403),
        replayed or too old (409: see ``CollectionWhatsappNotification``)."""
        length = request.httprequest.content_length
        if length is not None and length > MAX_BODY:
            return self._answer(413, "Too large")
        body = request.httprequest.get_data(cache=True)[: MAX_BODY + 1]
        if len(body) > MAX_BODY:
            return self._answer(413, "Too large")
        header = request.httprequest.headers.get("X-Hub-Signature-256")
        if not header:
            return self._answer(403, "Unsigned")
        data = whatsapp_api.parse_notification(body)
        changes = whatsapp_api.changes(data) if data else []
        companies = (
            request.env["res.company"]
            .sudo()
            .search(
                [
                    (
                        "collection_whatsapp_phone_number_id",
                        "in",
                        list({number_id for number_id, _value in changes}),
                    )
                ]
            )
            if changes
            else request.env["res.company"]
        )
        # Only the changes of a company whose own secret signed the body.
        signed = companies.filtered(
            lambda company: whatsapp_api.signature_ok(
                company.collection_whatsapp_app_secret, body, header
            )
        )
        if not signed:
            return self._answer(403, "Bad signature")
        Message = request.env["collection.whatsapp.message"].sudo()
        if (
            not request.env["collection.whatsapp.notification"]
            .sudo()
            ._accept(body, signed[0])
        ):
            return self._answer(409, "Replayed")
        now = int(time.time())
        since = now - int(REPLAY_WINDOW.total_seconds())
        stamps = [
            stamp
            for _number_id, value in changes
            for key in ("statuses", "messages")
            for item in whatsapp_api.items(value, key)
            if (stamp := whatsapp_api.timestamp(item))
        ]
        if stamps and max(stamps) < since:
            return self._answer(409, "Too old")
        by_number = {
            company.collection_whatsapp_phone_number_id: company for company in signed
        }
        for number_id, value in changes:
            company = by_number.get(number_id)
            if company:
                Message.with_company(company)._webhook_value(company, value, since)
        return self._answer(200, "OK")

    @staticmethod
    def _answer(status, text):
        return request.make_response(
            text, headers=[("Content-Type", "text/plain; charset=utf-8")], status=status
        )
