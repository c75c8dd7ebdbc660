from datetime import timedelta

from odoo import Command, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, format_date


class CollectionReminderOffer(models.Model):
    """The customer's choices behind a message's link (no login: the link is
    signed for the message and its customer, and expires): pay now, turn on
    automatic payment, promise a date, or ask for a payment plan, for the
    amounts of the message still open, due yet or not."""

    _inherit = "collection.reminder"

    autopay_invite = fields.Boolean(
        compute="_compute_autopay_invite",
        help="The message invites its customer to turn automatic debit on: it has "
        "no mandate in force in the company.",
    )

    def _compute_autopay_invite(self):
        """In one grouped read for all the messages a batch renders."""
        held = {
            (partner.id, company.id)
            for partner, company in self.env["collection.autopay"]
            .sudo()
            ._read_group(
                [
                    ("partner_id", "in", self.partner_id.commercial_partner_id.ids),
                    ("company_id", "in", self.company_id.ids),
                    ("state", "!=", "revoked"),
                ],
                ["partner_id", "company_id"],
            )
        }
        for reminder in self:
            reminder.autopay_invite = (
                reminder.partner_id.commercial_partner_id.id,
                reminder.company_id.id,
            ) not in held

    def _offer_lock(self):
        """Serialize the choices made on this message: a second click waits for
        the first and then finds what it made."""
        self.env.cr.execute(
            SQL(
                "SELECT id FROM collection_reminder WHERE id = %s FOR NO KEY UPDATE",
                self.id,
            )
        )

    def _offer_lines(self):
        """The amounts of the message the customer can still act on."""
        self.ensure_one()
        return self._open_due_lines()

    def _offer_latest_date(self, today=None):
        """The latest date the customer may promise: the company's window."""
        today = today or fields.Date.context_today(self)
        return today + timedelta(days=self.company_id.collection_promise_max_days or 30)

    def _offer_suggested_date(self):
        """The date the page suggests: the last amount's due date, or a week
        from today when it is past, within the window."""
        today = fields.Date.context_today(self)
        due = max(self._offer_lines().mapped("date_maturity") or [today])
        return min(max(due, today + timedelta(days=7)), self._offer_latest_date(today))

    def _offer_promise(self, promised_date, note=False, today=None):
        """A promise by the message's customer to pay its open amounts by
        ``promised_date``: within the company's promise window, never past.
        A second click returns the promise the first one made."""
        self.ensure_one()
        self._offer_lock()
        today = today or fields.Date.context_today(self)
        lines = self._offer_lines()
        if not lines:
            raise UserError(self.env._("Nothing is left to pay on this message."))
        Promise = self.env["collection.promise"].sudo()
        made = Promise.search(
            [
                ("move_line_ids", "in", lines.ids),
                ("state", "=", "open"),
                ("partner_id", "=", self.partner_id.id),
            ],
            limit=1,
        )
        if made:
            return made
        company = self.company_id
        if not promised_date:
            raise ValidationError(self.env._("Give the date you will pay by."))
        latest = self._offer_latest_date(today)
        if not today <= promised_date <= latest:
            raise ValidationError(
                self.env._(
                    "Choose a date between today and %(latest)s.",
                    latest=format_date(self.env, latest),
                )
            )
        promise = Promise.with_company(company).create(
            {
                "partner_id": self.partner_id.id,
                "company_id": company.id,
                "move_line_ids": [Command.set(lines.ids)],
                "amount": company.currency_id.round(
                    sum(lines.mapped("amount_residual"))
                ),
                "promised_date": promised_date,
                "source": "portal",
                "note": note or False,
            }
        )
        company._collection_notify(
            promise,
            self.partner_id,
            lambda staff: staff._(
                "Promise to pay by %(date)s made from the link of a message",
                date=format_date(staff, promised_date),
            ),
            note,
        )
        return promise

    def _offer_plan(self, note=False):
        """A payment plan asked for by the message's customer for its open
        amounts: a draft the collector proposes (told at once). A second click
        returns the plan the first one asked for."""
        self.ensure_one()
        self._offer_lock()
        lines = self._offer_lines()
        if not lines:
            raise UserError(self.env._("Nothing is left to pay on this message."))
        Plan = self.env["collection.payment.plan"].sudo()
        made = Plan.search(
            [
                ("move_line_ids", "in", lines.ids),
                ("state", "in", ("draft", "proposed", "accepted", "active")),
            ],
            limit=1,
        )
        if made:
            return made
        company = self.company_id
        plan = Plan.with_company(company).create(
            {
                "partner_id": self.partner_id.id,
                "company_id": company.id,
                "move_line_ids": [Command.set(lines.ids)],
            }
        )
        company._collection_notify(
            plan,
            self.partner_id,
            lambda staff: staff._(
                "Payment plan asked for from the link of a message: propose one"
            ),
            note,
        )
        return plan
