from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, format_date, get_lang

from ..tools.money import amount_formatter
from ..tools.portal_access import report_docs

# Days overdue: (upper bound, label key) of the statement's aging buckets.
BUCKETS = ((0, "current"), (30, "1_30"), (60, "31_60"), (90, "61_90"), (None, "91"))


class ReportCustomerStatement(models.AbstractModel):
    """The customer statement (estado de cuenta) of a company's customer for a
    period: the balance at its start, every invoice, credit note and payment
    of the period with the running balance, the open items at its end with
    their due dates and days overdue, the aging, and the promises and plans
    in force. Read in a few set-based queries whatever the number of lines.

    ``data``: ``date_from``, ``date_to`` (ISO dates; default the last 90 days
    to today) and ``company_id`` (default the current company)."""

    _name = "report.collections_proactive.report_customer_statement"
    _description = "Customer Statement"

    @api.model
    def _get_report_values(self, docids, data=None):
        docs = report_docs(self.env["res.partner"], docids).commercial_partner_id
        data = data or {}
        company = self.env["res.company"].browse(
            data.get("company_id") or self.env.company.id
        )
        user = self.env.user
        if company not in self.env.companies or not (
            user.has_group("collections_proactive.group_collections_user")
            or (user.share and docs == user.partner_id.commercial_partner_id)
        ):
            # A customer prints its own statement; staff, any customer's of
            # the companies they work in.
            raise AccessError(self.env._("You may not print this customer statement."))
        date_to, date_from = self._period(data)
        return {
            "doc_ids": docs.ids,
            "doc_model": "res.partner",
            "docs": docs,
            "company": company,
            "date_from": date_from,
            "date_to": date_to,
            "statements": {
                partner.id: self._statement(partner, company, date_from, date_to)
                for partner in docs
            },
        }

    @api.model
    def _period(self, data):
        """``(date_to, date_from)`` of ``data``, checked."""
        try:
            date_to = fields.Date.to_date(data.get("date_to")) or fields.Date.today()
            date_from = fields.Date.to_date(data.get("date_from")) or (
                date_to - timedelta(days=90)
            )
        except ValueError as exc:
            raise UserError(self.env._("Give the period as two dates.")) from exc
        if date_from > date_to:
            raise UserError(self.env._("The period starts after it ends."))
        return date_to, date_from

    @api.model
    def _statement(self, partner, company, date_from, date_to):
        """The figures of one customer's statement."""
        cr = self.env.cr
        if company.collection_interest_enabled:
            # The interest of the open items as of today, not of the last cron.
            self.env["account.move.line"].sudo()._collection_accrue_interest(
                company, partner=partner
            )
        self.env.flush_all()
        where = SQL(
            """l.company_id = %(company)s AND l.parent_state = 'posted'
               AND l.partner_id IN (SELECT id FROM res_partner
                                     WHERE commercial_partner_id = %(partner)s)
               AND l.account_id IN (SELECT id FROM account_account
                                     WHERE account_type = 'asset_receivable')""",
            company=company.id,
            partner=partner.id,
        )
        cr.execute(
            SQL(
                "SELECT COALESCE(SUM(l.balance), 0) FROM account_move_line l"
                " WHERE %s AND l.date < %s",
                where,
                date_from,
            )
        )
        opening = cr.fetchone()[0]
        # In the customer's language, as the rest of its statement (before the
        # query below: translating and the language's formats may read the
        # database).
        words = self.with_context(lang=partner.lang or self.env.lang).env
        kinds = {
            "out_invoice": words._("Invoice"),
            "out_refund": words._("Credit Note"),
            "entry": words._("Payment"),
        }
        other = words._("Entry")
        text = self._formatter(words, company.currency_id)
        cr.execute(
            SQL(
                """
                SELECT l.date, m.name, m.move_type, l.date_maturity, l.balance,
                       %(opening)s + SUM(l.balance) OVER (ORDER BY l.date, l.id)
                  FROM account_move_line l
                  JOIN account_move m ON m.id = l.move_id
                 WHERE %(where)s AND l.date BETWEEN %(start)s AND %(end)s
                 ORDER BY l.date, l.id
                """,
                opening=opening,
                where=where,
                start=date_from,
                end=date_to,
            )
        )
        moves = []
        for day, name, move_type, due, balance, running in cr.fetchall():
            move = {
                "date": day,
                "name": name,
                "kind": kinds.get(move_type, other),
                "due": due if move_type == "out_invoice" else False,
                "debit": balance if balance > 0 else 0.0,
                "credit": -balance if balance < 0 else 0.0,
                "balance": running,
            }
            move["text"] = text(
                move, ("date", "due"), ("balance",), blank_if_zero=("debit", "credit")
            )
            moves.append(move)
        closing = moves[-1]["balance"] if moves else opening
        # What is open at the end of the period: what was not settled by then.
        cr.execute(
            SQL(
                """
                SELECT m.name, l.date, l.date_maturity,
                       GREATEST(COALESCE(l.collection_interest_accrued, 0)
                                - COALESCE(l.collection_interest_charged, 0), 0),
                       GREATEST(COALESCE(l.collection_fee_accrued, 0)
                                - COALESCE(l.collection_fee_charged, 0), 0),
                       l.balance - COALESCE((
                           SELECT SUM(CASE WHEN apr.debit_move_id = l.id
                                           THEN apr.amount ELSE -apr.amount END)
                             FROM account_partial_reconcile apr
                            WHERE (apr.debit_move_id = l.id
                                   OR apr.credit_move_id = l.id)
                              AND apr.max_date <= %(end)s), 0) AS left
                  FROM account_move_line l
                  JOIN account_move m ON m.id = l.move_id
                 WHERE %(where)s AND l.date <= %(end)s
                   AND (NOT l.reconciled OR EXISTS (
                        SELECT 1 FROM account_partial_reconcile apr
                         WHERE (apr.debit_move_id = l.id OR apr.credit_move_id = l.id)
                           AND apr.max_date > %(end)s))
                 ORDER BY l.date_maturity, l.id
                """,
                where=where,
                end=date_to,
            )
        )
        open_items, aging = [], dict.fromkeys((key for _b, key in BUCKETS), 0.0)
        interest_on = company.collection_interest_enabled
        for name, day, due, interest, fee, left in cr.fetchall():
            if company.currency_id.is_zero(left):
                continue
            late = (date_to - due).days if due else 0
            item = {
                "name": name,
                "date": day,
                "due": due,
                "days_overdue": max(late, 0),
                "amount": left,
                # Late interest accrued (as of today) and the collection fee,
                # not yet invoiced: one column, two totals below the table.
                "interest": interest if interest_on else 0.0,
                "fee": fee if interest_on else 0.0,
            }
            item["charges"] = item["interest"] + item["fee"]
            item["text"] = text(
                item, ("date", "due"), ("amount",), blank_if_zero=("charges",)
            )
            open_items.append(item)
            aging[self._bucket(late)] += left
        overdue = sum(
            item["amount"]
            for item in open_items
            if item["days_overdue"] > 0 and item["amount"] > 0
        )
        commitments = self._commitments(partner, company)
        return {
            "opening": opening,
            "moves": moves,
            "closing": closing,
            "open_items": open_items,
            "aging": aging,
            "total_due": sum(item["amount"] for item in open_items),
            "overdue": overdue,
            "interest_enabled": interest_on,
            "interest": sum(item["interest"] for item in open_items),
            "fee": sum(item["fee"] for item in open_items),
            "fee_shown": interest_on and bool(company.collection_fee_percent),
            **commitments,
        }

    @staticmethod
    def _formatter(env, currency):
        """``text(line, dates, amounts, blank_if_zero)``: the ``dates`` and
        amounts of a statement line as the customer reads them (the language
        of ``env``), written as the ``date`` and ``monetary`` widgets (and
        ``tools.format_date``, ``tools.format_amount``) write them; no date
        and a zero amount of ``blank_if_zero`` are left empty.

        Formatted here in one pass, not by a widget per cell: with thousands
        of rows the widgets, and ``format_amount`` looking the language up at
        each call, took over a second of a long statement's rendering. The
        language is read once; dates repeat, each is formatted once."""
        lang = get_lang(env, env.lang)
        amount = amount_formatter(lang, currency)
        dates = {}

        def text(line, date_keys, amount_keys, blank_if_zero=()):
            values = {}
            for key in date_keys:
                day = line[key]
                if day and day not in dates:
                    dates[day] = format_date(env, day, lang_code=lang.code)
                values[key] = dates[day] if day else ""
            for key in amount_keys:
                values[key] = amount(line[key])
            for key in blank_if_zero:
                values[key] = amount(line[key]) if line[key] else ""
            return values

        return text

    @staticmethod
    def _bucket(days_overdue):
        for bound, key in BUCKETS:
            if bound is None or days_overdue <= bound:
                return key
        return BUCKETS[-1][1]

    @api.model
    def _commitments(self, partner, company):
        """The promises and payment plans in force."""
        return {
            "promises": self.env["collection.promise"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", partner.id),
                    ("company_id", "=", company.id),
                    ("state", "=", "open"),
                ]
            ),
            "plans": self.env["collection.payment.plan"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", partner.id),
                    ("company_id", "=", company.id),
                    ("state", "in", ("accepted", "active")),
                ]
            ),
        }
