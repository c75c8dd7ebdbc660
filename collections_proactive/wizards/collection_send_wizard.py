from odoo import api, fields, models
from odoo.tools import SQL, format_datetime


class CollectionSendWizard(models.TransientModel):
    """Preview of *Send Due Reminders Now*: what the engine would send this
    customer now, on which channel, or why not, before anything goes out."""

    _name = "collection.send.wizard"
    _description = "Send Collection Reminders Now"

    partner_id = fields.Many2one("res.partner", required=True, readonly=True)
    line_ids = fields.One2many(
        "collection.send.wizard.line", "wizard_id", string="Reminders", readonly=True
    )
    can_send = fields.Boolean(compute="_compute_can_send")
    preview_subject = fields.Char(readonly=True)
    preview_body = fields.Html(readonly=True, sanitize=False)

    @api.depends("line_ids.goes_out")
    def _compute_can_send(self):
        for wizard in self:
            wizard.can_send = any(wizard.line_ids.mapped("goes_out"))

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

    @api.model
    def _sendable_domain(self, partner, company):
        """The planned reminders *Send now* may send: those whose date has come,
        and for a collections manager also those deferred to later. Whatever
        is chosen, the contact policy decides each one again: nobody sends past
        its limits."""
        domain = [
            ("partner_id", "=", partner.id),
            ("company_id", "=", company.id),
            ("state", "=", "planned"),
        ]
        manager = "collections_proactive.group_collections_manager"
        if not self.env.user.has_group(manager):
            domain.append(("planned_date", "<=", fields.Datetime.now()))
        return domain

    def _compute_preview(self):
        """Run the engine's planning and policy inside a savepoint rolled back at
        once: the preview is exactly what sending would do, and changes nothing.
        It lists every planned reminder of the customer (what goes out now, what
        waits, until when and by which rule) and, for the open invoices with no
        reminder planned, what the engine does next."""
        self.ensure_one()
        reminders = self.env["collection.reminder"].sudo()
        company = self.env.company
        now = fields.Datetime.now()
        lines, subject, body = [], False, False
        channels = dict(reminders._fields["channel"]._description_selection(self.env))
        sendable = self._sendable_domain(self.partner_id, company)
        with self.env.cr.savepoint() as savepoint:
            reminders.env["collection.reminder.planner"]._plan_reminders(
                companies=company, partners=self.partner_id
            )
            candidates = reminders.search(
                [
                    ("partner_id", "=", self.partner_id.id),
                    ("company_id", "=", company.id),
                    ("state", "=", "planned"),
                ],
                order="planned_date, id",
            )
            may_send = candidates.filtered_domain(sendable)
            facts = candidates._send_facts(now)
            for reminder in candidates:
                outcome, delivered_on = reminder._decide(now, facts)
                goes_out = bool(delivered_on) and reminder in may_send
                if goes_out:
                    verdict = self.env._("Goes out now")
                elif delivered_on:
                    verdict = self.env._(
                        "Planned for %(date)s: a collections manager may send it "
                        "now, within the contact policy",
                        date=format_datetime(self.env, reminder.planned_date),
                    )
                else:
                    verdict = outcome.get("reason") or ""
                if goes_out and delivered_on == "email" and not subject:
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
                        "channel": channels.get(delivered_on or reminder.channel),
                        "invoices": ", ".join(reminder.line_ids.move_id.mapped("name")),
                        "verdict": verdict,
                        "goes_out": goes_out,
                    }
                )
            covered = candidates.line_ids.move_line_id
            self.env.flush_all()
            savepoint.rollback()
        self.env.invalidate_all()
        lines += self._upcoming_lines(company, covered)
        self.write(
            {
                "line_ids": [fields.Command.create(values) for values in lines],
                "preview_subject": subject,
                "preview_body": body,
            }
        )

    def _upcoming_lines(self, company, covered):
        """What the engine does next with the customer's open amounts due that
        have no planned reminder, in the words the invoice shows."""
        Line = self.env["account.move.line"].sudo()
        self.env.cr.execute(
            self.env["collection.strategy"]._next_sql(
                company,
                fields.Date.context_today(self),
                SQL(
                    "AND m.commercial_partner_id = %s AND l.id != ALL(%s)",
                    self.partner_id.id,
                    covered.ids,
                ),
            )
        )
        lines = []
        for row in self.env.cr.fetchall():
            status, step_id, line = row[2], row[3], Line.browse(row[7])
            if not status:
                continue
            name = line.move_id.name
            if line.collection_term_label:
                name = f"{name} ({line.collection_term_label})"
            lines.append(
                {
                    "step": self.env["collection.strategy.step"]
                    .sudo()
                    .browse(step_id)
                    .name
                    or "",
                    "invoices": name,
                    "verdict": line.move_id._collection_next_text(*row[2:7]),
                    "goes_out": False,
                }
            )
        return lines

    def action_send(self):
        return self.partner_id.action_collection_send_now()
