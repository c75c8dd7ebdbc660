from odoo import api, fields, models
from odoo.exceptions import UserError


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
            case.message_post(
                body=self.env._(
                    "Follow-up paused until %(date)s: %(reason)s",
                    date=fields.Date.to_string(self.paused_until),
                    reason=self.reason,
                )
            )
        return {"type": "ir.actions.act_window_close"}
