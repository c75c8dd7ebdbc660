from odoo import fields, http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from .portal import CollectionsPortal


class CollectionsOffer(http.Controller):
    """The choices link of a message: no login, signed for the message and its
    customer, until 30 days after its last due date."""

    _base = "/collections/offer/<int:reminder_id>/<string:expires>/<string:token>"

    def _reminder(self, reminder_id, expires, token):
        """``(reminder, None)`` when the link is good, else ``(None, response)``:
        a 404 page for a wrong link, a 410 page for an expired one, each
        saying what to do."""
        Reminder = request.env["collection.reminder"].sudo()
        reminder = (
            Reminder.browse(reminder_id).exists()
            if 0 < reminder_id < 2**31
            else Reminder
        )
        today = fields.Date.context_today(reminder or Reminder)
        verdict = reminder._offer_check(expires, token, today)
        if verdict == "ok":
            return reminder.with_context(lang=reminder.partner_id.lang), None
        return None, request.render(
            "collections_proactive.offer_page",
            {"verdict": verdict},
            status=410 if verdict == "expired" else 404,
        )

    def _page(self, reminder, expires, token, status=200, **values):
        return request.render(
            "collections_proactive.offer_page",
            {
                "verdict": "ok",
                "offer_base": f"/collections/offer/{reminder.id}/{expires}/{token}",
                "reminder": reminder,
                "lines": reminder._offer_lines(),
                "company": reminder.company_id,
                "min_date": fields.Date.context_today(reminder),
                "suggested_date": reminder._offer_suggested_date(),
                **values,
            },
            status=status,
        )

    @http.route(_base, type="http", auth="public", methods=["GET"], website=False)
    def offer(self, reminder_id, expires, token, **kw):
        reminder, error = self._reminder(reminder_id, expires, token)
        return error or self._page(reminder, expires, token)

    @http.route(
        f"{_base}/promise",
        type="http",
        auth="public",
        methods=["POST"],
        website=False,
    )
    def offer_promise(self, reminder_id, expires, token, promised_date=None, **post):
        reminder, error = self._reminder(reminder_id, expires, token)
        if error:
            return error
        note = CollectionsPortal._text(post.get("note")) or False
        try:
            day = (
                fields.Date.to_date(promised_date)
                if isinstance(promised_date, str)
                else None
            )
        except ValueError:
            day = None
        try:
            promise = reminder._offer_promise(day, note)
        except (UserError, ValidationError) as exc:
            return self._page(reminder, expires, token, status=400, error=exc.args[0])
        return self._page(reminder, expires, token, promise=promise)

    @http.route(
        f"{_base}/plan",
        type="http",
        auth="public",
        methods=["POST"],
        website=False,
    )
    def offer_plan(self, reminder_id, expires, token, **post):
        reminder, error = self._reminder(reminder_id, expires, token)
        if error:
            return error
        note = CollectionsPortal._text(post.get("note")) or False
        try:
            plan = reminder._offer_plan(note)
        except (UserError, ValidationError) as exc:
            return self._page(reminder, expires, token, status=400, error=exc.args[0])
        return self._page(reminder, expires, token, plan=plan)
