from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup

from odoo import fields, models
from odoo.tools import format_date


class CollectionReminderCall(models.Model):
    """Delivery by call: the activity assigned to a collector."""

    _inherit = "collection.reminder"

    def _call_assignee(self):
        """Who makes the call: the customer's collector in the reminder's
        company, else the strategy's user, else the company's collections
        manager, else the salesperson."""
        self.ensure_one()
        company = self.company_id
        return (
            self.partner_id.with_company(company).collection_user_id
            or self.step_id.strategy_id.user_id
            or company._collection_manager()
            or self.partner_id.user_id
            or self.invoice_ids.invoice_user_id[:1]
            or self.env.ref("base.user_root")
        )

    def _deliver_calls(self):
        """A call activity per reminder for the customer's collector, on the
        customer's open case (where the board and its "no next action" filter
        see it; on the customer when it has none), written in the collector's
        language."""
        if not self:
            return {}
        cases = (
            self.env["collection.case"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.partner_id.ids),
                    ("company_id", "in", self.company_id.ids),
                    ("state", "=", "open"),
                ]
            )
        )
        case_of = {(case.partner_id.id, case.company_id.id): case for case in cases}
        models = {
            name: self.env["ir.model"]._get_id(name)
            for name in ("collection.case", "res.partner")
        }
        todo = self.env.ref("mail.mail_activity_data_todo")
        users = {reminder.id: reminder._call_assignee() for reminder in self}
        targets = {
            reminder.id: case_of.get((reminder.partner_id.id, reminder.company_id.id))
            or reminder.partner_id
            for reminder in self
        }
        # Each assignee follows each record once beforehand: two call
        # activities of one record for one user in the same create would
        # subscribe that user twice (a unique violation failing the batch).
        records_by_user = defaultdict(list)
        for reminder in self:
            records_by_user[users[reminder.id]].append(targets[reminder.id])
        for user, records in records_by_user.items():
            for model in {record._name for record in records}:
                self.env[model].union(
                    *(record for record in records if record._name == model)
                ).message_subscribe(partner_ids=user.partner_id.ids)
        values = []
        for reminder in self:
            user, target = users[reminder.id], targets[reminder.id]
            step = reminder.step_id.with_context(lang=user.lang or "en_US")
            values.append(
                {
                    "res_model_id": models[target._name],
                    "res_id": target.id,
                    "activity_type_id": (step.activity_type_id or todo).id,
                    "summary": step.activity_summary or step.name,
                    "note": reminder.with_context(
                        lang=user.lang or "en_US"
                    )._activity_note(),
                    "date_deadline": fields.Date.context_today(reminder)
                    + timedelta(days=step.activity_delay_days),
                    "user_id": user.id,
                    "automated": True,
                }
            )
        # No "assigned to you" email per call: a morning's run gives a
        # collector dozens, all on the board and in the activity menu.
        activities = (
            self.env["mail.activity"]
            .with_context(mail_activity_quick_update=True)
            .create(values)
        )
        return {
            reminder.id: {"activity_id": activity.id}
            for reminder, activity in zip(self, activities, strict=True)
        }

    def _activity_note(self):
        """The amounts to talk about, each with its invoice and due date, in the
        language and date format of the user the note is for; an installment's
        invoices for an installment reminder."""
        self.ensure_one()
        rows = [
            (
                line.move_id.name
                + (
                    f" ({line.collection_term_label})"
                    if line.collection_term_label
                    else ""
                ),
                line.currency_id.format(line.amount_residual_currency),
                line.date_maturity,
            )
            for line in self.due_line_ids
        ] or [
            (
                invoice.name,
                invoice.currency_id.format(invoice.amount_residual),
                invoice.invoice_date_due,
            )
            for invoice in self.invoice_ids
        ]
        items = Markup().join(
            Markup("<li>%s</li>")
            % self.env._(
                "%(invoice)s: %(amount)s, due %(date)s",
                invoice=name,
                amount=amount,
                date=format_date(self.env, due),
            )
            for name, amount, due in rows
        )
        return Markup("<ul>%s</ul>") % items
