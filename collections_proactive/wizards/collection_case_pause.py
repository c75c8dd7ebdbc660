from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from ..tools.trace import log_trace, note_html


class CollectionCasePause(models.TransientModel):
    """Pause the follow-up of cases until a date, for a reason (a dispute, a
    promise made by phone): reminders due meanwhile wait until that date."""

    _name = "collection.case.pause"
    _description = "Pause Collection Follow-up"

    case_ids = fields.Many2many("collection.case", string="Cases")
    paused_until = fields.Date(string="Until", required=True)
    reason = fields.Char(required=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "collection.case":
            values["case_ids"] = [(6, 0, self.env.context.get("active_ids", []))]
        return values

    def action_pause(self):
        self.ensure_one()
        if self.paused_until <= fields.Date.context_today(self):
            raise UserError(self.env._("Pause the follow-up until a future date."))
        closed = self.case_ids.filtered(lambda case: case.state == "closed")
        if closed:
            raise UserError(
                self.env._(
                    "Closed cases have no follow-up to pause: %(cases)s",
                    cases=", ".join(closed.mapped("display_name")),
                )
            )
        self.case_ids.write(
            {"paused_until": self.paused_until, "pause_reason": self.reason}
        )
        for case in self.case_ids:
            # On the case and on each of its open invoices: until when, what is
            # owed, and why (escaped: the reason is typed text).
            log_trace(
                self.env,
                case.invoice_ids._collection_open(),
                case.partner_id,
                case.company_id,
                note_html(
                    self.env._(
                        "Follow-up paused until %(date)s, %(amount)s due: %(reason)s",
                        date=format_date(self.env, self.paused_until),
                        amount=case.currency_id.format(case._current_due()),
                        reason=self.reason,
                    )
                ),
            )
        return {"type": "ir.actions.act_window_close"}
