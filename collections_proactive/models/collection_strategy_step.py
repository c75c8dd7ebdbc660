from odoo import api, fields, models
from odoo.exceptions import ValidationError


class CollectionStrategyStep(models.Model):
    """One rung of a strategy: on the day ``offset_days`` from the amount's due
    date (or from its invoice's date, or from the day it was paid), send these
    messages and schedule this activity, once per amount due."""

    _name = "collection.strategy.step"
    _description = "Collection Strategy Step"
    _order = "strategy_id, offset_rank, offset_days, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    strategy_id = fields.Many2one(
        "collection.strategy", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="strategy_id.company_id", store=True)
    active = fields.Boolean(default=True)
    offset_days = fields.Integer(
        string="Days",
        required=True,
        help="Days from the date the step counts from. From the due date: "
        "negative is before it (a notice, not a demand), 0 on the due date, "
        "positive days overdue. From the invoice date: 0 is the day it is issued.",
    )
    offset_from = fields.Selection(
        [
            ("due", "Due Date"),
            ("invoice", "Invoice Date"),
            ("paid", "Payment"),
        ],
        string="Counted From",
        required=True,
        default="due",
        help="Due Date: each amount due on its own date. Invoice Date: from the "
        "day the invoice is issued (a welcome message with its due dates). "
        "Payment: after a customer who was reminded pays (a thank-you).",
    )
    # Steps listed in the order a customer meets them: at the invoice, around
    # the due date, after the payment.
    offset_rank = fields.Integer(compute="_compute_kind", store=True)
    is_offer = fields.Boolean(
        string="Offer Before Due",
        help="Sent before the due date only for the amounts likely to be paid late: "
        "a link, no login needed, where the customer chooses to pay now, turn on "
        "automatic payment, promise a date or ask for a payment plan.",
    )
    offer_min_probability = fields.Float(
        string="Offer From Late Risk",
        default=0.5,
        help="The amount's late probability from which the offer goes (0.5 is 50%).",
    )
    new_customers_only = fields.Boolean(
        help="Only for customers whose first invoice is less than 90 days older "
        "than this one.",
    )
    kind = fields.Selection(
        [
            ("issued", "Invoice issued"),
            ("offer", "Offer before due"),
            ("notice", "Pre-due notice"),
            ("due", "Due date"),
            ("overdue", "Overdue"),
            ("thanks", "Thank you"),
        ],
        compute="_compute_kind",
        store=True,
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        string="Email",
        domain="[('model', '=', 'collection.reminder')]",
    )
    attach_invoices = fields.Boolean(
        string="Attach Invoice PDFs",
        help="Attach each listed invoice's PDF to the email.",
    )
    sms_template_id = fields.Many2one(
        "sms.template",
        string="SMS",
        domain="[('model', '=', 'collection.reminder')]",
    )
    whatsapp_template_id = fields.Many2one(
        "collection.whatsapp.template",
        string="WhatsApp",
        check_company=True,
        domain="['|', ('company_id', '=', False), ('company_id', '=', company_id)]",
        help="A template approved by Meta, sent in the customer's language (else "
        "the company's). When WhatsApp is not configured, not accepted by the "
        "customer or fails, the reminder goes by SMS, else by email, unless the "
        "step sends those already.",
    )
    letter = fields.Boolean(
        string="PDF Letter",
        help="Print a letter (PDF, in the customer's language) listing the invoices, "
        "attached to the customer for mailing. It counts as a written contact.",
    )
    activity_type_id = fields.Many2one("mail.activity.type", string="Activity")
    activity_summary = fields.Char(translate=True)
    activity_delay_days = fields.Integer(
        string="Activity Due In (days)",
        help="Days after the step for the activity's deadline.",
    )
    case_stage_id = fields.Many2one(
        "collection.stage",
        string="Move Case To",
        check_company=True,
        domain="['|', ('company_id', '=', False), ('company_id', '=', company_id),"
        " ('is_closed', '=', False)]",
        help="Once this step's message is sent, the customer's open case moves to "
        "this stage, unless it is already further on the board.",
    )
    min_amount = fields.Monetary(
        string="Minimum Amount",
        currency_field="currency_id",
        help="Invoices with less left to pay skip this step.",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")

    _sql_constraints = [
        (
            "strategy_offset_unique",
            "UNIQUE(strategy_id, offset_from, offset_days)",
            "A strategy has at most one step per day, counted from the same date.",
        ),
    ]

    @api.depends("offset_days", "offset_from", "is_offer")
    def _compute_kind(self):
        for step in self:
            step.offset_rank = {"invoice": 0, "due": 1, "paid": 2}[step.offset_from]
            if step.offset_from == "invoice":
                step.kind = "issued"
            elif step.offset_from == "paid":
                step.kind = "thanks"
            elif step.is_offer:
                step.kind = "offer"
            elif step.offset_days < 0:
                step.kind = "notice"
            else:
                step.kind = "due" if step.offset_days == 0 else "overdue"

    @api.constrains(
        "offset_from", "offset_days", "activity_type_id", "letter", "is_offer"
    )
    def _check_offset(self):
        for step in self:
            if step.is_offer and (step.offset_from != "due" or step.offset_days >= 0):
                raise ValidationError(
                    self.env._(
                        "Step %(step)s is an offer before the default: it counts "
                        "from the due date and goes before it (negative days).",
                        step=step.display_name,
                    )
                )
            if step.is_offer and not 0 <= step.offer_min_probability <= 1:
                raise ValidationError(
                    self.env._(
                        "Step %(step)s: the late risk of an offer is between 0%% and "
                        "100%%.",
                        step=step.display_name,
                    )
                )
            if step.offset_from != "due" and step.offset_days < 0:
                raise ValidationError(
                    self.env._(
                        "Step %(step)s cannot go before the invoice is issued or "
                        "paid: give it 0 days or more.",
                        step=step.display_name,
                    )
                )
            if (
                step.offset_from != "due"
                and step.strategy_id.applies_to == "installments"
            ):
                raise ValidationError(
                    self.env._(
                        "Step %(step)s: the steps of installments count from the "
                        "installment's date.",
                        step=step.display_name,
                    )
                )
            if step.offset_from == "paid" and (step.activity_type_id or step.letter):
                raise ValidationError(
                    self.env._(
                        "Step %(step)s thanks a customer who paid: an email or an "
                        "SMS, not a call or a letter.",
                        step=step.display_name,
                    )
                )

    @api.constrains(
        "mail_template_id",
        "sms_template_id",
        "whatsapp_template_id",
        "activity_type_id",
        "letter",
    )
    def _check_has_action(self):
        for step in self:
            if not (
                step.mail_template_id
                or step.sms_template_id
                or step.whatsapp_template_id
                or step.activity_type_id
                or step.letter
            ):
                raise ValidationError(
                    self.env._(
                        "Step %(step)s does nothing: give it an email, an SMS, a "
                        "WhatsApp message, a letter or an activity.",
                        step=step.display_name,
                    )
                )

    def _channels(self):
        self.ensure_one()
        return [
            channel
            for channel, field in (
                ("email", "mail_template_id"),
                ("sms", "sms_template_id"),
                ("call", "activity_type_id"),
                ("letter", "letter"),
                ("whatsapp", "whatsapp_template_id"),
            )
            if self[field]
        ]
