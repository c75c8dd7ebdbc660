import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .res_partner import RISK_BANDS

_logger = logging.getLogger(__name__)

SHIPPED_TEMPLATES = (
    "collections_proactive.mail_template_reminder_notice",
    "collections_proactive.mail_template_reminder_due",
    "collections_proactive.mail_template_reminder_overdue",
    "collections_proactive.sms_template_reminder_notice",
    "collections_proactive.sms_template_reminder_due",
    "collections_proactive.sms_template_reminder_overdue",
    "mail.mail_activity_data_call",
)


class CollectionStrategy(models.Model):
    """A follow-up ladder for the customers of some risk bands in one company.

    Its steps say what to do how many days before or after an invoice's due date.
    A customer follows the strategy set on it explicitly, else the strategy of its
    risk band, else the company's default strategy.
    """

    _name = "collection.strategy"
    _description = "Collection Strategy"
    _order = "company_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    band_low = fields.Boolean(string="Low Risk")
    band_medium = fields.Boolean(string="Medium Risk")
    band_high = fields.Boolean(string="High Risk")
    band_critical = fields.Boolean(string="Critical Risk")
    is_default = fields.Boolean(
        string="Default",
        help="Followed by customers without a risk band yet (not scored).",
    )
    goal = fields.Text(
        translate=True,
        help="What this strategy aims at, for the collectors: e.g. 'paid by the due "
        "date without a single overdue reminder'.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Collector",
        check_company=True,
        help="Who gets the call activities when the customer has no salesperson.",
    )
    step_ids = fields.One2many(
        "collection.strategy.step", "strategy_id", string="Steps"
    )
    step_count = fields.Integer(compute="_compute_step_count")

    @api.depends("step_ids")
    def _compute_step_count(self):
        for strategy in self:
            strategy.step_count = len(strategy.step_ids)

    def _bands(self):
        self.ensure_one()
        return [band for band, _label in RISK_BANDS if self[f"band_{band}"]]

    @api.constrains(
        "band_low", "band_medium", "band_high", "band_critical", "is_default"
    )
    def _check_bands_unique(self):
        """One strategy per band and per company, else the ladder is ambiguous."""
        for company in self.company_id:
            strategies = self.search([("company_id", "=", company.id)])
            seen = {}
            for strategy in strategies:
                keys = strategy._bands() + (["default"] if strategy.is_default else [])
                for key in keys:
                    if key in seen:
                        raise ValidationError(
                            self.env._(
                                "Strategies %(first)s and %(second)s both apply to the "
                                "same risk band in %(company)s.",
                                first=seen[key].display_name,
                                second=strategy.display_name,
                                company=company.display_name,
                            )
                        )
                    seen[key] = strategy

    @api.model
    def _strategy_by_band(self, company):
        """{band or 'default': strategy id} of a company's active strategies."""
        mapping = {}
        for strategy in self.search([("company_id", "=", company.id)]):
            for band in strategy._bands():
                mapping[band] = strategy.id
            if strategy.is_default:
                mapping["default"] = strategy.id
        return mapping

    def _default_ladders(self):
        """The shipped ladders, their texts in the environment's language:
        ``[(name, bands, goal, [step values])]``. Low risk gets a friendly notice and
        little else; the riskier the customer, the earlier the notice and the sooner
        a person calls. One channel per written step: under the Chile preset every
        email and SMS counts toward the two written contacts a week."""
        ref = self.env.ref
        notice = ref("collections_proactive.mail_template_reminder_notice").id
        due_mail = ref("collections_proactive.mail_template_reminder_due").id
        overdue = ref("collections_proactive.mail_template_reminder_overdue").id
        sms_notice = ref("collections_proactive.sms_template_reminder_notice").id
        sms_due = ref("collections_proactive.sms_template_reminder_due").id
        sms_overdue = ref("collections_proactive.sms_template_reminder_overdue").id
        call = ref("mail.mail_activity_data_call").id
        # Stages a manager may have deleted: the step then moves no case.
        ref_none = self.env["collection.stage"]
        reminded, escalated = (
            (
                ref(f"collections_proactive.collection_stage_{name}", False) or ref_none
            ).id
            for name in ("reminded", "escalated")
        )

        def step(offset, name, **values):
            return {"offset_days": offset, "name": name, **values}

        def call_step(offset, name, summary):
            return step(
                offset,
                name,
                activity_type_id=call,
                activity_summary=summary,
                activity_delay_days=1,
            )

        return [
            (
                self.env._("Low risk: friendly notice"),
                {"band_low": True, "is_default": True},
                self.env._("Paid by the due date with one friendly notice."),
                [
                    step(
                        -3,
                        self.env._("Notice 3 days before due"),
                        mail_template_id=notice,
                    ),
                    step(
                        5,
                        self.env._("Reminder 5 days overdue"),
                        mail_template_id=overdue,
                    ),
                ],
            ),
            (
                self.env._("Medium risk: notice and due-date SMS"),
                {"band_medium": True},
                self.env._("Paid by the due date; no invoice past 15 days overdue."),
                [
                    step(
                        -5,
                        self.env._("Notice 5 days before due"),
                        mail_template_id=notice,
                    ),
                    step(0, self.env._("SMS on the due date"), sms_template_id=sms_due),
                    step(
                        5,
                        self.env._("Reminder 5 days overdue"),
                        mail_template_id=overdue,
                    ),
                    call_step(
                        12,
                        self.env._("Call 12 days overdue"),
                        self.env._("Call about overdue invoices"),
                    ),
                ],
            ),
            (
                self.env._("High risk: early notice, SMS, call"),
                {"band_high": True},
                self.env._("A payment date agreed before the invoice is overdue."),
                [
                    step(
                        -7,
                        self.env._("Notice 7 days before due"),
                        mail_template_id=notice,
                        case_stage_id=reminded,
                    ),
                    step(0, self.env._("SMS on the due date"), sms_template_id=sms_due),
                    call_step(
                        1,
                        self.env._("Call the day after due"),
                        self.env._("Agree a payment date"),
                    ),
                    step(
                        7,
                        self.env._("Reminder 7 days overdue"),
                        mail_template_id=overdue,
                    ),
                    call_step(
                        15,
                        self.env._("Call 15 days overdue"),
                        self.env._("Offer a payment plan"),
                    ),
                ],
            ),
            (
                self.env._("Critical risk: close follow-up"),
                {"band_critical": True},
                self.env._("A promise or a payment plan before the debt turns bad."),
                [
                    step(
                        -10,
                        self.env._("Notice 10 days before due"),
                        mail_template_id=notice,
                        case_stage_id=reminded,
                    ),
                    step(
                        -5,
                        self.env._("SMS 5 days before due"),
                        sms_template_id=sms_notice,
                    ),
                    call_step(
                        -3,
                        self.env._("Call 3 days before due"),
                        self.env._("Confirm the payment date"),
                    ),
                    step(
                        0,
                        self.env._("Email on the due date"),
                        mail_template_id=due_mail,
                    ),
                    call_step(
                        1,
                        self.env._("Call the day after due"),
                        self.env._("Agree a payment date"),
                    ),
                    step(
                        5, self.env._("SMS 5 days overdue"), sms_template_id=sms_overdue
                    ),
                    step(
                        7,
                        self.env._("Reminder 7 days overdue"),
                        mail_template_id=overdue,
                    ),
                    call_step(
                        10,
                        self.env._("Call 10 days overdue"),
                        self.env._("Offer a payment plan"),
                    ),
                    step(
                        20,
                        self.env._("Letter 20 days overdue"),
                        letter=True,
                        case_stage_id=escalated,
                    ),
                ],
            ),
        ]

    @api.model
    def _create_default_strategies(self, companies=None):
        """Create the shipped strategies for the companies that have none, with
        their texts translated in every active language."""
        companies = companies or self.env["res.company"].search([])
        missing = [
            xmlid
            for xmlid in SHIPPED_TEMPLATES
            if not self.env.ref(xmlid, raise_if_not_found=False)
        ]
        if missing:
            # A manager deleted a shipped template: a new company then starts with
            # no strategy rather than failing to be created.
            _logger.info("No default collection strategies: %s missing", missing)
            return self.browse()
        have = set(self.with_context(active_test=False).search([]).company_id.ids)
        companies = companies.filtered(lambda c: c.id not in have)
        if not companies:
            return self.browse()
        source = self.with_context(lang="en_US")._default_ladders()
        vals_list = [
            {
                "name": name,
                "company_id": company.id,
                "sequence": sequence,
                "goal": goal,
                "step_ids": [fields.Command.create(values) for values in steps],
                **bands,
            }
            for company in companies
            for sequence, (name, bands, goal, steps) in enumerate(source)
        ]
        strategies = self.with_context(lang="en_US").create(vals_list)
        for lang, _name in self.env["res.lang"].get_installed():
            if lang == "en_US":
                continue
            ladders = self.with_context(lang=lang)._default_ladders()
            for index, strategy in enumerate(strategies):
                name, _bands, goal, steps = ladders[index % len(ladders)]
                strategy.update_field_translations("name", {lang: name})
                strategy.update_field_translations("goal", {lang: goal})
                for record, values in zip(strategy.step_ids, steps, strict=True):
                    record.update_field_translations("name", {lang: values["name"]})
                    if values.get("activity_summary"):
                        record.update_field_translations(
                            "activity_summary", {lang: values["activity_summary"]}
                        )
        return strategies
