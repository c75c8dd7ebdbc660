from odoo import models
from odoo.tools import SQL

from ..tools import risk_model as rm

WRITE_PAGE = 5000


class CollectionRiskScoringWrite(models.AbstractModel):
    """The bulk writes of the scoring run: the company's slot of the customers'
    risk fields, and the predictions of their open invoices and receivable lines,
    a page of ``UPDATE ... FROM (VALUES ...)`` at a time."""

    _inherit = "collection.risk.scoring"

    def _risk_write_partners(self, company, rows):
        """Bulk-write the company's slot of the company-dependent risk fields."""
        fnames = [
            "collection_risk_score",
            "collection_risk_band",
            "collection_risk_confidence",
            "collection_risk_computed_at",
            "collection_risk_factors",
            "collection_risk_run_seq",
        ]
        self.env["res.partner"].flush_model(fnames)
        key = str(company.id)
        assignments = SQL(", ").join(
            SQL(
                "%(col)s = COALESCE(p.%(col)s, '{}'::jsonb)"
                " || jsonb_build_object(%(key)s, v.%(col)s)",
                col=SQL.identifier(fname),
                key=key,
            )
            for fname in fnames
        )
        for page in range(0, len(rows), WRITE_PAGE):
            values = SQL(", ").join(
                SQL(
                    "(%s::int, %s::int, %s::text, %s::text, %s::text, %s::text,"
                    " %s::int)",
                    *row,
                )
                for row in rows[page : page + WRITE_PAGE]
            )
            self.env.cr.execute(
                SQL(
                    """UPDATE res_partner p SET %(assignments)s
                         FROM (VALUES %(values)s) AS v(id, %(columns)s)
                        WHERE p.id = v.id""",
                    assignments=assignments,
                    values=values,
                    columns=SQL(", ").join(SQL.identifier(f) for f in fnames),
                )
            )
        self.env["res.partner"].invalidate_model(fnames)

    def _risk_score_invoices(self, open_invoices, today, stats, predictor, bands,
                             holidays=frozenset()):  # fmt: skip
        """Late probability, predicted payment date with its 10-90% interval and
        expected on-time amount of the customers' invoices unpaid as of ``today``,
        and of each of their open receivable lines.

        Per receivable line: whether that due date is paid late, and when. Per
        invoice: the same for the invoice paid in full, i.e. its last open due
        date (with one due date, the invoice and its line agree)."""
        empty = rm.CustomerStats(unpaid_at=dict.fromkeys(rm.CHECKPOINTS, 0.0))
        invoices = {row[1]: row for row in open_invoices}
        lines = self.env["account.move.line"]._collection_prediction_lines(
            list(invoices)
        )
        line_rows, last = [], {}
        for line_id, move_id, maturity in lines:
            partner_id, _move, invoice_date, due, amount, _residual = invoices[move_id]
            p, day, low, high = rm.predict_invoice(
                predictor,
                stats.get(partner_id, empty),
                today,
                invoice_date,
                maturity or due,
                float(amount),
                holidays,
            )
            line_rows.append((line_id, round(p, 4), day, low, high))
            if move_id not in last or (maturity or due) >= last[move_id][0]:
                last[move_id] = (maturity or due, line_rows[-1])
        rows = []
        for partner_id, move_id, invoice_date, due, amount, residual in open_invoices:
            if move_id in last:
                _id, p, day, low, high = last[move_id][1]
            else:
                p, day, low, high = rm.predict_invoice(
                    predictor,
                    stats.get(partner_id, empty),
                    today,
                    invoice_date,
                    due,
                    float(amount),
                    holidays,
                )
                p = round(p, 4)
            rows.append(
                (
                    move_id,
                    p,
                    day,
                    low,
                    high,
                    float(residual or amount) * (1 - p),
                    bands[partner_id],
                )
            )
        fnames = [
            "collection_late_probability",
            "collection_predicted_payment_date",
            "collection_predicted_date_low",
            "collection_predicted_date_high",
            "collection_expected_on_time_amount",
            "collection_risk_band",
        ]
        self.env["account.move"].flush_model(fnames)
        for page in range(0, len(rows), WRITE_PAGE):
            values = SQL(", ").join(
                SQL(
                    "(%s::int, %s::float, %s::date, %s::date, %s::date,"
                    " %s::numeric, %s::text)",
                    *row,
                )
                for row in rows[page : page + WRITE_PAGE]
            )
            self.env.cr.execute(
                SQL(
                    """UPDATE account_move m
                          SET collection_late_probability = v.p,
                              collection_predicted_payment_date = v.predicted,
                              collection_predicted_date_low = v.low,
                              collection_predicted_date_high = v.high,
                              collection_expected_on_time_amount = v.expected,
                              collection_risk_band = v.band
                         FROM (VALUES %s)
                              AS v(id, p, predicted, low, high, expected, band)
                        WHERE m.id = v.id
                          -- unchanged rows are not rewritten (no bloat, no I/O)
                          AND (m.collection_late_probability IS DISTINCT FROM v.p
                               OR m.collection_predicted_payment_date
                                  IS DISTINCT FROM v.predicted
                               OR m.collection_predicted_date_low
                                  IS DISTINCT FROM v.low
                               OR m.collection_predicted_date_high
                                  IS DISTINCT FROM v.high
                               OR m.collection_expected_on_time_amount
                                  IS DISTINCT FROM v.expected
                               OR m.collection_risk_band IS DISTINCT FROM v.band)""",
                    values,
                )
            )
        self.env["account.move"].invalidate_model(fnames)
        self.env["account.move.line"]._collection_write_predictions(line_rows)
        return len(rows)
