import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .res_partner import RISK_BANDS

_logger = logging.getLogger(__name__)

SHIPPED_TEMPLATES = (
    "collections_proactive.mail_template_reminder_notice",
    "collections_proactive.mail_template_reminder_due",
    "collections_proactive.mail_template_reminder_overdue",
    "collections_proactive.mail_template_reminder_issued",
    "collections_proactive.mail_template_reminder_thanks",
    "collections_proactive.sms_template_reminder_notice",
    "collections_proactive.sms_template_reminder_due",
    "collections_proactive.sms_template_reminder_overdue",
    "collections_proactive.mail_template_installment_notice",
    "collections_proactive.mail_template_installment_overdue",
    "collections_proactive.sms_template_installment_due",
    "mail.mail_activity_data_call",
)
# An "invoice issued" step not sent within this many days of its day is dropped.
ISSUED_STALE_DAYS = 7
APPLIES_TO = [
    ("invoices", "Invoices"),
    ("installments", "Payment Plan Installments"),
]


class CollectionStrategy(models.Model):
    """A follow-up ladder for the customers of some risk bands in one company.

    Its steps say what to do how many days before or after an invoice's due date.
    A customer follows the strategy set on it explicitly, else the strategy of its
    risk band, else the company's default strategy. The installments of active
    payment plans follow the company's installment strategy instead: its steps
    count days from each installment's date.
    """

    _name = "collection.strategy"
    _description = "Collection Strategy"
    _order = "company_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    applies_to = fields.Selection(
        APPLIES_TO,
        default="invoices",
        required=True,
        help="Invoices: the ladder of the customers of its risk bands. Payment Plan "
        "Installments: the reminders of every installment of the company's active "
        "plans, whatever the customer's band (one such strategy per company).",
    )
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
    thank_you = fields.Boolean(
        string="Thank Customers Who Pay",
        compute="_compute_thank_you",
        inverse="_inverse_thank_you",
        help="A thank-you email the day after a customer who was reminded pays. It "
        "counts as a written contact under the contact policy.",
    )

    @api.depends("step_ids.offset_from")
    def _compute_thank_you(self):
        for strategy in self:
            strategy.thank_you = "paid" in strategy.step_ids.mapped("offset_from")

    def _inverse_thank_you(self):
        for strategy in self:
            steps = strategy.with_context(active_test=False).step_ids.filtered(
                lambda step: step.offset_from == "paid"
            )
            if strategy.thank_you and not steps:
                steps.create(
                    {
                        "strategy_id": strategy.id,
                        "name": self.env._("Thank you after payment"),
                        "offset_from": "paid",
                        "offset_days": 1,
                        "mail_template_id": self.env.ref(
                            "collections_proactive.mail_template_reminder_thanks"
                        ).id,
                    }
                )
            else:
                steps.active = strategy.thank_you

    @api.depends("step_ids")
    def _compute_step_count(self):
        for strategy in self:
            strategy.step_count = len(strategy.step_ids)

    def _bands(self):
        self.ensure_one()
        if self.applies_to != "invoices":
            return []
        return [band for band, _label in RISK_BANDS if self[f"band_{band}"]]

    @api.constrains(
        "band_low",
        "band_medium",
        "band_high",
        "band_critical",
        "is_default",
        "applies_to",
        "active",
    )
    def _check_bands_unique(self):
        """One strategy per band and per company, and one installment strategy per
        company, else the ladder is ambiguous."""
        for company in self.company_id:
            strategies = self.search([("company_id", "=", company.id)])
            installments = strategies.filtered(lambda s: s.applies_to == "installments")
            if len(installments) > 1:
                raise ValidationError(
                    self.env._(
                        "Strategies %(first)s and %(second)s both apply to the "
                        "payment plan installments of %(company)s.",
                        first=installments[0].display_name,
                        second=installments[1].display_name,
                        company=company.display_name,
                    )
                )
            seen = {}
            for strategy in strategies - installments:
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
        for strategy in self.search(
            [("company_id", "=", company.id), ("applies_to", "=", "invoices")]
        ):
            for band in strategy._bands():
                mapping[band] = strategy.id
            if strategy.is_default:
                mapping["default"] = strategy.id
        return mapping

    @api.model
    def _next_sql(self, company, today, move_filter=None):
        """SQL selecting what the reminder engine does next with each amount
        due (open receivable line of a customer invoice) of ``company``
        (``move_filter`` on ``m`` and ``l`` narrows them): one row ``(move_id,
        partner_id, status, step_id, day, ref_id, paused, line_id)``.

        The one place where "next" is decided outside sending, in the order
        ``collection.reminder._decide`` applies: ``hold`` (disputed invoice or
        customer on hold: nothing), ``covered`` (the customer's credits cover
        what it owes: nothing), ``plan`` (in an active plan: its next
        unpaid installment's date, ``ref_id`` the plan), ``promise`` (an open
        promise within its grace days: its date, ``ref_id`` the promise),
        ``autopay`` (paid by automatic debit on its due date),
        ``planned`` (a reminder already planned: its step and date),
        ``step`` (the strategy's next step: the furthest one reached if due,
        else the nearest to come), both held back to the end of a pause of
        the customer's case (``paused`` tells it). The case board, the invoice
        and the preview of *Send now* all read it."""
        strategy_of = self.env["collection.reminder.planner"]._strategy_sql(company)
        if strategy_of is None:
            strategy_of = SQL("NULL::int")
        return SQL(
            """
            WITH moves AS (
                SELECT l.id AS line_id, m.id AS move_id,
                       m.commercial_partner_id AS partner_id,
                       l.date_maturity AS due,
                       m.invoice_date AS issued,
                       l.amount_residual AS residual,
                       lp.late_probability AS late_p,
                       m.collection_followup_hold IS NOT NULL
                           OR COALESCE(p.collection_no_followup, FALSE) AS held,
                       %(strategy_of)s AS strategy_id
                  FROM account_move_line l
                  JOIN account_move m ON m.id = l.move_id
                  JOIN res_partner p ON p.id = m.commercial_partner_id
                  LEFT JOIN collection_line_prediction lp ON lp.move_line_id = l.id
                 WHERE l.company_id = %(company)s AND %(open)s
                   %(move_filter)s
            ),
            -- Materialized and joined: read once, not once per line.
            owed AS MATERIALIZED (%(owed)s),
            autopay AS MATERIALIZED (
                SELECT DISTINCT line_id FROM (%(autopay)s) ap
            ),
            planned AS (
                SELECT DISTINCT ON (rl.move_line_id)
                       rl.move_line_id AS line_id, r.step_id,
                       r.planned_date::date AS day
                  FROM collection_reminder_line rl
                  JOIN collection_reminder r ON r.id = rl.reminder_id
                 WHERE r.state = 'planned'
                   AND rl.move_line_id IN (SELECT line_id FROM moves)
                 ORDER BY rl.move_line_id, r.planned_date
            ),
            step AS (%(step)s),
            -- Materialized: each of its subqueries runs once per line, not once
            -- per mention below.
            facts AS MATERIALIZED (
                SELECT mv.line_id, mv.move_id, mv.partner_id, mv.due,
                       mv.held OR COALESCE(o.amount, 0) <= 0 AS held,
                       mv.held AS on_hold,
                       (SELECT pl.id
                          FROM collection_payment_plan pl
                         WHERE pl.state = 'active'
                           AND (pl.fee_invoice_id = mv.move_id OR pl.id IN (
                                SELECT plm.plan_id
                                  FROM collection_plan_move_line_rel plm
                                 WHERE plm.move_line_id = mv.line_id))
                         LIMIT 1) AS plan_id,
                       (SELECT pr.id
                          FROM collection_promise_move_line_rel pm
                          JOIN collection_promise pr ON pr.id = pm.promise_id
                         WHERE pm.move_line_id = mv.line_id AND pr.state = 'open'
                           AND pr.grace_until >= %(today)s
                         ORDER BY pr.promised_date LIMIT 1) AS promise_id,
                       ap.line_id IS NOT NULL AS autopay,
                       (SELECT c.paused_until
                          FROM collection_case c
                         WHERE c.partner_id = mv.partner_id
                           AND c.company_id = %(company)s AND c.state = 'open'
                           AND c.paused_until > %(today)s) AS paused_until,
                       pd.step_id AS planned_step, pd.day AS planned_day,
                       st.step_id AS next_step, st.day AS next_day
                  FROM moves mv
                  LEFT JOIN owed o ON o.partner_id = mv.partner_id
                  LEFT JOIN autopay ap ON ap.line_id = mv.line_id
                  LEFT JOIN planned pd ON pd.line_id = mv.line_id
                  LEFT JOIN step st ON st.line_id = mv.line_id
            )
            SELECT f.move_id, f.partner_id,
                   CASE WHEN f.on_hold THEN 'hold'
                        WHEN f.held THEN 'covered'
                        WHEN f.plan_id IS NOT NULL THEN 'plan'
                        WHEN f.promise_id IS NOT NULL THEN 'promise'
                        WHEN f.autopay THEN 'autopay'
                        WHEN f.planned_step IS NOT NULL THEN 'planned'
                        WHEN f.next_step IS NOT NULL THEN 'step'
                   END AS status,
                   CASE WHEN f.held OR f.plan_id IS NOT NULL
                             OR f.promise_id IS NOT NULL OR f.autopay THEN NULL
                        ELSE COALESCE(f.planned_step, f.next_step)
                   END AS step_id,
                   CASE WHEN f.held THEN NULL
                        WHEN f.plan_id IS NOT NULL THEN (
                            SELECT MIN(i.date)
                              FROM collection_payment_plan_installment i
                             WHERE i.plan_id = f.plan_id
                               AND i.paid_amount < i.amount)
                        WHEN f.promise_id IS NOT NULL THEN (
                            SELECT pr.promised_date FROM collection_promise pr
                             WHERE pr.id = f.promise_id)
                        WHEN f.autopay THEN f.due
                        WHEN COALESCE(f.planned_step, f.next_step) IS NULL
                        THEN NULL
                        -- a step already reached goes out with the next run
                        ELSE GREATEST(COALESCE(f.planned_day, f.next_day),
                                      f.paused_until, %(today)s)
                   END AS day,
                   COALESCE(f.plan_id, f.promise_id) AS ref_id,
                   f.paused_until IS NOT NULL
                       AND COALESCE(f.planned_day, f.next_day) < f.paused_until
                       AS paused,
                   f.line_id
              FROM facts f
            """,
            strategy_of=strategy_of,
            company=company.id,
            today=today,
            open=self.env["account.move.line"]._collection_open_sql(owed_only=True),
            owed=self._owed_sql(company, SQL("SELECT partner_id FROM moves")),
            autopay=self.env["collection.autopay"]._covered_lines_sql(company),
            step=self._line_step_sql(company, SQL("moves"), SQL("%s::date", today)),
            move_filter=move_filter or SQL(),
        )

    @api.model
    def _owed_sql(self, company, customers):
        """SQL selecting ``(partner_id, amount)``: what each commercial
        partner of ``customers`` (SQL yielding their ids) owes ``company`` in
        all. Its credits (open credit notes, unreconciled payments: open
        receivable lines with a negative residual) offset its invoices, so a
        customer whose credits cover them owes nothing and hears nothing."""
        return SQL(
            """SELECT pc.commercial_partner_id AS partner_id,
                      SUM(l.amount_residual) AS amount
                 FROM account_move_line l
                 JOIN res_partner pc ON pc.id = l.partner_id
                WHERE l.company_id = %(company)s AND %(open)s
                  AND pc.commercial_partner_id IN (%(customers)s)
                GROUP BY pc.commercial_partner_id""",
            company=company.id,
            open=self.env["account.move.line"]._collection_open_sql(),
            customers=customers,
        )

    @api.model
    def _step_day_sql(self, step="st", line="mv"):
        """SQL of the day ``step`` (a collection_strategy_step) falls on for
        ``line`` (a relation with ``due`` and ``issued``, the invoice date)."""
        step, line = SQL.identifier(step), SQL.identifier(line)
        return SQL(
            "(CASE %(step)s.offset_from WHEN 'invoice' THEN %(line)s.issued"
            " ELSE %(line)s.due END + %(step)s.offset_days)",
            step=step,
            line=line,
        )

    @api.model
    def _line_step_sql(self, company, lines, today, reached_only=False):
        """SQL selecting ``(line_id, step_id, day)``: the step each row of
        ``lines`` (a relation with ``line_id``, ``partner_id``, ``due``,
        ``issued``, ``residual``, ``late_p`` and ``strategy_id``, read as ``mv``)
        takes
        next, on ``day``.

        The one rule of the planner and of every "next": a step is taken once
        per amount due, and never after a later one (a customer first reminded
        at 15 days overdue does not get the 5-day reminder as well). Of the
        steps left, the one reached last by ``today`` (SQL, may read ``mv``) is
        due now; when none is, the nearest to come (left out with
        ``reached_only``). Steps counted from a payment are not for open
        amounts: ``_plan_thanks`` plans them."""
        day = self._step_day_sql()
        return SQL(
            """SELECT DISTINCT ON (mv.line_id)
                      mv.line_id, st.id AS step_id, %(day)s AS day
                 FROM %(lines)s mv
                 JOIN collection_strategy s
                   ON s.id = mv.strategy_id AND s.active AND s.company_id = %(company)s
                 JOIN collection_strategy_step st
                   ON st.strategy_id = s.id AND st.active
                  AND st.offset_from != 'paid'
                WHERE mv.residual >= COALESCE(st.min_amount, 0)
                  %(reached)s
                  -- an offer is for the amounts likely to be paid late
                  AND (NOT COALESCE(st.is_offer, FALSE)
                       OR COALESCE(mv.late_p, 0) >= st.offer_min_probability)
                  -- the welcome of an invoice is for the days after it is
                  -- issued: not sent weeks late (after an upgrade, say)
                  AND (st.offset_from != 'invoice'
                       OR %(day)s >= %(today)s - %(stale)s)
                  AND (NOT COALESCE(st.new_customers_only, FALSE) OR NOT EXISTS (
                       SELECT 1
                         FROM account_move o
                        WHERE o.commercial_partner_id = mv.partner_id
                          AND o.company_id = %(company)s
                          AND o.move_type = 'out_invoice' AND o.state = 'posted'
                          AND o.invoice_date < mv.issued - 90))
                  AND NOT EXISTS (
                       SELECT 1
                         FROM collection_reminder_line rl
                         JOIN collection_strategy_step ls ON ls.id = rl.step_id
                        WHERE rl.move_line_id = mv.line_id
                          AND ls.offset_from != 'paid'
                          AND %(sent_day)s >= %(day)s)
                ORDER BY mv.line_id, %(day)s > %(today)s,
                         CASE WHEN %(day)s <= %(today)s THEN %(day)s END DESC,
                         %(day)s, st.id""",
            company=company.id,
            lines=lines,
            day=day,
            sent_day=self._step_day_sql("ls"),
            today=today,
            stale=ISSUED_STALE_DAYS,
            reached=SQL("AND %s <= %s", day, today) if reached_only else SQL(),
        )

    @api.model
    def _installment_strategy(self, company):
        """The company's active strategy for payment plan installments, if any."""
        return self.search(
            [("company_id", "=", company.id), ("applies_to", "=", "installments")],
            limit=1,
        )

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
        issued = ref("collections_proactive.mail_template_reminder_issued").id
        thanks = ref("collections_proactive.mail_template_reminder_thanks").id
        sms_notice = ref("collections_proactive.sms_template_reminder_notice").id
        sms_due = ref("collections_proactive.sms_template_reminder_due").id
        sms_overdue = ref("collections_proactive.sms_template_reminder_overdue").id
        plan_notice = ref("collections_proactive.mail_template_installment_notice").id
        plan_sms_due = ref("collections_proactive.sms_template_installment_due").id
        plan_late = ref("collections_proactive.mail_template_installment_overdue").id
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

        def issued_step(new_customers_only):
            return step(
                0,
                self.env._("Invoice issued: new customers")
                if new_customers_only
                else self.env._("Invoice issued"),
                offset_from="invoice",
                new_customers_only=new_customers_only,
                mail_template_id=issued,
            )

        def thanks_step():
            # Optional: shipped switched off, a manager turns it on per strategy.
            return step(
                1,
                self.env._("Thank you after payment"),
                offset_from="paid",
                mail_template_id=thanks,
                active=False,
            )

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
                    issued_step(new_customers_only=True),
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
                    thanks_step(),
                ],
            ),
            (
                self.env._("Medium risk: notice and due-date SMS"),
                {"band_medium": True},
                self.env._("Paid by the due date; no invoice past 15 days overdue."),
                [
                    issued_step(new_customers_only=True),
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
                    thanks_step(),
                ],
            ),
            (
                self.env._("High risk: early notice, SMS, call"),
                {"band_high": True},
                self.env._("A payment date agreed before the invoice is overdue."),
                [
                    issued_step(new_customers_only=False),
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
                    thanks_step(),
                ],
            ),
            (
                self.env._("Critical risk: close follow-up"),
                {"band_critical": True},
                self.env._("A promise or a payment plan before the debt turns bad."),
                [
                    issued_step(new_customers_only=False),
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
                    thanks_step(),
                ],
            ),
            (
                self.env._("Payment plan installments"),
                {"applies_to": "installments"},
                self.env._(
                    "Every installment paid on its date, so that the plan is kept."
                ),
                [
                    step(
                        -3,
                        self.env._("Installment notice 3 days before"),
                        mail_template_id=plan_notice,
                    ),
                    step(
                        0,
                        self.env._("SMS on the installment date"),
                        sms_template_id=plan_sms_due,
                    ),
                    step(
                        3,
                        self.env._("Installment late 3 days"),
                        mail_template_id=plan_late,
                    ),
                    call_step(
                        6,
                        self.env._("Call about a late installment"),
                        self.env._("Keep the payment plan on track"),
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
        # Per company and scope: a database that had the invoice ladders before
        # installment strategies existed gets its installment strategy on update.
        have = {
            (strategy.company_id.id, strategy.applies_to)
            for strategy in self.with_context(active_test=False).search([])
        }
        source = self.with_context(lang="en_US")._default_ladders()
        todo = [
            (company, index)
            for company in companies
            for index, (_name, values, _goal, _steps) in enumerate(source)
            if (company.id, values.get("applies_to", "invoices")) not in have
        ]
        if not todo:
            return self.browse()
        strategies = self.with_context(lang="en_US").create(
            [
                {
                    "name": source[index][0],
                    "company_id": company.id,
                    "sequence": index,
                    "goal": source[index][2],
                    "step_ids": [
                        fields.Command.create(values) for values in source[index][3]
                    ],
                    **source[index][1],
                }
                for company, index in todo
            ]
        )
        for lang, _name in self.env["res.lang"].get_installed():
            if lang == "en_US":
                continue
            ladders = self.with_context(lang=lang)._default_ladders()
            for strategy, (_company, index) in zip(strategies, todo, strict=True):
                name, _values, goal, steps = ladders[index]
                strategy.update_field_translations("name", {lang: name})
                strategy.update_field_translations("goal", {lang: goal})
                # Created in the order of the ladder, the switched off ones too.
                records = strategy.with_context(active_test=False).step_ids
                for record, values in zip(records.sorted("id"), steps, strict=True):
                    record.update_field_translations("name", {lang: values["name"]})
                    if values.get("activity_summary"):
                        record.update_field_translations(
                            "activity_summary", {lang: values["activity_summary"]}
                        )
        return strategies
