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

    def _dates(self, country, date_from, date_to):
        return set(
            self.sudo()
            .search(
                [
                    ("country_id", "=", country.id),
                    ("date", ">=", date_from),
                    ("date", "<=", date_to),
                ]
            )
            .mapped("date")
        )
