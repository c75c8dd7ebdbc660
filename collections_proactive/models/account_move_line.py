from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import create_index


class AccountMoveLine(models.Model):
    """The receivable line is the unit of collection: an invoice with terms at
    30/60/90 days has three, each due, reminded, aged and planned on its own
    date (``date_maturity``).

    One definition of what is open, here, for every caller (the reminder
    engine, the cases, the portal, the promises and plans): a receivable line
    of a posted entry, not reconciled, with something left. Invoice lines are
    what is owed; credit notes and unreconciled payments of the customer are
    open lines too, with a negative residual: they offset what the customer
    owes (a customer whose credits cover its invoices owes nothing and hears
    nothing), oldest debt first."""

    _inherit = "account.move.line"

    collection_term_label = fields.Char(
        string="Due Date of",
        compute="_compute_collection_term_label",
        help="Which of the invoice's due dates this is (2 of 3...), when it has "
        "several.",
    )

    def init(self):
        res = super().init()
        # The open receivable lines are a few percent of a ledger's lines, and
        # every run of the engine reads them by company (the planning, the case
        # sync, the figures): without this index each of those reads the whole
        # table. The condition is the SQL of ``_collection_open_sql`` word for
        # word, so that PostgreSQL can prove the index covers it.
        create_index(
            self.env.cr,
            "account_move_line_collection_open_index",
            "account_move_line",
            ["company_id", "account_id", "partner_id"],
            where="parent_state = 'posted' AND NOT reconciled AND amount_residual != 0",
        )
        return res

    @api.model
    def _collection_open_domain(self, owed_only=False):
        """Domain of the open receivable lines; ``owed_only``: those of
        customer invoices (what is reminded), not the credits."""
        domain = [
            ("parent_state", "=", "posted"),
            ("account_id.account_type", "=", "asset_receivable"),
            ("reconciled", "=", False),
            ("amount_residual", "!=", 0),
        ]
        if owed_only:
            domain += [
                ("move_id.move_type", "=", "out_invoice"),
                ("amount_residual", ">", 0),
            ]
        return domain

    @api.model
    def _collection_open_sql(self, line="l", move="m", owed_only=False):
        """The same as SQL on ``line`` (account_move_line) joined to its
        ``move`` (account_move); the account is checked against the receivable
        accounts' ids, read here and written in the SQL as values: PostgreSQL
        then looks the lines up by account in the open lines' index (with the
        ids known only when the query runs, it read every open line of the
        company, a customer's unreconciled payments on other accounts
        included, and filtered them), and the caller needs no join of its
        own."""
        line, move = SQL.identifier(line), SQL.identifier(move)
        self.env["account.account"].flush_model(["account_type"])
        self.env.cr.execute(
            "SELECT id FROM account_account WHERE account_type = 'asset_receivable'"
        )
        receivable = [row[0] for row in self.env.cr.fetchall()]
        sql = SQL(
            """%(line)s.parent_state = 'posted' AND NOT %(line)s.reconciled
               AND %(line)s.amount_residual != 0
               AND %(line)s.account_id = ANY(%(receivable)s::int[])""",
            line=line,
            receivable=receivable,
        )
        if owed_only:
            sql = SQL(
                "%s AND %s.move_type = 'out_invoice' AND %s.amount_residual > 0",
                sql,
                move,
                line,
            )
        return sql

    @api.depends_context("lang")
    @api.depends("move_id.line_ids.date_maturity", "display_type")
    def _compute_collection_term_label(self):
        """Which of its invoice's due dates the line is, in the reader's words:
        empty for an invoice with one due date.

        Ranked by the database for the saved lines (a reminder batch lists
        thousands: reading every line of their invoices, products and taxes
        included, cost most of the rendering); new lines, in a form, by their
        invoice's lines in memory."""
        saved = self.filtered("id")
        ranks = {}
        if saved:
            self.env["account.move.line"].flush_model(
                ["move_id", "display_type", "date_maturity", "date"]
            )
            self.env.cr.execute(
                SQL(
                    """SELECT id, rank, count FROM (
                           SELECT l.id, l.move_id,
                                  ROW_NUMBER() OVER (
                                      PARTITION BY l.move_id
                                      ORDER BY COALESCE(l.date_maturity, l.date), l.id
                                  ) AS rank,
                                  COUNT(*) OVER (PARTITION BY l.move_id) AS count
                             FROM account_move_line l
                            WHERE l.move_id IN (SELECT move_id FROM account_move_line
                                                 WHERE id = ANY(%(ids)s))
                              AND l.display_type = 'payment_term') terms
                        WHERE id = ANY(%(ids)s) AND count > 1""",
                    ids=saved.ids,
                )
            )
            ranks = {
                line_id: (rank, count)
                for line_id, rank, count in self.env.cr.fetchall()
            }
        for line in self:
            if line.id:
                rank = ranks.get(line.id)
            else:
                terms = line.move_id.line_ids.filtered(
                    lambda term: term.display_type == "payment_term"
                ).sorted(lambda term: (term.date_maturity or term.date, term.id))
                rank = (
                    (list(terms).index(line) + 1, len(terms))
                    if len(terms) > 1 and line in terms
                    else None
                )
            line.collection_term_label = (
                self.env._(
                    "installment %(index)s of %(count)s", index=rank[0], count=rank[1]
                )
                if rank
                else False
            )

    @api.model
    def _reconcile_plan(self, reconciliation_plan):
        """Override of ``account``: once the payment is matched (the register
        wizard, the portal, a bank statement), the cases of the customers it
        paid show it at once, not at the next *Update Cases*."""
        result = super()._reconcile_plan(reconciliation_plan)
        self._collection_plan_lines(reconciliation_plan)._collection_sync_cases()
        return result

    @api.model
    def _collection_plan_lines(self, plan):
        """Every line of a reconciliation plan (recordsets, nested lists)."""
        lines = self.browse()
        for item in plan:
            lines |= (
                self._collection_plan_lines(item)
                if isinstance(item, (list, tuple))
                else item
            )
        return lines

    def _collection_sync_cases(self):
        """Bring up to date what the engine says next for the customers of
        these lines' receivables: their planned reminders decided again (a paid
        invoice's are cancelled) and their cases synced, in one set-based pass
        for all of them, whatever the number of lines or invoices."""
        receivable = self.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        if receivable:
            self.env["collection.case"].sudo()._collection_refresh(
                receivable.move_id.commercial_partner_id, receivable.company_id
            )
