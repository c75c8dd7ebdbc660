from odoo import fields, models
from odoo.tools import SQL


class CollectionCase(models.Model):
    """The customer's late interest and collection fees on its case: pending
    (accrued, not yet invoiced or waived), invoiced and waived; collectors
    invoice them from here."""

    _inherit = "collection.case"

    interest_enabled = fields.Boolean(related="company_id.collection_interest_enabled")
    interest_warning = fields.Char(related="company_id.collection_interest_warning")
    interest_pending = fields.Monetary(
        compute="_compute_interest",
        help="Late interest accrued on the customer's invoices and not yet "
        "invoiced or waived.",
    )
    fee_pending = fields.Monetary(
        string="Collection Fees Pending",
        compute="_compute_interest",
        help="Collection fees owed for the customer's late invoices and not yet "
        "invoiced or waived.",
    )
    interest_invoiced = fields.Monetary(
        string="Interest and Fees Invoiced", compute="_compute_interest"
    )
    interest_waived = fields.Monetary(
        string="Interest and Fees Waived", compute="_compute_interest"
    )

    def _compute_interest(self):
        """The sums for all the cases at once (no query per case)."""
        pending = {}
        if self.ids:
            self.env.flush_all()
            self.env.cr.execute(
                SQL(
                    """SELECT c.id,
                              SUM(GREATEST(l.collection_interest_accrued
                                  - COALESCE(l.collection_interest_charged, 0), 0)),
                              SUM(GREATEST(COALESCE(l.collection_fee_accrued, 0)
                                  - COALESCE(l.collection_fee_charged, 0), 0))
                         FROM collection_case c
                         JOIN account_move m
                           ON m.commercial_partner_id = c.partner_id
                          AND m.company_id = c.company_id
                          AND m.move_type = 'out_invoice' AND m.state = 'posted'
                         JOIN account_move_line l ON l.move_id = m.id
                        WHERE c.id = ANY(%s)
                          AND (l.collection_interest_accrued
                               > COALESCE(l.collection_interest_charged, 0)
                               OR l.collection_fee_accrued
                               > COALESCE(l.collection_fee_charged, 0))
                        GROUP BY c.id""",
                    self.ids,
                )
            )
            pending = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        charges = (
            self.env["collection.interest.charge"]
            .sudo()
            ._read_group(
                [
                    ("partner_id", "in", self.partner_id.ids),
                    ("company_id", "in", self.company_id.ids),
                ],
                ["partner_id", "company_id", "kind"],
                ["amount:sum"],
            )
        )
        charged = {
            (partner.id, company.id, kind): amount
            for partner, company, kind, amount in charges
        }
        for case in self:
            key = (case.partner_id.id, case.company_id.id)
            case.interest_pending, case.fee_pending = pending.get(case.id, (0.0, 0.0))
            case.interest_invoiced = charged.get((*key, "invoiced"), 0.0)
            case.interest_waived = charged.get((*key, "waived"), 0.0)

    def action_invoice_interest(self):
        self.ensure_one()
        return self.partner_id._collection_interest_wizard_action(
            self.company_id, "collection.case", self.ids
        )
