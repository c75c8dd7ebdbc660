from odoo import api, fields, models
from odoo.exceptions import ValidationError

INTEREST_RATE_SOURCES = [
    ("fixed", "Fixed rate"),
    ("table", "Published rates (table)"),
]
INTEREST_PERIODS = [("month", "a month"), ("year", "a year")]
INTEREST_BASES = [("360", "360 days (30-day months)"), ("365", "365 days")]
INTEREST_START = [
    ("due", "From the due date"),
    ("grace", "After the grace days"),
]
INTEREST_PRESETS = [("chile", "Chile (Ley 19.983)"), ("custom", "Custom")]
# What the Chilean preset sets: the rate published monthly by the CMF (annual,
# the monthly one being a twelfth of it: a 360-day year), from the
# day after the due date, no grace, simple interest, and the fixed collection
# fee of 1% of what is owed (Ley 19.983 art. 2, Ley 18.010 art. 6). See
# readme/CONFIGURE.md.
INTEREST_PRESET_VALUES = {
    "chile": {
        "collection_interest_rate_source": "table",
        "collection_interest_period": "year",
        "collection_interest_basis": "360",
        "collection_interest_start": "due",
        "collection_interest_grace_days": 0,
        "collection_fee_percent": 1.0,
    },
}


class ResCompany(models.Model):
    """Late interest on overdue receivables, per company and off by default:
    the rate (fixed, or the published table), the day count, from which day,
    the minimum worth invoicing and where interest invoices are booked."""

    _inherit = "res.company"

    collection_interest_enabled = fields.Boolean(
        string="Late Interest",
        help="Overdue receivables accrue interest, shown to the customer and "
        "invoiced when a collector chooses.",
    )
    collection_interest_preset = fields.Selection(
        INTEREST_PRESETS,
        string="Interest Rule",
        default="custom",
        required=True,
        help="Chile (Ley 19.983, art. 2): the rate published monthly by the CMF "
        "(Interest Rates), from the day after the due date, simple interest, "
        "and a collection fee of 1% of what is owed.",
    )
    collection_interest_rate_source = fields.Selection(
        INTEREST_RATE_SOURCES,
        string="Rate Source",
        default="fixed",
        required=True,
    )
    collection_interest_rate = fields.Float(
        string="Interest Rate (%)",
        digits=(16, 4),
        help="The fixed rate, per period.",
    )
    collection_interest_period = fields.Selection(
        INTEREST_PERIODS,
        string="Rate Per",
        default="month",
        required=True,
        help="Published rates are annual: this applies to the fixed rate.",
    )
    collection_interest_basis = fields.Selection(
        INTEREST_BASES,
        string="Day Count",
        default="360",
        required=True,
        help="An annual rate accrues a 360th or a 365th of itself a day; a "
        "monthly rate always a 30th.",
    )
    collection_interest_start = fields.Selection(
        INTEREST_START,
        string="Interest Counts",
        default="due",
        required=True,
        help="From the due date: once the grace days are over, interest covers "
        "every day since the due date. After the grace days: only the days "
        "after them.",
    )
    collection_interest_grace_days = fields.Integer(
        string="Grace Days",
        help="Days after the due date before any interest.",
    )
    collection_fee_percent = fields.Float(
        string="Collection Fee (%)",
        digits=(16, 4),
        help="Charged once on each amount due that goes late, as a share of what "
        "was still unpaid when the grace days ended (Chile: 1%, the fixed fee "
        "for the recovery of collection costs of Ley 19.983, art. 2). Zero: "
        "no fee.",
    )
    collection_interest_min_amount = fields.Monetary(
        string="Minimum to Invoice",
        currency_field="currency_id",
        help="Interest below this total is not invoiced.",
    )
    collection_interest_account_id = fields.Many2one(
        "account.account",
        string="Interest Income Account",
        domain="[('account_type', 'in', ('income', 'income_other'))]",
        check_company=True,
    )
    collection_interest_journal_id = fields.Many2one(
        "account.journal",
        string="Interest Journal",
        domain="[('type', '=', 'sale')]",
        check_company=True,
        help="Sales journal of the interest invoices (the default one if empty).",
    )
    collection_interest_post = fields.Boolean(
        string="Post Interest Invoices",
        help="Post the interest invoice at once; otherwise it stays a draft to review.",
    )
    collection_interest_warning = fields.Char(
        string="Interest Warning",
        compute="_compute_collection_interest_warning",
        help="Why interest cannot be trusted today (no rate in force).",
    )

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        companies.filtered(
            lambda c: c.collection_interest_preset != "custom"
        )._collection_apply_interest_preset()
        return companies

    def write(self, vals):
        result = super().write(vals)
        if vals.get("collection_interest_preset") not in (None, "custom"):
            self._collection_apply_interest_preset()
        return result

    def _collection_apply_interest_preset(self):
        for company in self:
            values = INTEREST_PRESET_VALUES.get(company.collection_interest_preset)
            if values:
                super(ResCompany, company).write(values)
        return True

    @api.constrains(
        "collection_interest_rate",
        "collection_interest_grace_days",
        "collection_interest_min_amount",
        "collection_interest_enabled",
        "collection_interest_rate_source",
        "collection_fee_percent",
    )
    def _check_collection_interest(self):
        for company in self:
            if not 0 <= company.collection_interest_rate < 1000:
                raise ValidationError(
                    self.env._("The interest rate is between 0 and 1000%.")
                )
            if not 0 <= company.collection_fee_percent <= 100:
                raise ValidationError(
                    self.env._("The collection fee is between 0 and 100%.")
                )
            if not 0 <= company.collection_interest_grace_days <= 3650:
                raise ValidationError(
                    self.env._("The grace days are between 0 and 3650.")
                )
            if company.collection_interest_min_amount < 0:
                raise ValidationError(
                    self.env._("The minimum interest to invoice cannot be negative.")
                )
            if (
                company.collection_interest_enabled
                and company.collection_interest_rate_source == "fixed"
                and not company.collection_interest_rate
            ):
                raise ValidationError(
                    self.env._("Give the interest rate, or use the published rates.")
                )

    @api.depends_context("date")
    @api.depends(
        "collection_interest_enabled",
        "collection_interest_rate_source",
        "collection_interest_preset",
    )
    def _compute_collection_interest_warning(self):
        today = fields.Date.context_today(self)
        for company in self:
            company.collection_interest_warning = (
                company._collection_interest_rate_issue(today) or False
            )

    def _collection_interest_rate_issue(self, today):
        """A sentence when the published rates do not cover ``today``'s month
        (the CMF publishes in the first fortnight: the month's row is due by
        the 15th), else None."""
        self.ensure_one()
        if (
            not self.collection_interest_enabled
            or self.collection_interest_rate_source != "table"
        ):
            return None
        periods = self.env["collection.interest.rate"]._rate_periods(self)
        if not periods:
            return self.env._(
                "Late interest: there is no published rate. Enter the rates in "
                "Collections > Configuration > Interest Rates; no interest is "
                "computed until then."
            )
        last = periods[-1][0]
        if (today.year, today.month) != (last.year, last.month) and (
            today.day > 15 or (today - last).days > 45
        ):
            return self.env._(
                "Late interest: the last published rate is from %(date)s; enter "
                "this month's rate (CMF). Interest is computed with the last rate "
                "until then.",
                date=last,
            )
        return None

    def _collection_interest_daily_factor(self, annual_or_period_rate):
        """The share of the amount that one day adds, for a rate in %."""
        self.ensure_one()
        if (
            self.collection_interest_rate_source == "fixed"
            and self.collection_interest_period == "month"
        ):
            return annual_or_period_rate / 100.0 / 30.0
        return annual_or_period_rate / 100.0 / int(self.collection_interest_basis)

    def _collection_interest_periods(self):
        """``[(date_from, date_to, daily factor)]`` of this company's rate,
        oldest first (``None`` bounds are open)."""
        self.ensure_one()
        if self.collection_interest_rate_source == "fixed":
            return [
                (
                    None,
                    None,
                    self._collection_interest_daily_factor(
                        self.collection_interest_rate
                    ),
                )
            ]
        return [
            (start, end, self._collection_interest_daily_factor(rate))
            for start, end, rate in self.env["collection.interest.rate"]._rate_periods(
                self
            )
        ]

    def _collection_interest_rate_today(self, today):
        """The rate in % (as configured or published) in force ``today``."""
        self.ensure_one()
        if self.collection_interest_rate_source == "fixed":
            return self.collection_interest_rate
        rate = 0.0
        for start, _end, value in self.env["collection.interest.rate"]._rate_periods(
            self
        ):
            if start <= today:
                rate = value
        return rate
