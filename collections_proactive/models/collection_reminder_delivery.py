from collections import defaultdict

from markupsafe import Markup

from odoo import models
from odoo.tools import SQL


class CollectionReminderDelivery(models.Model):
    """Delivery: the channel a reminder can use, and the batch handed to them."""

    _inherit = "collection.reminder"

    def _deliverable_channel(self):
        """The channel to use, honouring opt-outs, with a fallback to the other
        written channel (from WhatsApp: to SMS, else email, when it is off, not
        accepted or failed); (False, reason) when nothing can reach the
        customer."""
        partner = self.partner_id
        can_email = bool(partner.email) and not (
            partner.is_blacklisted or partner.collection_no_email
        )
        can_sms = bool(partner.mobile or partner.phone) and not (
            partner.phone_sanitized_blacklisted or partner.collection_no_sms
        )
        step_channels = self.step_id._channels()
        if self.channel == "whatsapp":
            refusal = self._whatsapp_refusal()
            if not refusal:
                return "whatsapp", False
            # Once, to the written channel the step does not use already.
            if can_sms and "sms" not in step_channels:
                return "sms", self.env._(
                    "%(reason)s: sent by SMS instead", reason=refusal
                )
            if can_email and "email" not in step_channels:
                return "email", self.env._(
                    "%(reason)s: sent by email instead", reason=refusal
                )
            return False, self.env._(
                "%(reason)s, and no other channel reaches the customer",
                reason=refusal,
            )
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
            **batch.get("whatsapp", none)._deliver_whatsapp(senders),
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
        plan's): one log message per record, step and channel."""
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
        notes_by_model = defaultdict(list)
        for (model, step, channel), record_ids in records_by_note.items():
            body = Markup("%s") % self.env._(
                "Collection reminder (%(channel)s): %(step)s",
                channel=labels[channel],
                step=step.name,
            )
            notes_by_model[model].append((body, list(dict.fromkeys(record_ids))))
        for model, notes in notes_by_model.items():
            self._log_notes(self.env[model], notes)

    def _log_notes(self, records, notes):
        """``[(body, record ids)]`` logged as ``_message_log_batch`` logs them,
        in two statements whatever their number: the first note of each body is
        logged through the ORM (one call for all bodies), then copied in SQL for
        the other records, column for column (a batch of logs shares everything
        but the record in Odoo too: Message-Id, reply-to). Through the ORM each
        note would sanitize its body again, most of the cost of a send batch."""
        copies = []  # (template message, record id)
        while notes:
            # One record per body in each ORM call: its bodies are per record.
            firsts, later = {}, []
            for body, record_ids in notes:
                first = next((rid for rid in record_ids if rid not in firsts), None)
                if first is None:
                    later.append((body, record_ids))
                    continue
                firsts[first] = (body, [rid for rid in record_ids if rid != first])
            logged = records.browse(list(firsts))._message_log_batch(
                bodies={record_id: body for record_id, (body, _r) in firsts.items()}
            )
            # Logged in the order of the records.
            for message, record_id in zip(logged, firsts, strict=True):
                copies += [(message.id, rid) for rid in firsts[record_id][1]]
            notes = later
        if not copies:
            return
        logged.flush_model()
        # The table's columns are the stored fields' (as the ORM inserts them).
        columns = [
            field.name
            for field in self.env["mail.message"]._fields.values()
            if field.store and field.column_type and field.name not in ("id", "res_id")
        ]
        self.env.cr.execute(
            SQL(
                """INSERT INTO mail_message (res_id, %(columns)s)
                   SELECT v.res_id, %(copied)s
                     FROM (VALUES %(values)s) AS v(template_id, res_id)
                     JOIN mail_message t ON t.id = v.template_id""",
                columns=SQL(", ").join(SQL.identifier(c) for c in columns),
                copied=SQL(", ").join(SQL.identifier("t", c) for c in columns),
                values=SQL(", ").join(
                    SQL("(%s, %s)", template_id, record_id)
                    for template_id, record_id in copies
                ),
            )
        )
        records.browse([record_id for _t, record_id in copies]).invalidate_recordset(
            ["message_ids", "message_needaction", "message_needaction_counter"]
        )
