from odoo import api, fields, models


class CollectionSendWizard(models.TransientModel):
    """Preview of *Send Due Reminders Now*: what the engine would send this
    customer now, on which channel, or why not, before anything goes out."""

    _name = "collection.send.wizard"
    _description = "Send Collection Reminders Now"

    partner_id = fields.Many2one("res.partner", required=True, readonly=True)
    line_ids = fields.One2many(
        "collection.send.wizard.line", "wizard_id", string="Reminders", readonly=True
    )
    preview_subject = fields.Char(readonly=True)
    preview_body = fields.Html(readonly=True, sanitize=False)

    @api.model
    def action_open(self, partner):
        wizard = self.create({"partner_id": partner.commercial_partner_id.id})
        wizard._compute_preview()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Send Due Reminders Now"),
        }

    def _compute_preview(self):
        """Run the engine's planning and policy inside a savepoint rolled back at
        once: the preview is exactly what sending would do, and changes nothing."""
        self.ensure_one()
        reminders = self.env["collection.reminder"].sudo()
        now = fields.Datetime.now()
        lines, subject, body = [], False, False
        channels = dict(reminders._fields["channel"]._description_selection(self.env))
        with self.env.cr.savepoint() as savepoint:
            planned = reminders._plan_reminders(
                companies=self.env.company, partners=self.partner_id
            )
            todo = reminders.search(
                [
                    ("partner_id", "=", self.partner_id.id),
                    ("company_id", "=", self.env.company.id),
                    ("state", "=", "planned"),
                    ("planned_date", "<=", now),
                ]
            )
            candidates = (planned | todo).sorted("id")
            facts = candidates._send_facts(now)
            for reminder in candidates:
                verdict, channel = reminder.reason or "", reminder.channel
                if reminder.state == "planned":
                    outcome, delivered_on = reminder._decide(now, facts)
                    verdict = outcome.get("reason") or self.env._("Goes out now")
                    channel = delivered_on or channel
                    if delivered_on == "email" and not subject:
                        template = reminder._mail_template()
                        subject = template._render_field(
                            "subject", reminder.ids, compute_lang=True
                        )[reminder.id]
                        body = template._render_field(
                            "body_html", reminder.ids, compute_lang=True
                        )[reminder.id]
                lines.append(
                    {
                        "step": reminder.step_id.name,
                        "channel": channels.get(channel),
                        "invoices": ", ".join(reminder.line_ids.move_id.mapped("name")),
                        "verdict": verdict,
                    }
                )
            self.env.flush_all()
            savepoint.rollback()
        self.env.invalidate_all()
        self.write(
            {
                "line_ids": [fields.Command.create(values) for values in lines],
                "preview_subject": subject,
                "preview_body": body,
            }
        )

    def action_send(self):
        return self.partner_id.action_collection_send_now()
