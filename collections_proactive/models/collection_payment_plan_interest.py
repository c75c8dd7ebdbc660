from odoo import fields, models


class CollectionPaymentPlan(models.Model):
    """A plan can waive the late interest of its amounts due: on acceptance,
    what they accrued and was not yet invoiced is recorded as waived, and they
    accrue none while the plan is active (a broken plan starts them again,
    from the acceptance on: the waived part stays waived)."""

    _inherit = "collection.payment.plan"

    waive_interest = fields.Boolean(
        string="Waive Late Interest",
        tracking=True,
        help="On acceptance, the late interest of the plan's invoices is waived, "
        "and none accrues while the plan is kept.",
    )
    interest_waived = fields.Monetary(
        currency_field="currency_id",
        readonly=True,
        copy=False,
    )

    def action_record_acceptance(self, signer, note=None, ip=None, vat=None):
        result = super().action_record_acceptance(signer, note=note, ip=ip, vat=vat)
        self.filtered("waive_interest")._collection_waive_interest()
        return result

    def _collection_waive_interest(self):
        """Record as waived the interest the plan's lines accrued up to today."""
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
            values = []
            for line in lines:
                amount = currency.round(
                    line.collection_interest_accrued - line.collection_interest_charged
                )
                if currency.compare_amounts(amount, 0) > 0 and not Charge.search_count(
                    [("move_line_id", "=", line.id), ("date", "=", today)]
                ):
                    values.append(
                        {
                            "move_line_id": line.id,
                            "partner_id": plan.partner_id.id,
                            "company_id": company.id,
                            "kind": "waived",
                            "date": today,
                            "days": line.collection_interest_days,
                            "rate": company._collection_interest_rate_today(today),
                            "base": line.balance,
                            "amount": amount,
                            "plan_id": plan.id,
                        }
                    )
            charges = Charge.create(values)
            plan.sudo().interest_waived = sum(charges.mapped("amount"))
