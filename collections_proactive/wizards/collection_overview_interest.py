from dateutil.relativedelta import relativedelta

from odoo import fields, models

INTEREST_FIELDS = ["interest_accrued", "interest_invoiced", "interest_waived"]


class CollectionOverview(models.TransientModel):
    """The late interest of the last three months on the overview, from the
    KPI report, beside the other KPIs."""

    _inherit = "collection.overview"

    interest_accrued = fields.Monetary(compute="_compute_figures")
    interest_invoiced = fields.Monetary(compute="_compute_figures")
    interest_waived = fields.Monetary(compute="_compute_figures")

    def _kpi_figures(self, as_of):
        values = super()._kpi_figures(as_of)
        start = as_of.replace(day=1) - relativedelta(months=2)
        [sums] = self.env["collection.kpi.report"]._read_group(
            [*self._company_domain(), ("date", ">=", start), ("date", "<=", as_of)],
            [],
            [f"{name}:sum" for name in INTEREST_FIELDS],
        )
        values.update(
            zip(INTEREST_FIELDS, (value or 0.0 for value in sums), strict=True)
        )
        return values
