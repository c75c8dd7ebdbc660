import logging
from datetime import date, timedelta

import psycopg2

from odoo import api, fields, models, tools
from odoo.tools import mute_logger

from ..tools.signing import sign

_logger = logging.getLogger(__name__)

# Days the choices link of a message keeps working after its last due date.
OFFER_DAYS = 30

CHANNELS = [
    ("email", "Email"),
    ("sms", "SMS"),
    ("call", "Call"),
    ("letter", "Letter"),
    ("whatsapp", "WhatsApp"),
]


class CollectionReminder(models.Model):
    """The log of every reminder: one message (or call) to one customer for one
    step, listing the invoices it is about.

    Planned by the scheduled action, then sent under the company's contact policy:
    a reminder outside the contact window or over the contact cap is deferred (its
    planned date moves and the reason says why), never dropped. Kept at least two
    years: nothing in the addon deletes it.
    """

    _name = "collection.reminder"
    _description = "Collection Reminder"
    _order = "planned_date desc, id desc"
    _check_company_auto = True

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, readonly=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, readonly=True
    )
    step_id = fields.Many2one(
        "collection.strategy.step", required=True, ondelete="restrict", readonly=True
    )
    strategy_id = fields.Many2one(related="step_id.strategy_id", store=True)
    kind = fields.Selection(related="step_id.kind", store=True)
    channel = fields.Selection(
        CHANNELS,
        required=True,
        readonly=True,
        help="The channel it goes out on: the planned one, or the fallback when "
        "the customer cannot be reached on it.",
    )
    planned_channel = fields.Selection(
        CHANNELS,
        readonly=True,
        help="The channel the step planned. It never changes: with the invoice "
        "or installment and the step, it is the key that makes a reminder exactly "
        "once, also when it goes out on a fallback channel.",
    )
    line_ids = fields.One2many(
        "collection.reminder.line", "reminder_id", string="Invoices", readonly=True
    )
    installment_id = fields.Many2one(
        "collection.payment.plan.installment",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="Set on the reminders of a payment plan installment: their steps count "
        "days from the installment's date, and they list no invoice of their own.",
    )
    plan_id = fields.Many2one(
        related="installment_id.plan_id", store=True, string="Payment Plan"
    )
    invoice_ids = fields.Many2many(
        "account.move", compute="_compute_invoice_ids", string="Invoice List"
    )
    due_line_ids = fields.Many2many(
        "account.move.line",
        compute="_compute_invoice_ids",
        string="Amounts Due",
        help="What the message lists: each amount due with its own due date.",
    )
    amount_total = fields.Monetary(
        string="Amount Due",
        compute="_compute_invoice_ids",
        currency_field="currency_id",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    planned_date = fields.Datetime(required=True, index=True, readonly=True)
    sent_date = fields.Datetime(readonly=True)
    state = fields.Selection(
        [
            ("planned", "Planned"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("skipped", "Skipped"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="planned",
        index=True,
        readonly=True,
    )
    reason = fields.Char(readonly=True, help="Why it was deferred, skipped or failed.")
    delivery_failed = fields.Boolean(
        readonly=True,
        help="The mail or SMS queue could not deliver its last message: retried "
        "after the retry delay while attempts are left.",
    )
    attempt_count = fields.Integer(readonly=True)
    pay_url = fields.Char(compute="_compute_links", string="Payment Link")
    # The customer's base URL, read once per message for all the links it
    # carries (one per listed invoice).
    base_url = fields.Char(compute="_compute_links", string="Base URL")
    optout_email_url = fields.Char(compute="_compute_links")
    optout_sms_url = fields.Char(compute="_compute_links")
    offer_url = fields.Char(
        compute="_compute_links",
        string="Choices Link",
        help="A link, no login needed, where the customer chooses to pay now, turn "
        "on automatic payment, promise a date or ask for a payment plan for the "
        "amounts of this message. It expires 30 days after the last due date.",
    )
    message_id = fields.Many2one(
        "mail.message", readonly=True, ondelete="set null", index="btree_not_null"
    )
    activity_id = fields.Many2one("mail.activity", readonly=True, ondelete="set null")

    @api.depends(
        "kind",
        "line_ids.move_line_id.reconciled",
        "line_ids.move_line_id.amount_residual",
        "line_ids.move_id.collection_followup_hold",
        "installment_id.amount",
        "installment_id.paid_amount",
    )
    def _compute_invoice_ids(self):
        """What the message lists: the reminder's amounts due still open and not
        on hold (each with its own due date) and their invoices, with what is
        left to pay now; for an installment, the plan's open invoices and what
        is left to pay on the installment."""
        # One query for all the reminders, not a filter per reminder; what each
        # open amount due brings to a message read once for the batch (recordset
        # arithmetic and sorting per reminder took most of this compute).
        open_lines = self._open_due_lines()
        facts = {
            line.id: (line.date_maturity, line.move_id.id, line.amount_residual)
            for line in open_lines
            if not line.move_id.collection_followup_hold
        }
        Line, Move = self.env["account.move.line"], self.env["account.move"]
        for reminder in self:
            installment = reminder.installment_id
            if installment:
                reminder.due_line_ids = False
                reminder.invoice_ids = (
                    installment.plan_id.invoice_ids._collection_open()
                )
                reminder.amount_total = installment.amount - installment.paid_amount
                continue
            if reminder.kind == "thanks":
                # What the customer paid: the thank-you lists it.
                lines = reminder.line_ids.move_line_id.filtered("reconciled")
                reminder.due_line_ids = lines.sorted(
                    lambda line: (line.date_maturity, line.move_id.id, line.id)
                )
                reminder.invoice_ids = lines.move_id
                reminder.amount_total = sum(lines.mapped("balance"))
                continue
            listed = sorted(
                (*facts[line_id][:2], line_id)
                for line_id in reminder.line_ids.move_line_id.ids
                if line_id in facts
            )
            reminder.due_line_ids = Line.browse([key[2] for key in listed])
            reminder.invoice_ids = Move.browse(
                list(dict.fromkeys(key[1] for key in listed))
            )
            reminder.amount_total = sum(facts[key[2]][2] for key in listed)

    def init(self):
        # The exactly-once key of installment reminders (the invoice lines carry
        # it for the others): an installment gets each step on each planned
        # channel once. On the planned channel, not the one it went out on: a
        # fallback would free the key for a planner working concurrently.
        self.env.cr.execute(
            """UPDATE collection_reminder SET planned_channel = channel
                WHERE planned_channel IS NULL;
               DROP INDEX IF EXISTS collection_reminder_installment_step_channel_unique;
               CREATE UNIQUE INDEX IF NOT EXISTS
                      collection_reminder_installment_step_planned_unique
                   ON collection_reminder (installment_id, step_id, planned_channel)
                WHERE installment_id IS NOT NULL"""
        )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals.setdefault("planned_channel", vals.get("channel"))
        return super().create(vals_list)

    @api.depends("partner_id", "step_id", "channel")
    def _compute_display_name(self):
        channels = dict(self._fields["channel"]._description_selection(self.env))
        for reminder in self:
            reminder.display_name = self.env._(
                "%(step)s to %(customer)s (%(channel)s)",
                step=reminder.step_id.name,
                customer=reminder.partner_id.display_name,
                channel=channels.get(reminder.channel),
            )

    # ------------------------------------------------------------------
    # Links rendered in messages
    # ------------------------------------------------------------------

    def _collection_invoice_url(self, move):
        """The link to ``move``'s portal page that a message carries: signed,
        no login needed; the page's access token is made when it is followed
        (``account_move_link``)."""
        self.ensure_one()
        return (
            f"{self.base_url}/collections/invoice/{move.id}/"
            f"{move._collection_link_signature()}"
        )

    def _compute_links(self):
        for reminder in self:
            partner = reminder.partner_id
            base = reminder.base_url = partner.get_base_url()
            # The portal link carries the access token: no login needed.
            if reminder.installment_id:
                reminder.pay_url = base + reminder.plan_id.sudo().get_portal_url()
            else:
                # The invoice of the amount due first
                first = reminder.line_ids.sorted(
                    lambda line: (
                        line.date_maturity or line.move_id.invoice_date_due,
                        line.id,
                    )
                )[:1].move_id
                reminder.pay_url = first and reminder._collection_invoice_url(first)
            reminder.offer_url = (
                not reminder.installment_id and reminder.id and reminder._offer_url()
            )
            for channel in partner.COLLECTION_OPTOUT_FIELDS:
                reminder[f"optout_{channel}_url"] = partner._collection_optout_url(
                    channel, base
                )

    # ------------------------------------------------------------------
    # The choices link (offers before the default, and every demand)
    # ------------------------------------------------------------------

    def _offer_expires(self):
        """Until when the choices link works: 30 days after the last amount of
        the message falls due (``YYYYMMDD``)."""
        self.ensure_one()
        last = max(self.line_ids.mapped("date_maturity") or [self.planned_date.date()])
        return (last + timedelta(days=OFFER_DAYS)).strftime("%Y%m%d")

    def _offer_token(self, expires):
        """The signature binding the link to this message, its customer and its
        expiry: the one place it is computed."""
        self.ensure_one()
        return sign(
            self.env,
            "collections_proactive-offer",
            (self.id, self.partner_id.id, expires),
        )

    def _offer_url(self):
        self.ensure_one()
        expires = self._offer_expires()
        return (
            f"{self.partner_id.get_base_url()}/collections/offer/{self.id}/"
            f"{expires}/{self._offer_token(expires)}"
        )

    def _offer_check(self, expires, token, today):
        """``"ok"``, ``"expired"`` or ``"invalid"`` for the link
        ``/collections/offer/<id>/<expires>/<token>``: a wrong token, a wrong
        expiry and a message that does not exist are the same ``"invalid"``,
        so that the link reveals nothing."""
        if not (
            self
            and not self.installment_id
            and isinstance(token, str)
            and token.isascii()
            and isinstance(expires, str)
            and expires.isascii()
            and tools.consteq(self._offer_token(expires), token)
        ):
            return "invalid"
        try:
            until = date(int(expires[:4]), int(expires[4:6]), int(expires[6:8]))
        except ValueError:
            return "invalid"
        return "ok" if today <= until else "expired"

    def _in_halves(self, items, execute):
        """Run ``execute(items)`` in a savepoint and return the items left to
        another worker. Something another worker committed after this transaction
        began is a serialization failure at REPEATABLE READ, not a conflict: the
        items are then tried again in halves, so that only the ones the other
        worker wrote (or is writing) are left, not the whole lot."""
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint(flush=False):
                execute(items)
            return []
        except psycopg2.errors.SerializationFailure:
            if len(items) == 1:
                return list(items)
            half = len(items) // 2
            return self._in_halves(items[:half], execute) + self._in_halves(
                items[half:], execute
            )

    def _open_due_lines(self):
        """The reminders' amounts due (receivable lines) still open, in their
        order. The database checks the domain: filtering thousands of lines in
        Python took longer than the rest of deciding a batch."""
        lines = self.line_ids.move_line_id
        if not lines:
            return lines
        domain = self.env["account.move.line"]._collection_open_domain(owed_only=True)
        # Read with what the callers and the messages use, for all the lines:
        # each reminder's share of them would otherwise be fetched on its own.
        return lines & lines.sudo().search_fetch(
            [("id", "in", lines.ids), *domain],
            ["move_id", "date_maturity", "amount_residual", "amount_residual_currency"],
        )
