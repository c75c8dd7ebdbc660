from odoo import fields, models


class CollectionPaymentPlanAccept(models.TransientModel):
    """A collector records that the customer accepted a proposed plan (by phone,
    in person): who accepted and a note; the plan becomes active."""

    _name = "collection.payment.plan.accept"
    _description = "Record Payment Plan Acceptance"

    plan_id = fields.Many2one(
        "collection.payment.plan",
        required=True,
        default=lambda self: self.env.context.get("active_id"),
    )
    signer = fields.Char(string="Accepted By", required=True)
    note = fields.Text(required=True, help="How and when the customer agreed.")

    def action_accept(self):
        self.ensure_one()
        self.plan_id.action_record_acceptance(self.signer, note=self.note)
        return {"type": "ir.actions.act_window_close"}
