from odoo import api, fields, models
from odoo.exceptions import ValidationError

CMF_URL = "https://www.cmfchile.cl"


class CollectionInterestRate(models.Model):
    """A published late-interest rate, in force from a date until the next
    row's date: for Chile, the rate that the CMF publishes in the first
    fortnight of each month (Ley 18.010, art. 6) and that unpaid invoices
    accrue (Ley 19.983, art. 2; which row applies: readme/CONFIGURE.md). A
    manager keeps the table up to date from the CMF's page; a row belongs to
    one company or, without a company, to every company of its country. The
    addon never reads the network: when the current month has no row, the
    screens say so."""

    _name = "collection.interest.rate"
    _description = "Late Interest Rate"
    _order = "date_from desc, id desc"
    _rec_name = "date_from"

    company_id = fields.Many2one(
        "res.company",
        index=True,
        help="Empty: the rate of every company of the country.",
    )
    country_id = fields.Many2one(
        "res.country",
        required=True,
        default=lambda self: self.env.ref("base.cl", raise_if_not_found=False),
    )
    date_from = fields.Date(
        string="In Force From",
        required=True,
        help="The publication date; the rate applies until the day before the "
        "next row's date.",
    )
    rate = fields.Float(
        string="Annual Rate (%)",
        required=True,
        digits=(16, 4),
        help="The annual rate as published (e.g. the CMF's rate for "
        "non-adjustable operations in pesos of less than 90 days).",
    )
    operation = fields.Char(
        string="Type of Operation",
        help="The published row this rate is taken from.",
    )
    source = fields.Char(
        default=CMF_URL,
        help="Where the rate was read (the CMF certificate or page).",
    )

    @api.constrains("company_id", "country_id", "date_from", "rate")
    def _check_unique_day(self):
        for rate in self:
            if not 0 <= rate.rate < 1000:
                raise ValidationError(
                    self.env._("A rate is between 0 and 1000% a year.")
                )
            if self.search_count(
                [
                    ("id", "!=", rate.id),
                    ("company_id", "=", rate.company_id.id),
                    ("country_id", "=", rate.country_id.id),
                    ("date_from", "=", rate.date_from),
                ]
            ):
                raise ValidationError(
                    self.env._(
                        "There is already a rate in force from %(date)s.",
                        date=rate.date_from,
                    )
                )

    @api.model
    def _rates_domain(self, company):
        """The rows that apply to ``company``: its own, else its country's."""
        own = self.sudo().search_count([("company_id", "=", company.id)], limit=1)
        if own:
            return [("company_id", "=", company.id)]
        return [
            ("company_id", "=", False),
            ("country_id", "=", company.account_fiscal_country_id.id),
        ]

    @api.model
    def _rate_periods(self, company):
        """``[(date_from, date_to or None, annual rate %)]`` oldest first."""
        rows = self.sudo().search(self._rates_domain(company), order="date_from")
        return [
            (row.date_from, nxt.date_from if nxt else None, row.rate)
            for row, nxt in zip(rows, [*rows[1:], None], strict=False)
        ]
