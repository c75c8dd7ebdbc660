from odoo import Command, models


class CollectionReminderLetter(models.Model):
    """Delivery by letter: the PDF posted on the customer."""

    _inherit = "collection.reminder"

    def _deliver_letters(self, senders):
        """Each letter as a PDF attached to a note in the customer's chatter, to
        print and mail (one report run per letter, as Odoo renders documents)."""
        if not self:
            return {}
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        report = self.env["ir.actions.report"]
        messages = self.env["mail.message"].create(
            [
                {
                    **reminder._chatter_values(senders, "comment", note),
                    "body": self.env._(
                        "Collection letter to print and mail: %(step)s",
                        step=reminder.step_id.name,
                    ),
                    "attachment_ids": [
                        Command.create(
                            {
                                "name": f"{reminder.step_id.name}"
                                f" - {reminder.partner_id.name}.pdf",
                                "raw": report._render_qweb_pdf(
                                    "collections_proactive"
                                    ".collection_reminder_letter_report",
                                    reminder.ids,
                                )[0],
                                "mimetype": "application/pdf",
                                "res_model": "res.partner",
                                "res_id": reminder.partner_id.id,
                            }
                        )
                    ],
                }
                for reminder in self
            ]
        )
        return {
            reminder.id: {"message_id": message.id}
            for reminder, message in zip(self, messages, strict=True)
        }
