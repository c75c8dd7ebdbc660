from lxml import html
from markupsafe import Markup, escape

from odoo import Command, models
from odoo.tools import SQL, safe_eval

from ..tools.money import format_amount_in

# Placeholders of the body and the customer's name in a layout rendered once.
LAYOUT_BODY = "collections-proactive-layout-body-4f1d9c"
LAYOUT_NAME = "collections-proactive-layout-name-4f1d9c"


def _remembered(function):
    """``function`` remembering its results per arguments (dates, amounts with
    their currency record, language codes: all hashable)."""
    results = {}

    def remembered(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in results:
            results[key] = function(*args, **kwargs)
        return results[key]

    return remembered


class CollectionReminderEmail(models.Model):
    """Delivery by email: the template, the rendered body and its attachments."""

    _inherit = "collection.reminder"

    def _mail_template(self):
        self.ensure_one()
        return self.step_id.mail_template_id or self._shipped_template(
            "mail.template", "mail_template"
        )

    def _deliver_emails(self, senders):
        """One ``mail.mail`` per reminder, in the customer's chatter, wrapped in
        Odoo's light email layout and rendered in the customer's language."""
        if not self:
            return {}
        comment = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        attachments = self._invoice_attachments()
        order, values, bodies_by_reminder, layouts = [], [], {}, {}
        for template, group in self.grouped(lambda r: r._mail_template()).items():
            langs = template._render_lang(group.ids)
            subjects = template._render_field("subject", group.ids, compute_lang=True)
            bodies = group._render_qweb_body(template)
            for reminder in group:
                partner = reminder.partner_id
                body = bodies[reminder.id]
                bodies_by_reminder[reminder.id] = body
                order.append(reminder)
                values.append(
                    {
                        **reminder._chatter_values(senders, "comment", comment),
                        "subject": subjects[reminder.id],
                        # Written below, sanitized once (the ORM would sanitize
                        # each body three times while creating the mail).
                        "body": "",
                        "body_html": reminder._email_layout(
                            body, langs[reminder.id], layouts
                        ),
                        "partner_ids": [Command.link(partner.id)],
                        "recipient_ids": [Command.link(partner.id)],
                        "attachment_ids": [
                            Command.link(attachment_id)
                            for attachment_id in attachments.get(reminder.id, ())
                        ],
                        "mail_server_id": template.mail_server_id.id,
                        "is_notification": True,
                        "auto_delete": False,
                        "state": "outgoing",
                    }
                )
        mails = self.env["mail.mail"].create(values)
        self._write_message_bodies(
            {
                mail.mail_message_id.id: bodies_by_reminder[reminder.id]
                for reminder, mail in zip(order, mails, strict=True)
            }
        )
        # The notification gives the chatter its envelope and the delivery status
        # the mail queue writes back (sent, bounced), as for any posted message.
        self.env["mail.notification"].create(
            [
                {
                    "author_id": mail.author_id.id,
                    "mail_message_id": mail.mail_message_id.id,
                    "mail_mail_id": mail.id,
                    "res_partner_id": reminder.partner_id.id,
                    "notification_type": "email",
                    "notification_status": "ready",
                    "is_read": True,
                }
                for reminder, mail in zip(order, mails, strict=True)
            ]
        )
        return {
            reminder.id: {"message_id": mail.mail_message_id.id}
            for reminder, mail in zip(order, mails, strict=True)
        }

    def _write_message_bodies(self, bodies):
        """``{mail.message id: body}`` written in one statement, each body
        sanitized once as the message's ``body`` field sanitizes it."""
        if not bodies:
            return
        Message = self.env["mail.message"]
        field = Message._fields["body"]
        Message.browse(list(bodies)).flush_recordset(["body"])
        self.env.cr.execute(
            SQL(
                """UPDATE mail_message m SET body = v.body
                     FROM (VALUES %s) AS v(id, body) WHERE m.id = v.id""",
                SQL(", ").join(
                    SQL(
                        "(%s, %s)",
                        message_id,
                        field.convert_to_column(body, Message.browse(message_id)),
                    )
                    for message_id, body in bodies.items()
                ),
            )
        )
        Message.browse(list(bodies)).invalidate_recordset(["body"])

    def _render_qweb_body(self, template):
        """``{reminder id: body}``: the template's QWeb body in each customer's
        language, as ``template._render_field("body_html", ids, compute_lang=True)``
        renders it, but compiled once per language: ``mail.render.mixin`` parses
        and compiles the body again for every record, most of the cost of a
        batch."""
        bodies = {}
        for lang, (localized, ids) in template._classify_per_lang(self.ids).items():
            env = self.with_context(lang=lang).env if lang else self.env
            # The messages' "installment 2 of 3" labels, one query per language
            # for the batch instead of one per thousand lines listed.
            lines = env[self._name].browse(ids).due_line_ids
            label = lines._fields["collection_term_label"]
            with env.protecting([label], lines):
                lines._compute_collection_term_label()
            values = env["mail.render.mixin"]._render_eval_context()
            # A message lists many amounts and dates, and a batch many messages:
            # the language read once, each date formatted once.
            values["format_date"] = _remembered(values["format_date"])
            values["format_amount"] = format_amount_in(env)
            qweb = env["ir.qweb"]._prepare_environment(values)
            safe_eval.check_values(values)
            source = localized.body_html or ""
            functions, name = qweb._compile(
                html.fragment_fromstring(source, create_parent="div")
            )
            for record in env[self._name].browse(ids):
                values["object"] = record
                # Without the <div> wrapping the template's nodes.
                bodies[record.id] = Markup("".join(functions[name](qweb, values))[5:-6])
        return bodies

    def _email_layout(self, body, lang, layouts=None):
        """The body in ``mail.mail_notification_light``, as ``message_post`` would
        send it, without posting one message at a time. ``layouts``: a dict kept
        over a batch, where the layout is rendered once per company and language
        around placeholders for the body and the customer's name (the only parts
        of it that differ from one reminder to the next), then filled in."""
        env = self.with_context(lang=lang).env
        render = env["mail.render.mixin"]
        if layouts is None:
            return render._replace_local_links(
                self._render_layout(env, lang, body, self.partner_id.display_name)
            )
        key = (self.company_id.id, lang)
        if key not in layouts:
            layouts[key] = render._replace_local_links(
                self._render_layout(env, lang, LAYOUT_BODY, LAYOUT_NAME)
            )
        name = self.partner_id.display_name
        # As the layout writes the record name: "/" turned to "-", escaped.
        name = escape(name.replace("/", "-")) if name else ""
        # Local links are made absolute in the body alone as in the whole page:
        # the rewrite works tag by tag, and no tag spans the body's edges.
        return Markup(
            str(layouts[key])
            .replace(LAYOUT_NAME, str(name))
            .replace(LAYOUT_BODY, str(render._replace_local_links(body)))
        )

    def _render_layout(self, env, lang, body, record_name):
        return env["ir.qweb"]._render(
            "mail.mail_notification_light",
            {
                "message": env["mail.message"].new(
                    {"body": body, "record_name": record_name}
                ),
                "company": self.company_id,
                "lang": lang,
                "has_button_access": False,
                "model_description": env._("account"),
                "tracking_values": [],
            },
            minimal_qcontext=True,
        )

    def _invoice_attachments(self):
        """``{reminder id: [attachment ids]}``: the invoice PDFs of the steps that
        attach them: the stored ones reused, the others rendered and kept on the
        invoice."""
        wanted = self.filtered("step_id.attach_invoices")
        invoices = wanted.invoice_ids
        if not invoices:
            return {}
        pdfs = {
            invoice.id: invoice.invoice_pdf_report_id.id
            for invoice in invoices
            if invoice.invoice_pdf_report_id
        }
        missing = invoices.filtered(lambda invoice: invoice.id not in pdfs)
        if missing:
            # One report run per invoice: each PDF is the invoice's own document.
            report = self.env["ir.actions.report"]
            created = self.env["ir.attachment"].create(
                [
                    {
                        "name": invoice._get_invoice_report_filename(),
                        "raw": report._render_qweb_pdf(
                            "account.account_invoices", invoice.ids
                        )[0],
                        "mimetype": "application/pdf",
                        "res_model": "account.move",
                        "res_id": invoice.id,
                    }
                    for invoice in missing
                ]
            )
            pdfs.update(zip(missing.ids, created.ids, strict=True))
        return {
            reminder.id: [pdfs[invoice.id] for invoice in reminder.invoice_ids]
            for reminder in wanted
        }
