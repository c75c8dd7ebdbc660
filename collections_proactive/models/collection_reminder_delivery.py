from collections import defaultdict

from markupsafe import Markup

from odoo import models


class CollectionReminderDelivery(models.Model):
    """Delivery: the channel a reminder can use, and the batch handed to them."""

    _inherit = "collection.reminder"

    def _deliverable_channel(self):
        """The channel to use, honouring opt-outs, with a fallback to the other
        written channel; (False, reason) when nothing can reach the customer."""
        partner = self.partner_id
        can_email = bool(partner.email) and not (
            partner.is_blacklisted or partner.collection_no_email
        )
        can_sms = bool(partner.mobile or partner.phone) and not (
            partner.phone_sanitized_blacklisted or partner.collection_no_sms
        )
        step_channels = self.step_id._channels()
        if self.channel == "email" and not can_email:
            if can_sms and "sms" not in step_channels:
                return "sms", self.env._("Email not allowed: sent by SMS instead")
            return False, self.env._("The customer cannot be reached by email")
        if self.channel == "sms" and not can_sms:
            if can_email and "email" not in step_channels:
                return "email", self.env._("SMS not allowed: sent by email instead")
            return False, self.env._("The customer cannot be reached by SMS")
        return self.channel, False

    def _deliver_isolated(self, channels):
        """Deliver in bulk; when the bulk delivery fails, deliver one reminder at a
        time so that one bad reminder (a template error, say) fails alone.

        Returns ``({reminder id: message or activity}, {reminder id: error})``.
        """
        if not self:
            return {}, {}
        try:
            with self.env.cr.savepoint():
                return self._deliver(channels), {}
        except Exception as error:  # noqa: BLE001 - isolated, logged and retried
            self.env.invalidate_all()
            if len(self) == 1:
                return {}, {self.id: error}
        delivered, errors = {}, {}
        for reminder in self:
            done, failed = reminder._deliver_isolated(channels)
            delivered.update(done)
            errors.update(failed)
        return delivered, errors

    def _deliver(self, channels):
        """Queue the messages through Odoo's mail and SMS queues (sent by their own
        crons, in this transaction: no message without its log line), schedule the
        calls and note each reminder on its invoices, a few statements per channel
        whatever the number of reminders.

        ``channels``: ``{reminder id: channel}``. Returns ``{reminder id:
        {"message_id": id} or {"activity_id": id}}``.
        """
        by_channel = defaultdict(list)
        for reminder in self:
            by_channel[channels[reminder.id]].append(reminder.id)
        batch = {channel: self.browse(ids) for channel, ids in by_channel.items()}
        none = self.browse()
        senders = self._senders()
        links = {
            **batch.get("email", none)._deliver_emails(senders),
            **batch.get("sms", none)._deliver_sms(senders),
            **batch.get("letter", none)._deliver_letters(senders),
            **batch.get("call", none)._deliver_calls(),
        }
        self._log_on_invoices(channels)
        return links

    def _shipped_template(self, model, prefix):
        # _xmlid_to_res_id is cached: env.ref would check existence once per call.
        scope = "installment" if self.installment_id else "reminder"
        return self.env[model].browse(
            self.env["ir.model.data"]._xmlid_to_res_id(
                f"collections_proactive.{prefix}_{scope}_{self.step_id.kind}"
            )
        )

    def _senders(self):
        """``{reminder id: (email_from, reply_to)}``: the company's address and the
        reply-to Odoo gives a message on the customer, computed per company (the
        mail framework would compute the reply-to once per message)."""
        senders = {}
        for company, reminders in self.grouped("company_id").items():
            # Without a company address, the mail server's default sender is used
            # when the queue sends it, as for any message Odoo posts in sudo.
            email_from = (
                company.email_formatted
                or self.env["ir.mail_server"]._get_default_from_address()
            )
            reply_to = reminders.partner_id.with_company(company)._notify_get_reply_to(
                default=email_from
            )
            for reminder in reminders:
                senders[reminder.id] = (email_from, reply_to[reminder.partner_id.id])
        return senders

    def _chatter_values(self, senders, message_type, subtype_id):
        """A message from the company in the customer's chatter."""
        self.ensure_one()
        return {
            "model": "res.partner",
            "res_id": self.partner_id.id,
            "record_name": self.partner_id.display_name,
            "message_type": message_type,
            "subtype_id": subtype_id,
            "author_id": self.company_id.partner_id.id,
            "email_from": senders[self.id][0],
            "reply_to": senders[self.id][1],
        }

    def _log_on_invoices(self, channels):
        """Note each reminder in its invoices' chatter (an installment's, in its
        plan's): one batch of log messages per step and channel."""
        labels = dict(self._fields["channel"]._description_selection(self.env))
        records_by_note = defaultdict(list)
        for reminder in self:
            channel = channels[reminder.id]
            if reminder.installment_id:
                key = ("collection.payment.plan", reminder.step_id, channel)
                records_by_note[key].append(reminder.plan_id.id)
            else:
                key = ("account.move", reminder.step_id, channel)
                records_by_note[key] += reminder.invoice_ids.ids
        for (model, step, channel), record_ids in records_by_note.items():
            body = Markup("%s") % self.env._(
                "Collection reminder (%(channel)s): %(step)s",
                channel=labels[channel],
                step=step.name,
            )
            record_ids = list(dict.fromkeys(record_ids))
            self.env[model].browse(record_ids)._message_log_batch(
                bodies=dict.fromkeys(record_ids, body)
            )
