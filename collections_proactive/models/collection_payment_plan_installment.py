from odoo import api, fields, models


class CollectionPaymentPlanInstallment(models.Model):
    """One installment of a payment plan: an amount due on a date. What is paid on
    it is allocated from the payments on the plan's invoices, in date order."""

    _name = "collection.payment.plan.installment"
    _description = "Payment Plan Installment"
    _order = "plan_id, sequence, id"

    plan_id = fields.Many2one(
        "collection.payment.plan", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="plan_id.company_id", store=True)
    currency_id = fields.Many2one(related="plan_id.currency_id")
    sequence = fields.Integer(default=1)
    is_down_payment = fields.Boolean()
    date = fields.Date(required=True)
    amount = fields.Monetary(required=True, currency_field="currency_id")
    paid_amount = fields.Monetary(readonly=True, currency_field="currency_id")
    state = fields.Selection(
        [
            ("due", "Due"),
            ("partial", "Partially Paid"),
            ("paid", "Paid"),
            ("late", "Late"),
        ],
        compute="_compute_state",
    )

    @api.depends("amount", "paid_amount", "date")
    def _compute_state(self):
        today = fields.Date.context_today(self)
        for installment in self:
            currency = installment.currency_id
            if (
                currency.compare_amounts(installment.paid_amount, installment.amount)
                >= 0
            ):
                installment.state = "paid"
            elif installment.date and installment.date < today:
                installment.state = "late"
            elif not currency.is_zero(installment.paid_amount):
                installment.state = "partial"
            else:
                installment.state = "due"

    label = fields.Char(
        compute="_compute_label", help="Down payment, or its number in the schedule."
    )

    @api.depends("plan_id.installment_count", "sequence", "is_down_payment")
    def _compute_label(self):
        for installment in self:
            installment.label = (
                self.env._("down payment")
                if installment.is_down_payment
                else self.env._(
                    "%(number)s of %(count)s",
                    number=installment.sequence,
                    count=installment.plan_id.installment_count,
                )
            )

    @api.depends("plan_id.name", "label")
    def _compute_display_name(self):
        for installment in self:
            installment.display_name = (
                f"{installment.plan_id.name} - {installment.label}"
            )
