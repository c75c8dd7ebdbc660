import re

from markupsafe import Markup

from odoo import Command, fields, models

# What people put between the digits of a phone number.
SEPARATORS = re.compile(r"[\s().\-/]")


class CollectionReminderWhatsapp(models.Model):
    """Delivery by WhatsApp: a Meta-approved template in the customer's
    language, queued as a ``collection.whatsapp.message`` that the WhatsApp
    queue hands to Meta (in its own transactions, after this one commits)."""

    _inherit = "collection.reminder"

    whatsapp_failed = fields.Boolean(
        string="WhatsApp Failed",
        readonly=True,
        copy=False,
        help="The WhatsApp message could not be delivered: the reminder went "
        "out again by SMS or email, once.",
    )
    optout_whatsapp_url = fields.Char(compute="_compute_links")
    whatsapp_message_ids = fields.One2many(
        "collection.whatsapp.message", "reminder_id", string="WhatsApp Message"
    )

    def _whatsapp_number(self):
        """The customer's number as WhatsApp wants it (E.164 digits, no +),
        or False when it cannot be made international."""
        self.ensure_one()
        partner = self.partner_id
        number = partner.mobile or partner.phone
        if not number:
            return False
        # Without the phonenumbers library, _phone_format gives the number back
        # as typed: an international one is still usable.
        formatted = partner._phone_format(number=number, force_format="E164") or number
        cleaned = SEPARATORS.sub("", formatted)
        if cleaned.startswith("00"):
            cleaned = "+" + cleaned[2:]
        digits = cleaned[1:]
        if not (
            cleaned.startswith("+")
            and digits.isascii()
            and digits.isdigit()
            and 8 <= len(digits) <= 15
        ):
            return False
        return digits

    def _whatsapp_refusal(self):
        """Why this reminder cannot go out on WhatsApp (a sentence), or False."""
        self.ensure_one()
        partner = self.partner_id
        if self.whatsapp_failed:
            return self.env._("WhatsApp could not deliver it")
        if not self.company_id._collection_whatsapp_configured():
            return self.env._("WhatsApp is not configured")
        if partner.collection_no_whatsapp or not partner.collection_whatsapp_optin:
            return self.env._("The customer has not accepted WhatsApp")
        if partner.collection_whatsapp_unreachable:
            return self.env._("The customer's number is not on WhatsApp")
        if not self._whatsapp_number():
            return self.env._("No international mobile number")
        if not self.step_id.whatsapp_template_id:
            return self.env._("The step has no WhatsApp template")
        return False

    def _whatsapp_template(self):
        self.ensure_one()
        return self.step_id.whatsapp_template_id._for_lang(
            self.partner_id.lang, self.company_id
        )

    def _deliver_whatsapp(self, senders):
        """One WhatsApp message per reminder, queued, logged in the customer's
        chatter with the text it carries, as ``_deliver_sms`` does."""
        if not self:
            return {}
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        queued = []
        for reminder in self:
            template = reminder._whatsapp_template()
            values = template._parameter_values(reminder)
            text = template._render_preview(values)
            queued.append((reminder, template, values, text))
        messages = self.env["mail.message"].create(
            [
                {
                    **reminder._chatter_values(senders, "comment", note),
                    "body": Markup("<p><strong>%s</strong></p><p>%s</p>")
                    % (self.env._("WhatsApp"), text),
                    "partner_ids": [Command.link(reminder.partner_id.id)],
                }
                for reminder, _template, _values, text in queued
            ]
        )
        self.env["collection.whatsapp.message"].create(
            [
                {
                    "reminder_id": reminder.id,
                    "partner_id": reminder.partner_id.id,
                    "company_id": reminder.company_id.id,
                    "template_id": template.id,
                    "number": reminder._whatsapp_number(),
                    "parameters": values,
                    "body": text,
                    "mail_message_id": message.id,
                }
                for (reminder, template, values, text), message in zip(
                    queued, messages, strict=True
                )
            ]
        )
        self.env.ref("collections_proactive.ir_cron_send_whatsapp")._trigger()
        return {
            reminder.id: {"message_id": message.id}
            for reminder, message in zip(self, messages, strict=True)
        }
