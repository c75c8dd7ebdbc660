from odoo import fields, models

# What a charge keeps of a line's pending interest or fee.
CHARGE_KEYS = ("charge_type", "days", "rate", "base", "amount")


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
            today_charged = set(
                Charge.search(
                    [("move_line_id", "in", lines.ids), ("date", "=", today)]
                ).mapped(lambda charge: (charge.move_line_id.id, charge.charge_type))
            )
            rate = company._collection_interest_rate_today(today)
            values = [
                {
                    "move_line_id": line.id,
                    "partner_id": plan.partner_id.id,
                    "company_id": company.id,
                    "kind": "waived",
                    "date": today,
                    "plan_id": plan.id,
                    **{key: charge[key] for key in CHARGE_KEYS},
                }
                for line in lines
                for charge in line._collection_pending_charges(rate)
                if (line.id, charge["charge_type"]) not in today_charged
            ]
            charges = Charge.create(values)
            plan.sudo().interest_waived = sum(charges.mapped("amount"))
