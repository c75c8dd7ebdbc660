from odoo import fields, models


class CollectionPaymentPlanDecline(models.TransientModel):
    """Record that the customer declined a proposed plan, and why."""

    _name = "collection.payment.plan.decline"
    _description = "Decline Payment Plan"

    plan_id = fields.Many2one(
        "collection.payment.plan",
        required=True,
        default=lambda self: self.env.context.get("active_id"),
    )
    reason = fields.Text(required=True)

    def action_decline(self):
        self.ensure_one()
        self.plan_id.action_decline(self.reason)
        return {"type": "ir.actions.act_window_close"}
