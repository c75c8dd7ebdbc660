from odoo import api, fields, models
from odoo.tools import format_date


class AccountMove(models.Model):
    """Late interest on the invoice: what its amounts due accrued, and what
    paying on time avoids; the interest invoices themselves are marked (they
    accrue no interest) and release their charges when cancelled."""

    _inherit = "account.move"

    collection_interest_invoice = fields.Boolean(
        string="Late Interest Invoice",
        readonly=True,
        copy=False,
        help="Invoices the late interest of other invoices (it accrues none).",
    )
    collection_interest_charge_ids = fields.One2many(
        "collection.interest.charge",
        "interest_move_id",
        string="Interest Invoiced",
        readonly=True,
    )
    collection_interest_pending = fields.Monetary(
        string="Late Interest",
        currency_field="company_currency_id",
        compute="_compute_collection_interest",
        help="Late interest accrued on this invoice and not yet invoiced or waived.",
    )
    collection_fee_pending = fields.Monetary(
        string="Collection Fee",
        currency_field="company_currency_id",
        compute="_compute_collection_interest",
        help="The collection fee owed for paying late, not yet invoiced or waived.",
    )
    collection_interest_text = fields.Char(
        string="Interest Notice", compute="_compute_collection_interest"
    )

    @api.depends_context("lang", "date")
    @api.depends(
        "line_ids.collection_interest_accrued",
        "line_ids.collection_interest_charged",
        "line_ids.collection_fee_accrued",
        "line_ids.collection_fee_charged",
        "line_ids.amount_residual",
        "company_id.collection_interest_enabled",
    )
    def _compute_collection_interest(self):
        for move in self:
            move.collection_interest_pending = 0.0
            move.collection_fee_pending = 0.0
            move.collection_interest_text = False
            if (
                not move.company_id.collection_interest_enabled
                or move.move_type != "out_invoice"
                or move.state != "posted"
                or move.collection_interest_invoice
            ):
                continue
            terms = move.line_ids.filtered(
                lambda line: line.account_id.account_type == "asset_receivable"
            )
            move.collection_interest_pending = sum(
                terms.mapped("collection_interest_pending")
            )
            move.collection_fee_pending = sum(terms.mapped("collection_fee_pending"))
            move.collection_interest_text = move._collection_interest_sentence(terms)

    def _collection_interest_sentence(self, terms):
        """``Pay by 12 March to avoid $ 4.320 of interest a month.`` (and the
        collection fee, when the company charges one) for an amount not yet
        late, else what one more day adds."""
        currency = self.company_id.currency_id
        upcoming = terms.filtered("collection_interest_pay_by").sorted(
            "collection_interest_pay_by"
        )
        if upcoming:
            pay_by = format_date(self.env, upcoming[0].collection_interest_pay_by)
            interest = currency.format(
                sum(upcoming.mapped("collection_interest_avoid"))
            )
            fee = sum(upcoming.mapped("collection_fee_avoid"))
            if fee:
                return self.env._(
                    "Pay by %(date)s to avoid a collection fee of %(fee)s and "
                    "%(amount)s of interest a month.",
                    date=pay_by,
                    fee=currency.format(fee),
                    amount=interest,
                )
            return self.env._(
                "Pay by %(date)s to avoid %(amount)s of interest a month.",
                date=pay_by,
                amount=interest,
            )
        daily = sum(terms.mapped("collection_interest_daily"))
        if daily:
            return self.env._(
                "Late interest grows by %(amount)s a day until paid.",
                amount=currency.format(daily),
            )
        return False

    def button_cancel(self):
        """A cancelled interest invoice gives its interest back to invoice."""
        self.collection_interest_charge_ids.sudo().unlink()
        return super().button_cancel()

    def unlink(self):
        charges = self.collection_interest_charge_ids.sudo()
        if charges:
            charges.unlink()
        return super().unlink()
