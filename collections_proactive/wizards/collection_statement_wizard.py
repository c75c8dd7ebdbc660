import base64
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date


class CollectionStatementWizard(models.TransientModel):
    """Print or send a customer's statement for a period."""

    _name = "collection.statement.wizard"
    _description = "Customer Statement"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    date_from = fields.Date(
        string="From",
        required=True,
        default=lambda self: fields.Date.context_today(self) - timedelta(days=90),
    )
    date_to = fields.Date(string="To", required=True, default=fields.Date.context_today)

    @api.model
    def default_get(self, fields_list):
        """Opened from a customer or from a case (the action menu)."""
        values = super().default_get(fields_list)
        model, record_id = (
            self.env.context.get("active_model"),
            self.env.context.get("active_id"),
        )
        if model == "collection.case" and record_id:
            case = self.env["collection.case"].browse(record_id)
            values.update(partner_id=case.partner_id.id, company_id=case.company_id.id)
        elif model == "res.partner" and record_id:
            values["partner_id"] = record_id
        return values

    @api.constrains("date_from", "date_to")
    def _check_period(self):
        for wizard in self:
            if wizard.date_from > wizard.date_to:
                raise UserError(self.env._("The period starts after it ends."))

    def _data(self):
        self.ensure_one()
        return {
            "date_from": fields.Date.to_string(self.date_from),
            "date_to": fields.Date.to_string(self.date_to),
            "company_id": self.company_id.id,
        }

    def action_print(self):
        self.ensure_one()
        return self.env.ref(
            "collections_proactive.action_report_customer_statement"
        ).report_action(self.partner_id.commercial_partner_id, data=self._data())

    def action_send(self):
        """The statement as a PDF in an email to the customer, in its language,
        for the user to review and send."""
        self.ensure_one()
        partner = self.partner_id.commercial_partner_id
        pdf, _type = (
            self.env["ir.actions.report"]
            .with_context(lang=partner.lang)
            ._render_qweb_pdf(
                "collections_proactive.action_report_customer_statement",
                partner.ids,
                data=self._data(),
            )
        )
        attachment = self.env["ir.attachment"].create(
            {
                "name": self.with_context(lang=partner.lang).env._(
                    "Statement %(customer)s.pdf", customer=partner.name
                ),
                "type": "binary",
                "datas": base64.b64encode(pdf),
                "res_model": "res.partner",
                "res_id": partner.id,
                "mimetype": "application/pdf",
            }
        )
        env = self.with_context(lang=partner.lang).env
        return {
            "type": "ir.actions.act_window",
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_model": "res.partner",
                "default_res_ids": partner.ids,
                "default_partner_ids": partner.ids,
                "default_composition_mode": "comment",
                "default_subject": env._(
                    "%(company)s: your statement of account",
                    company=self.company_id.name,
                ),
                "default_body": env._(
                    "Please find attached your statement of account from %(start)s to "
                    "%(end)s.",
                    start=format_date(env, self.date_from),
                    end=format_date(env, self.date_to),
                ),
                "default_attachment_ids": [Command.set(attachment.ids)],
            },
        }
