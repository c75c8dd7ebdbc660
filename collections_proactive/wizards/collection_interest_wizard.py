import base64
import csv
import io

import psycopg2

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, format_date


class CollectionInterestWizard(models.TransientModel):
    """Invoice a customer's late interest and collection fees, when a
    collector chooses: the computation per amount due, then one interest
    invoice with a line per amount due and charge (interest, fee), the
    computation attached (CSV), and a charge record per line so that a second
    invoicing only takes what accrued since."""

    _name = "collection.interest.wizard"
    _description = "Invoice Late Interest"

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date(string="As Of", readonly=True, default=fields.Date.context_today)
    line_ids = fields.One2many(
        "collection.interest.wizard.line", "wizard_id", string="Computation"
    )
    amount_total = fields.Monetary(
        string="Interest and Fees to Invoice", compute="_compute_amount_total"
    )
    warning = fields.Char(string="Rate Warning", compute="_compute_amount_total")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        model, ids = context.get("active_model"), context.get("active_ids") or []
        partner = company = None
        if model == "collection.case" and len(ids) == 1:
            case = self.env["collection.case"].browse(ids).exists()
            partner, company = case.partner_id, case.company_id
        elif model == "res.partner" and len(ids) == 1:
            partner = self.env["res.partner"].browse(ids).exists()
            company = self.env.company
        if partner:
            partner = partner.commercial_partner_id
            values.update(partner_id=partner.id, company_id=company.id)
            values["line_ids"] = [
                Command.create(row)
                for row in self._interest_rows(partner, company, lock=False)
            ]
        return values

    @api.depends("line_ids.amount", "company_id", "partner_id")
    def _compute_amount_total(self):
        for wizard in self:
            wizard.amount_total = sum(wizard.line_ids.mapped("amount"))
            issue = (
                wizard.company_id._collection_interest_rate_issue(wizard.date)
                if wizard.company_id and wizard.date
                else None
            )
            wizard.warning = issue or False

    @api.model
    def _check_collector(self, company):
        if not self.env.user.has_group("collections_proactive.group_collections_user"):
            raise AccessError(self.env._("Only collectors invoice late interest."))
        if company not in self.env.user.company_ids:
            raise AccessError(
                self.env._("You do not work for %(company)s.", company=company.name)
            )

    @api.model
    def _interest_rows(self, partner, company, lock=False):
        """The computation, read again from the database: per receivable line
        of the customer, the interest accrued and the collection fee not yet
        invoiced or waived (up to date as of today), with days, rate and
        base."""
        self._check_collector(company)
        if not company.collection_interest_enabled:
            raise UserError(
                self.env._(
                    "Late interest is not enabled for %(company)s.",
                    company=company.name,
                )
            )
        MoveLine = self.env["account.move.line"].sudo()
        MoveLine._collection_accrue_interest(company, partner=partner)
        self.env.cr.execute(
            SQL(
                """SELECT l.id FROM account_move_line l
                     JOIN account_move m ON m.id = l.move_id
                    WHERE l.company_id = %(company)s
                      AND m.commercial_partner_id = %(partner)s
                      AND m.move_type = 'out_invoice' AND m.state = 'posted'
                      AND NOT COALESCE(m.collection_interest_invoice, FALSE)
                      AND (l.collection_interest_accrued
                           > COALESCE(l.collection_interest_charged, 0)
                           OR l.collection_fee_accrued
                           > COALESCE(l.collection_fee_charged, 0))
                    ORDER BY l.date_maturity, l.id %(lock)s""",
                company=company.id,
                partner=partner.id,
                lock=SQL("FOR UPDATE OF l NOWAIT") if lock else SQL(),
            )
        )
        lines = MoveLine.browse([row[0] for row in self.env.cr.fetchall()])
        rate = company._collection_interest_rate_today(fields.Date.context_today(self))
        return [
            {"move_line_id": line.id, **charge}
            for line in lines
            for charge in line._collection_pending_charges(rate)
        ]

    def action_invoice(self):
        """One interest invoice for the customer, exactly once per accrued
        amount; refused as a whole (nothing written) on any issue."""
        self.ensure_one()
        partner, company = self.partner_id.commercial_partner_id, self.company_id
        if not partner:
            raise UserError(
                self.env._("Choose the customer whose interest to invoice.")
            )
        self._check_collector(company)
        issue = company._collection_interest_rate_issue(fields.Date.context_today(self))
        if issue:
            raise UserError(issue)
        account = company.collection_interest_account_id
        if not account:
            raise UserError(
                self.env._(
                    "Set the interest income account in the Collections settings "
                    "of %(company)s.",
                    company=company.name,
                )
            )
        try:
            with self.env.cr.savepoint():
                rows = self._interest_rows(partner, company, lock=True)
                move = self._create_interest_invoice(partner, company, account, rows)
        except psycopg2.errors.LockNotAvailable as exc:
            raise UserError(
                self.env._("This customer's interest is being invoiced right now.")
            ) from exc
        except psycopg2.IntegrityError as exc:
            raise UserError(
                self.env._(
                    "This customer's interest was already invoiced today: only the "
                    "interest accrued from tomorrow on can be invoiced."
                )
            ) from exc
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": move.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    def _create_interest_invoice(self, partner, company, account, rows):
        currency = company.currency_id
        total = currency.round(sum(row["amount"] for row in rows))
        if currency.compare_amounts(total, 0) <= 0:
            raise UserError(
                self.env._(
                    "%(customer)s has no late interest to invoice.",
                    customer=partner.display_name,
                )
            )
        if currency.compare_amounts(total, company.collection_interest_min_amount) < 0:
            raise UserError(
                self.env._(
                    "The interest to invoice, %(amount)s, is below the minimum of "
                    "%(minimum)s.",
                    amount=currency.format(total),
                    minimum=currency.format(company.collection_interest_min_amount),
                )
            )
        today = fields.Date.context_today(self)
        Charge = self.env["collection.interest.charge"].sudo()
        if Charge.search_count(
            [
                ("move_line_id", "in", [row["move_line_id"] for row in rows]),
                ("date", "=", today),
            ]
        ):
            raise UserError(
                self.env._(
                    "This customer's interest was already invoiced or waived "
                    "today: only the interest accrued from tomorrow on can be "
                    "invoiced."
                )
            )
        lines = (
            self.env["account.move.line"]
            .sudo()
            .browse(dict.fromkeys(row["move_line_id"] for row in rows))
        )
        line_of = {line.id: line for line in lines}
        Move = self.env["account.move"].sudo().with_company(company)
        values = {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "company_id": company.id,
            "invoice_date": today,
            "collection_interest_invoice": True,
            "invoice_origin": ", ".join(lines.move_id.mapped("name"))[:200],
            "invoice_line_ids": [
                Command.create(
                    {
                        "name": self._line_label(
                            line_of[row["move_line_id"]], row, company
                        ),
                        "account_id": account.id,
                        "quantity": 1,
                        "price_unit": row["amount"],
                        "tax_ids": [Command.clear()],
                    }
                )
                for row in rows
                if currency.compare_amounts(row["amount"], 0) > 0
            ],
        }
        if company.collection_interest_journal_id:
            values["journal_id"] = company.collection_interest_journal_id.id
        move = Move.create(values)
        self.env["collection.interest.charge"].sudo().create(
            [
                {
                    "move_line_id": row["move_line_id"],
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "kind": "invoiced",
                    "charge_type": row["charge_type"],
                    "date": today,
                    "days": row["days"],
                    "rate": row["rate"],
                    "base": row["base"],
                    "amount": row["amount"],
                    "interest_move_id": move.id,
                }
                for row in rows
                if currency.compare_amounts(row["amount"], 0) > 0
            ]
        )
        self.env["ir.attachment"].sudo().create(
            {
                "name": self.env._("interest-computation-%(date)s.csv", date=today),
                "res_model": "account.move",
                "res_id": move.id,
                "mimetype": "text/csv",
                "datas": base64.b64encode(self._computation_csv(line_of, rows)),
            }
        )
        if company.collection_interest_post:
            move.action_post()
        return move

    def _line_label(self, line, row, company):
        rate = "{:g}".format(row["rate"])
        if row["charge_type"] == "fee":
            return self.env._(
                "Collection fee on %(invoice)s due %(due)s: %(rate)s%% of %(base)s "
                "unpaid when it went late",
                invoice=line.move_id.name,
                due=format_date(self.env, line.date_maturity),
                rate=rate,
                base=company.currency_id.format(row["base"]),
            )
        return self.env._(
            "Late interest on %(invoice)s due %(due)s: %(days)s days at %(rate)s%% "
            "on %(base)s",
            invoice=line.move_id.name,
            due=format_date(self.env, line.date_maturity),
            days=row["days"],
            rate=rate,
            base=company.currency_id.format(row["base"]),
        )

    def _computation_csv(self, line_of, rows):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            [
                self.env._("Invoice"),
                self.env._("Due date"),
                self.env._("Charge"),
                self.env._("Amount due"),
                self.env._("Days late"),
                self.env._("Rate (%)"),
                self.env._("Accrued"),
                self.env._("Already invoiced or waived"),
                self.env._("Invoiced now"),
            ]
        )
        types = dict(
            self.env["collection.interest.charge"]
            ._fields["charge_type"]
            ._description_selection(self.env)
        )
        for row in rows:
            line = line_of[row["move_line_id"]]
            writer.writerow(
                [
                    line.move_id.name,
                    line.date_maturity,
                    types[row["charge_type"]],
                    row["base"],
                    row["days"],
                    row["rate"],
                    row["accrued"],
                    row["charged"],
                    row["amount"],
                ]
            )
        return buffer.getvalue().encode()
