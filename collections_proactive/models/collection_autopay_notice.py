from odoo import api, fields, models


class CollectionAutopayNotice(models.Model):
    """The notice a customer under automatic debit gets a few days before its
    lines are charged: what, how much, when, and how to pause.

    It is also the mark that a line was told of, once, ever: a receivable line
    belongs to one notice at most (a unique index on the relation), and a line
    is charged only once told of. The email is queued in the transaction that
    writes the mark, so that both are there or neither."""

    _name = "collection.autopay.notice"
    _description = "Automatic Debit Notice"
    _order = "id desc"
    _check_company_auto = True

    autopay_id = fields.Many2one(
        "collection.autopay",
        string="Mandate",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    partner_id = fields.Many2one(related="autopay_id.partner_id", store=True)
    company_id = fields.Many2one(related="autopay_id.company_id", store=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    move_line_ids = fields.Many2many(
        "account.move.line",
        "collection_autopay_notice_line_rel",
        "notice_id",
        "move_line_id",
        string="Lines Told Of",
        readonly=True,
    )
    sent_date = fields.Date(
        readonly=True,
        help="The day the notice went out, in the customer's time zone.",
    )
    debit_date = fields.Date(readonly=True, help="When the first line is charged.")
    amount_total = fields.Monetary(
        string="Amount",
        readonly=True,
        currency_field="currency_id",
        help="What the lines told of were to be charged, when told.",
    )

    def init(self):
        res = super().init()
        # A line is told of once, ever.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS
                      collection_autopay_notice_line_rel_line_unique
                   ON collection_autopay_notice_line_rel (move_line_id)"""
        )
        return res

    def _set_lines(self, lines):
        """The lines this notice tells of (marked already): its date and total."""
        self.ensure_one()
        today = self.autopay_id._local_today()
        self.invalidate_recordset(["move_line_ids"])
        self.write(
            {
                "sent_date": today,
                "debit_date": max(min(lines.mapped("date_maturity")), today),
                "amount_total": sum(lines.mapped("amount_residual")),
            }
        )

    @api.depends("partner_id")
    def _compute_display_name(self):
        for notice in self:
            notice.display_name = self.env._(
                "Debit notice of %(customer)s", customer=notice.partner_id.name
            )

    def _debit_dates(self):
        """[(line, date it is charged, amount)] for the email: a line already
        due is charged at the next run, today."""
        self.ensure_one()
        today = self.sent_date or self.autopay_id._local_today()
        return [
            (line, max(line.date_maturity, today), line.amount_residual_currency)
            for line in self.move_line_ids.sorted(lambda l: (l.date_maturity, l.id))
        ]

    def _send(self):
        """Queue the notice's email, in the customer's language, and note it on
        the mandate."""
        template = self.env.ref("collections_proactive.mail_template_autopay_notice")
        for notice in self:
            template.send_mail(
                notice.id, email_layout_xmlid="mail.mail_notification_light"
            )
            notice.autopay_id.message_post(
                body=self.env._(
                    "Debit notice sent: %(invoices)s, first charge on %(date)s.",
                    invoices=", ".join(notice.move_line_ids.move_id.mapped("name")),
                    date=fields.Date.to_string(notice.debit_date),
                ),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
