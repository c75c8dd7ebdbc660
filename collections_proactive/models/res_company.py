from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools.trace import text_html

CONTACT_PRESETS = [
    ("chile", "Chile (Ley 21.320)"),
    ("relaxed", "Relaxed"),
    ("custom", "Custom"),
]
# Values each preset sets (custom keeps what is there).
CONTACT_PRESET_VALUES = {
    "chile": {
        "collection_max_written_per_week": 2,
        "collection_min_days_between_written": 2,
        "collection_max_calls_per_week": 1,
        "collection_contact_weekday_from": "0",
        "collection_contact_weekday_to": "5",
        "collection_contact_hour_from": 8.0,
        "collection_contact_hour_to": 20.0,
        "collection_skip_holidays": True,
    },
    "relaxed": {
        "collection_max_written_per_week": 4,
        "collection_min_days_between_written": 1,
        "collection_max_calls_per_week": 3,
        "collection_contact_weekday_from": "0",
        "collection_contact_weekday_to": "6",
        "collection_contact_hour_from": 8.0,
        "collection_contact_hour_to": 21.0,
        "collection_skip_holidays": False,
    },
}
# What a preset decides, and the preset itself.
PRESET_FIELDS = {"collection_contact_preset", *CONTACT_PRESET_VALUES["chile"]}
WEEKDAYS = [
    ("0", "Monday"),
    ("1", "Tuesday"),
    ("2", "Wednesday"),
    ("3", "Thursday"),
    ("4", "Friday"),
    ("5", "Saturday"),
    ("6", "Sunday"),
]
# Who reads the WhatsApp token and secrets.
WHATSAPP_SECRET_GROUPS = (
    "base.group_system,collections_proactive.group_collections_manager"
)
RISK_MODEL_STATES = [
    ("model", "Learnt model"),
    ("weak", "Rules (the model did no better)"),
    ("thin", "Rules (not enough history)"),
]


class ResCompany(models.Model):
    """Collections settings live on the company: each company collects its own way."""

    _inherit = "res.company"

    collection_risk_window_days = fields.Integer(
        string="Risk History Window (days)",
        default=365,
        help="How far back the customer's payment history is read to score its risk.",
    )
    collection_risk_medium_threshold = fields.Integer(
        string="Medium Risk From",
        default=30,
        help="A customer whose risk score reaches this value is in the medium band.",
    )
    collection_risk_high_threshold = fields.Integer(
        string="High Risk From",
        default=55,
        help="A customer whose risk score reaches this value is in the high band.",
    )
    collection_risk_critical_threshold = fields.Integer(
        string="Critical Risk From",
        default=75,
        help="A customer whose risk score reaches this value is in the critical band.",
    )

    # Contact policy of the reminders (see collection.reminder._policy_defer).
    collection_contact_preset = fields.Selection(
        CONTACT_PRESETS,
        string="Contact Policy",
        default="chile",
        required=True,
        help="Chile (Ley 21.320): at most 2 written contacts a week, 2 days apart, 1 "
        "call a week, Monday to Saturday 08:00-20:00 in the customer's time zone.",
    )
    collection_max_written_per_week = fields.Integer(
        string="Messages per Week",
        default=2,
        help="Most emails and SMS a customer gets in any 7 days (0: no limit).",
    )
    collection_min_days_between_written = fields.Integer(
        string="Days Between Messages", default=2
    )
    collection_max_calls_per_week = fields.Integer(
        string="Calls per Week", default=1, help="0: no limit."
    )
    collection_contact_weekday_from = fields.Selection(
        WEEKDAYS, string="Contact From", default="0", required=True
    )
    collection_contact_weekday_to = fields.Selection(
        WEEKDAYS, string="Contact Until", default="5", required=True
    )
    collection_contact_hour_from = fields.Float(string="From Hour", default=8.0)
    collection_contact_hour_to = fields.Float(string="To Hour", default=20.0)
    collection_skip_holidays = fields.Boolean(
        string="No Contact on Public Holidays",
        default=True,
        help="Public holidays of the customer's country (Collections > Configuration "
        "> Public Holidays) are outside the contact window.",
    )
    collection_max_attempts = fields.Integer(
        string="Send Attempts",
        default=3,
        help="A reminder that fails this many times stays failed, for someone to "
        "look at.",
    )

    # Early warnings (see collection.risk.alert) and the managers' digest.
    collection_alert_enabled = fields.Boolean(
        string="Early Warnings",
        default=True,
        help="Tell a customer's collector, with an activity on its case, when its "
        "risk band worsens, its lateness trend turns, a promise or plan is broken, "
        "or an amount not yet due is likely to be paid late.",
    )
    collection_alert_probability = fields.Float(
        string="Warn From Late Probability",
        default=0.6,
        help="An amount not yet due whose late probability reaches this share "
        "raises an early warning (0.6 is 60%).",
    )
    collection_alert_since = fields.Datetime(
        string="Early Warnings Since",
        readonly=True,
        help="When the first risk run with early warnings ran: what was already "
        "so then is not news.",
    )
    collection_digest_enabled = fields.Boolean(
        string="Weekly Digest",
        default=True,
        help="Every week, each collections manager gets an email: risks that rose, "
        "what falls due and how likely it is paid, expected cash-in, broken "
        "commitments and each collector's load.",
    )

    # Cases and the board (see collection.case._sync_cases).
    collection_case_horizon_days = fields.Integer(
        string="Upcoming Horizon (days)",
        default=7,
        help="A high or critical risk customer gets a case as soon as an invoice "
        "falls due within this many days.",
    )
    collection_promise_grace_days = fields.Integer(
        string="Promise Grace (days)",
        default=2,
        help="Days after a promised date before the promise counts as broken and "
        "the reminders of its invoices resume.",
    )
    collection_promise_max_days = fields.Integer(
        string="Promise Within (days)",
        default=30,
        help="How far ahead a promised date may be, from the day it is made; "
        "customers promising on the portal are held to it, collections managers "
        "may go beyond it.",
    )
    collection_escalation_user_id = fields.Many2one(
        "res.users",
        string="Escalation Manager",
        domain="[('share', '=', False)]",
        help="Gets an activity when a case is escalated. Empty: the manager who "
        "escalates it, or the first collections manager of the company.",
    )

    # Automatic debit of invoices (see collection.autopay).
    collection_autopay_notice_days = fields.Integer(
        string="Debit Notice (days before)",
        default=3,
        help="How many days before an invoice falls due its customer, under "
        "automatic debit, is told what will be charged and when.",
    )
    collection_autopay_retry_count = fields.Integer(
        string="Debit Retries",
        default=1,
        help="How many times a refused automatic debit is tried again; after the "
        "last refusal the normal reminders resume and the collector gets an "
        "activity.",
    )
    collection_autopay_retry_days = fields.Integer(
        string="Days Between Retries",
        default=3,
        help="Days after a refused automatic debit before it is tried again.",
    )

    # The learnt model and its back-test (written by collection.risk.scoring).
    collection_risk_model_state = fields.Selection(
        RISK_MODEL_STATES,
        string="Risk Model",
        readonly=True,
        help="Whether scores come from the model learnt on this company's payment "
        "history or, when its back-test falls short, from transparent rules.",
    )
    collection_risk_model_date = fields.Date(
        string="Risk Model Fitted On", readonly=True
    )
    collection_risk_model_samples = fields.Integer(
        string="Back-test Samples", readonly=True
    )
    collection_risk_model_auc = fields.Float(
        string="Back-test AUC", digits=(3, 3), readonly=True
    )
    collection_risk_model_accuracy = fields.Float(
        string="Back-test Accuracy", digits=(3, 3), readonly=True
    )
    collection_risk_model_brier = fields.Float(
        string="Back-test Brier Score", digits=(3, 3), readonly=True
    )
    collection_risk_model_params = fields.Json(
        string="Risk Model Parameters", readonly=True, copy=False
    )
    # Run bookkeeping of the scheduled recompute (see collection.risk.scoring).
    collection_risk_run_start = fields.Datetime(
        string="Risk Run Started", readonly=True, copy=False
    )
    collection_risk_run_full = fields.Boolean(
        string="Risk Run Is Full", readonly=True, copy=False
    )
    collection_risk_run_seq = fields.Integer(
        string="Risk Run Number", readonly=True, copy=False
    )
    collection_risk_last_run = fields.Datetime(
        string="Last Risk Run", readonly=True, copy=False
    )
    collection_risk_last_date = fields.Date(
        string="Last Risk Run Date", readonly=True, copy=False
    )
    collection_risk_last_full_run = fields.Datetime(
        string="Last Full Risk Run", readonly=True, copy=False
    )
    collection_risk_full_requested = fields.Boolean(
        string="Full Risk Recompute Requested", readonly=True, copy=False
    )

    # WhatsApp Business Cloud API. The token and the secrets give access to the
    # company's WhatsApp account: only administrators and collections managers
    # read them (the channel reads them in sudo).
    collection_whatsapp_phone_number_id = fields.Char(
        string="WhatsApp Phone Number ID",
        copy=False,
        help="The ID Meta gives the company's WhatsApp Business phone number "
        "(WhatsApp Manager, API Setup). Without it, the token and the app secret, "
        "WhatsApp steps go out by SMS or email instead.",
    )
    collection_whatsapp_token = fields.Char(
        string="WhatsApp Access Token",
        copy=False,
        groups=WHATSAPP_SECRET_GROUPS,
        help="A permanent access token of a system user of the WhatsApp Business "
        "account, with the whatsapp_business_messaging permission.",
    )
    collection_whatsapp_app_secret = fields.Char(
        string="WhatsApp App Secret",
        copy=False,
        groups=WHATSAPP_SECRET_GROUPS,
        help="The Meta app's secret: the webhook accepts only notifications "
        "signed with it.",
    )
    collection_whatsapp_verify_token = fields.Char(
        string="WhatsApp Verify Token",
        copy=False,
        groups=WHATSAPP_SECRET_GROUPS,
        help="Any secret text, typed here and in the Meta app's webhook settings: "
        "Meta sends it back when it checks the webhook address.",
    )

    def _collection_whatsapp_configured(self):
        """Whether WhatsApp messages can go out for this company: the phone
        number, the token and the app secret are all set (the channel is off
        otherwise, and WhatsApp steps fall back to SMS or email)."""
        self.ensure_one()
        company = self.sudo()
        return bool(
            company.collection_whatsapp_phone_number_id
            and company.collection_whatsapp_token
            and company.collection_whatsapp_app_secret
        )

    @api.constrains("collection_whatsapp_phone_number_id")
    def _check_collection_whatsapp_phone_number_id(self):
        for company in self:
            number_id = company.collection_whatsapp_phone_number_id
            if number_id and not (number_id.isascii() and number_id.isdigit()):
                raise ValidationError(
                    self.env._(
                        "The WhatsApp phone number ID is the number Meta shows in "
                        "API Setup, digits only (not the phone number itself)."
                    )
                )
            if number_id and self.sudo().search_count(
                [
                    ("collection_whatsapp_phone_number_id", "=", number_id),
                    ("id", "!=", company.id),
                ]
            ):
                raise ValidationError(
                    self.env._(
                        "Another company already uses the WhatsApp phone number "
                        "ID %(number)s.",
                        number=number_id,
                    )
                )

    def _collection_manager(self):
        """Who handles escalations and approvals: the escalation manager, else
        the current user if a collections manager here, else the company's first
        collections manager. A scheduled job runs as OdooBot: a person is chosen."""
        self.ensure_one()
        if self.collection_escalation_user_id:
            return self.collection_escalation_user_id
        group = self.env.ref("collections_proactive.group_collections_manager").sudo()
        people = group.users.filtered(
            lambda u: self in u.company_ids and not u.share and u.active
        ) - self.env.ref("base.user_root")
        if self.env.user in people:
            return self.env.user
        return people.sorted("id")[:1]

    def _collection_staff_user(self, partner):
        """Who on staff hears of what ``partner`` does in this company: its
        collector, else the collections manager (may be none)."""
        self.ensure_one()
        return (
            partner.with_company(self).sudo().collection_user_id
            or self._collection_manager()
        )

    def _collection_notify(self, record, partner, summary, note=None):
        """Tell the customer's collector (else the collections manager) that the
        customer did something on the portal: a to-do on ``record``.

        ``summary`` is a function of an environment giving the text, so that
        it is written in the language of the person who reads it, not in the
        customer's (the portal request's)."""
        self.ensure_one()
        user = self._collection_staff_user(partner)
        lang = (user or self.partner_id).sudo().lang or "en_US"
        text = summary(self.with_context(lang=lang).env)
        if not user:
            body = Markup("<p>%s</p>") % text
            if note:
                body += text_html(note)
            record.sudo().message_post(
                body=body, message_type="notification", subtype_xmlid="mail.mt_note"
            )
            return
        record.sudo().activity_schedule(
            "mail.mail_activity_data_todo",
            summary=text,
            # What the customer typed reaches staff as text, never as markup:
            # no tracking image, no link dressed as a button.
            note=text_html(note) if note else None,
            user_id=user.id,
        )

    @api.model_create_multi
    def create(self, vals_list):
        default = self._fields["collection_contact_preset"].default(self)
        for vals in vals_list:
            vals.update(
                CONTACT_PRESET_VALUES.get(
                    vals.get("collection_contact_preset") or default, {}
                )
            )
        companies = super().create(vals_list)
        self.env["collection.strategy"].sudo()._create_default_strategies(companies)
        self.env["collection.plan.policy"].sudo()._create_default_policies(companies)
        return companies

    def write(self, vals):
        res = super().write(vals)
        if PRESET_FIELDS.intersection(vals):
            self._collection_apply_contact_preset()
        return res

    def _collection_apply_contact_preset(self):
        """A preset other than Custom holds its own limits, whatever was
        written: the settings screen leaves them read-only (so the web client
        does not send them), and no other path may weaken a legal preset."""
        for preset, values in CONTACT_PRESET_VALUES.items():
            drifted = self.filtered(
                lambda company, preset=preset, values=values: (
                    company.collection_contact_preset == preset
                    and any(company[name] != value for name, value in values.items())
                )
            )
            if drifted:
                # Written through write() again: nothing drifts any more then.
                drifted.write(values)

    @api.constrains(
        "collection_contact_weekday_from",
        "collection_contact_weekday_to",
        "collection_contact_hour_from",
        "collection_contact_hour_to",
        "collection_max_written_per_week",
        "collection_min_days_between_written",
        "collection_max_calls_per_week",
        "collection_max_attempts",
    )
    def _check_collection_contact_policy(self):
        for company in self:
            if (
                company.collection_contact_weekday_from
                > company.collection_contact_weekday_to
            ):
                raise ValidationError(
                    self.env._(
                        "The contact days of %(company)s end before they start.",
                        company=company.display_name,
                    )
                )
            if not (
                0
                <= company.collection_contact_hour_from
                < company.collection_contact_hour_to
                <= 24
            ):
                raise ValidationError(
                    self.env._(
                        "The contact hours of %(company)s must be a range within the "
                        "day.",
                        company=company.display_name,
                    )
                )
            if (
                min(
                    company.collection_max_written_per_week,
                    company.collection_min_days_between_written,
                    company.collection_max_calls_per_week,
                )
                < 0
                or company.collection_max_attempts < 1
            ):
                raise ValidationError(
                    self.env._(
                        "The contact limits of %(company)s cannot be negative, and a "
                        "reminder needs at least one send attempt.",
                        company=company.display_name,
                    )
                )

    @api.constrains(
        "collection_autopay_notice_days",
        "collection_autopay_retry_count",
        "collection_autopay_retry_days",
    )
    def _check_collection_autopay_settings(self):
        for company in self:
            if (
                not 0 <= company.collection_autopay_notice_days <= 30
                or not 0 <= company.collection_autopay_retry_count <= 5
                or not 1 <= company.collection_autopay_retry_days <= 30
            ):
                raise ValidationError(
                    self.env._(
                        "The automatic debit of %(company)s needs a notice of 0 to "
                        "30 days, 0 to 5 retries and 1 to 30 days between them.",
                        company=company.display_name,
                    )
                )

    @api.constrains(
        "collection_risk_window_days",
        "collection_risk_medium_threshold",
        "collection_risk_high_threshold",
        "collection_risk_critical_threshold",
    )
    def _check_collection_risk_settings(self):
        for company in self:
            if not 30 <= company.collection_risk_window_days <= 3650:
                raise ValidationError(
                    self.env._(
                        "The risk history window of %(company)s must be between 30 "
                        "and 3650 days.",
                        company=company.display_name,
                    )
                )
            if not (
                0
                < company.collection_risk_medium_threshold
                < company.collection_risk_high_threshold
                < company.collection_risk_critical_threshold
                <= 100
            ):
                raise ValidationError(
                    self.env._(
                        "The risk band thresholds of %(company)s must increase from "
                        "medium to high to critical, between 1 and 100.",
                        company=company.display_name,
                    )
                )
