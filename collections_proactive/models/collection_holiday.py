from collections import defaultdict

from odoo import fields, models


class CollectionHoliday(models.Model):
    """A public holiday on which customers of that country are not contacted
    (when the company's contact policy skips holidays)."""

    _name = "collection.holiday"
    _description = "Collection Public Holiday"
    _order = "date desc"

    name = fields.Char(required=True, translate=True)
    date = fields.Date(required=True, index=True)
    country_id = fields.Many2one("res.country", required=True, index=True)

    _sql_constraints = [
        (
            "country_date_unique",
            "UNIQUE(country_id, date)",
            "A country has one holiday entry per day.",
        ),
    ]

    def _dates_by_country(self, countries, date_from):
        """{country id: set of holiday dates from ``date_from`` on}, in one read."""
        holidays = defaultdict(set)
        for holiday in self.sudo().search_fetch(
            [("country_id", "in", countries.ids), ("date", ">=", date_from)],
            ["country_id", "date"],
        ):
            holidays[holiday.country_id.id].add(holiday.date)
        return holidays
