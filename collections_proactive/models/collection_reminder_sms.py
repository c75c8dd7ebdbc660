from odoo import Command, models
from odoo.tools import plaintext2html


class CollectionReminderSms(models.Model):
    """Delivery by SMS: the template and the customer's number."""

    _inherit = "collection.reminder"

    def _sms_template(self):
        self.ensure_one()
        return self.step_id.sms_template_id or self._shipped_template(
            "sms.template", "sms_template"
        )

    def _deliver_sms(self, senders):
        """One SMS per reminder through Odoo's SMS queue, logged in the customer's
        chatter with its delivery tracker, as ``_message_sms`` does one by one."""
        if not self:
            return {}
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        texts = {}
        for template, group in self.grouped(lambda r: r._sms_template()).items():
            texts.update(template._render_field("body", group.ids, compute_lang=True))
        messages = self.env["mail.message"].create(
            [
                {
                    **reminder._chatter_values(senders, "sms", note),
                    "body": plaintext2html(texts[reminder.id]),
                    "partner_ids": [Command.link(reminder.partner_id.id)],
                }
                for reminder in self
            ]
        )
        sms = self.env["sms.sms"].create(
            [
                {
                    "body": texts[reminder.id],
                    "partner_id": reminder.partner_id.id,
                    "number": reminder._sms_number(),
                    "state": "outgoing",
                    "mail_message_id": message.id,
                }
                for reminder, message in zip(self, messages, strict=True)
            ]
        )
        self.env["mail.notification"].create(
            [
                {
                    "author_id": message.author_id.id,
                    "mail_message_id": message.id,
                    "res_partner_id": text.partner_id.id,
                    "sms_number": text.number,
                    "notification_type": "sms",
                    "sms_id_int": text.id,
                    "sms_tracker_ids": [Command.create({"sms_uuid": text.uuid})],
                    "is_read": True,
                    "notification_status": "ready",
                }
                for message, text in zip(messages, sms, strict=True)
            ]
        )
        return {
            reminder.id: {"message_id": message.id}
            for reminder, message in zip(self, messages, strict=True)
        }

    def _sms_number(self):
        partner = self.partner_id
        number = partner.mobile or partner.phone
        return partner._phone_format(number=number) or number
