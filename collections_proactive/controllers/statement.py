from odoo import fields, http
from odoo.exceptions import UserError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal


class CollectionsStatementPortal(CustomerPortal):
    """The customer's statement of account on the portal: its own, for the
    period it picks, as a PDF."""

    def _statement_period(self, date_from, date_to):
        """``(date_from, date_to)`` of the request, or None when they are not
        two dates in order."""
        try:
            start = (
                fields.Date.to_date(date_from) if isinstance(date_from, str) else None
            )
            end = fields.Date.to_date(date_to) if isinstance(date_to, str) else None
        except ValueError:
            return None
        if start and end and start <= end:
            return start, end
        return None

    @http.route("/my/statement", type="http", auth="user", website=True)
    def portal_my_statement(self, **kw):
        today = fields.Date.context_today(request.env.user)
        return request.render(
            "collections_proactive.portal_my_statement",
            {
                "page_name": "collections_statement",
                "date_from": fields.Date.subtract(today, days=90),
                "date_to": today,
            },
        )

    @http.route("/my/statement/pdf", type="http", auth="user", website=True)
    def portal_my_statement_pdf(self, date_from=None, date_to=None, **kw):
        period = self._statement_period(date_from, date_to)
        if not period:
            return request.render(
                "collections_proactive.portal_collections_error",
                {
                    "error_message": request.env._(
                        "Give the period as two dates, the first before the second."
                    ),
                    "page_name": "collections_error",
                },
                status=400,
            )
        partner = request.env.user.partner_id.commercial_partner_id
        try:
            pdf, _type = (
                request.env["ir.actions.report"]
                .with_context(lang=partner.lang or request.env.lang)
                ._render_qweb_pdf(
                    "collections_proactive.action_report_customer_statement",
                    partner.ids,
                    data={
                        "date_from": fields.Date.to_string(period[0]),
                        "date_to": fields.Date.to_string(period[1]),
                        "company_id": request.env.company.id,
                    },
                )
            )
        except UserError as exc:
            return request.render(
                "collections_proactive.portal_collections_error",
                {"error_message": exc.args[0], "page_name": "collections_error"},
                status=400,
            )
        filename = request.env._(
            "Statement %(start)s %(end)s.pdf", start=period[0], end=period[1]
        )
        return request.make_response(
            pdf,
            headers=[
                ("Content-Type", "application/pdf"),
                ("Content-Length", len(pdf)),
                ("Content-Disposition", http.content_disposition(filename)),
            ],
        )
