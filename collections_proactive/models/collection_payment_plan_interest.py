from odoo import fields, models


class CollectionPaymentPlan(models.Model):
    """A plan can waive the late interest and collection fees of its amounts
    due: on acceptance, what they accrued and was not yet invoiced is recorded
    as waived, and they accrue none while the plan is active (a broken plan
    starts them again, from the acceptance on: the waived part stays
    waived)."""

    _inherit = "collection.payment.plan"

    waive_interest = fields.Boolean(
        string="Waive Late Interest",
        tracking=True,
        help="On acceptance, the late interest and collection fees of the plan's "
        "invoices are waived, and none accrues while the plan is kept.",
    )
    interest_waived = fields.Monetary(
        string="Interest and Fees Waived",
        currency_field="currency_id",
        readonly=True,
        copy=False,
    )

    def action_record_acceptance(self, signer, note=None, ip=None, vat=None):
        result = super().action_record_acceptance(signer, note=note, ip=ip, vat=vat)
        self.filtered("waive_interest")._collection_waive_interest()
        return result

    def _collection_waive_interest(self):
        """Record as waived the interest and fees the plan's lines accrued up to
        today."""
        Line = self.env["account.move.line"].sudo()
        Charge = self.env["collection.interest.charge"].sudo()
        today = fields.Date.context_today(self)
        for plan in self:
            company = plan.company_id
            if not company.collection_interest_enabled:
                continue
            lines = plan.move_line_ids.sudo()
            # Up to date before the plan stops their accrual (it is active now).
            Line._collection_accrue_interest(
                company, partner=plan.partner_id, but_plan=plan
            )
            currency = company.currency_id
            today_charged = set(
                Charge.search(
                    [("move_line_id", "in", lines.ids), ("date", "=", today)]
                ).mapped(lambda charge: (charge.move_line_id.id, charge.charge_type))
            )
            values = []
            for line in lines:
                pending = {
                    "interest": (
                        line.collection_interest_accrued
                        - line.collection_interest_charged,
                        company._collection_interest_rate_today(today),
                        line.balance,
                    ),
                    "fee": (
                        line.collection_fee_accrued - line.collection_fee_charged,
                        company.collection_fee_percent,
                        line.collection_fee_base,
                    ),
                }
                for charge_type, (amount, rate, base) in pending.items():
                    amount = currency.round(amount)
                    if (
                        currency.compare_amounts(amount, 0) > 0
                        and (line.id, charge_type) not in today_charged
                    ):
                        values.append(
                            {
                                "move_line_id": line.id,
                                "partner_id": plan.partner_id.id,
                                "company_id": company.id,
                                "kind": "waived",
                                "charge_type": charge_type,
                                "date": today,
                                "days": line.collection_interest_days,
                                "rate": rate,
                                "base": base,
                                "amount": amount,
                                "plan_id": plan.id,
                            }
                        )
            charges = Charge.create(values)
            plan.sudo().interest_waived = sum(charges.mapped("amount"))
