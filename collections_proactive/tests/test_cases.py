import calendar
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged

from .common import CollectionsCommon

DUE = date(2026, 3, 20)


@tagged("post_install", "-at_install")
class TestCases(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.Case = cls.env["collection.case"]
        cls.stage = {
            role: cls.env["collection.stage"]._for_role(role, cls.company)
            for role in ("upcoming", "overdue", "escalated", "resolved")
        }
        cls.reminded = cls.env.ref("collections_proactive.collection_stage_reminded")
        cls.customer = cls._cp_customer("Cliente Caso", tz="America/Santiago")
        cls.invoice = cls._cp_invoice(cls.customer, 1000, date(2026, 2, 18), DUE)

    def _sync(self, when, **kwargs):
        with freeze_time(when):
            return self.Case._sync_cases(**kwargs)

    def _cases(self, partner=None):
        return self.Case.search(
            [("partner_id", "=", (partner or self.customer).id)], order="id"
        )

    def _set_band(self, partner, band, company=None):
        partner.sudo().with_company(company or self.company).write(
            {"collection_risk_band": band}
        )

    def test_lifecycle_opened_moved_closed_reopened(self):
        # Low risk and not yet due: the notice goes, nothing needs attention.
        with freeze_time(datetime(2026, 3, 17, 13)):
            self.env["collection.reminder"]._cron_send_reminders()
        self.assertFalse(self._cases())
        # The day after the due date: opened in Overdue with the figures.
        self._sync(datetime(2026, 3, 21, 12))
        case = self._cases()
        self.assertEqual(len(case), 1)
        self.assertEqual(case.stage_id, self.stage["overdue"])
        self.assertEqual(case.state, "open")
        self.assertEqual(case.amount_due, 1000)
        self.assertEqual(case.amount_overdue, 1000)
        self.assertEqual(case.days_overdue, 1)
        self.assertEqual(case.invoice_count, 1)
        # The low-risk ladder's next step is +5 days overdue.
        self.assertEqual(case.next_step_id.offset_days, 5)
        self.assertEqual(case.next_step_date, DUE + timedelta(days=5))
        self.assertEqual(case.next_action_date, DUE + timedelta(days=5))
        # Running again changes nothing and opens nothing more.
        result = self._sync(datetime(2026, 3, 21, 13))
        self.assertEqual(result, {"opened": 0, "closed": 0, "updated": 0})
        # Ten days later the figures follow.
        self._sync(datetime(2026, 3, 31, 12))
        self.assertEqual(case.days_overdue, 11)
        # Paid: the case closes at once (the payment syncs it), into Resolved,
        # and stays.
        self._cp_pay(self.invoice, payment_date=date(2026, 4, 2))
        self.assertEqual(case.state, "closed")
        result = self._sync(datetime(2026, 4, 2, 12))
        self.assertEqual(result["closed"], 0, "closed by the payment already")
        self.assertEqual(case.state, "closed")
        self.assertEqual(case.stage_id, self.stage["resolved"])
        self.assertTrue(case.closed_date)
        self.assertIn("nothing is owed", case.message_ids[0].body)
        # A new debt later is a new case; the old one is history.
        self._cp_invoice(self.customer, 400, date(2026, 5, 1), date(2026, 5, 15))
        self._sync(datetime(2026, 5, 20, 12))
        cases = self._cases()
        self.assertEqual(len(cases), 2)
        self.assertEqual(cases[0], case)
        self.assertEqual(cases[1].state, "open")
        self.assertEqual(cases[1].amount_due, 400)

    def test_risky_customer_opens_before_due_and_steps_move_the_case(self):
        self._set_band(self.customer, "high")
        # 10 days before due: outside the 7-day horizon.
        self._sync(datetime(2026, 3, 10, 12))
        self.assertFalse(self._cases())
        with freeze_time(datetime(2026, 3, 13, 13)):
            # 7 days before due: the high-risk notice goes, in the same run as the
            # sync that opens the case in Upcoming; the notice moves it to Reminded.
            self.env["collection.reminder"]._cron_send_reminders()
        case = self._cases()
        self.assertEqual(case.amount_overdue, 0)
        self.assertEqual(case.stage_id, self.reminded)
        # Overdue now: a stage further on is not pulled back.
        self._sync(datetime(2026, 3, 21, 12))
        self.assertEqual(case.stage_id, self.reminded, "Reminded is not Upcoming")
        case.stage_id = self.stage["escalated"]
        case.invalidate_recordset()
        self.env["collection.case"]._advance(self.customer, self.company, self.reminded)
        self.assertEqual(case.stage_id, self.stage["escalated"])

    def test_upcoming_case_moves_to_overdue(self):
        self._set_band(self.customer, "critical")
        self._sync(datetime(2026, 3, 15, 12))
        case = self._cases()
        self.assertEqual(case.stage_id, self.stage["upcoming"])
        self._sync(datetime(2026, 3, 21, 12))
        self.assertEqual(case.stage_id, self.stage["overdue"])

    def test_paid_overdue_closes_what_needs_no_attention(self):
        """Paying what is overdue while later invoices are still open: a case the
        engine placed closes (nothing left for the board); a risky customer's case
        with an invoice due soon goes back to Upcoming; a case a person escalated
        stays open while anything is owed."""
        later = self._cp_invoice(
            self.customer, 500, date(2026, 3, 10), date(2026, 4, 9)
        )
        risky = self._cp_customer("Cliente Riesgoso")
        self._set_band(risky, "high")
        risky_old = self._cp_invoice(risky, 700, date(2026, 2, 18), DUE)
        self._cp_invoice(risky, 300, date(2026, 3, 10), date(2026, 3, 30))
        escalated = self._cp_customer("Cliente Escalado")
        escalated_old = self._cp_invoice(escalated, 900, date(2026, 2, 18), DUE)
        self._cp_invoice(escalated, 200, date(2026, 3, 10), date(2026, 4, 9))
        self._sync(datetime(2026, 3, 25, 12))
        case, risky_case, escalated_case = (
            self._cases(partner) for partner in (self.customer, risky, escalated)
        )
        self.assertEqual(
            (case | risky_case | escalated_case).stage_id, self.stage["overdue"]
        )
        escalated_case.stage_id = self.stage["escalated"]
        # The note is in the company's language, whoever's payment syncs it.
        self.env["res.lang"]._activate_lang("es_CL")
        self.env["ir.module.module"]._load_module_terms(
            ["collections_proactive"], ["es_CL"]
        )
        self.company.partner_id.lang = "es_CL"
        for invoice in (self.invoice, risky_old, escalated_old):
            self._cp_pay(invoice, payment_date=date(2026, 3, 26))
        result = self._sync(datetime(2026, 3, 26, 12))
        self.assertEqual(result["opened"], 0)
        # Only later invoices not yet due: closed into Resolved, saying why.
        self.assertEqual(case.state, "closed")
        self.assertEqual(case.stage_id, self.stage["resolved"])
        self.assertIn("ya no hay nada vencido", case.message_ids[0].body)
        # It keeps what is still owed, as the invoices it lists say.
        self.assertEqual(
            (case.amount_due, case.amount_overdue, case.invoice_count), (500, 0, 1)
        )
        self.assertEqual(case.invoice_ids, later)
        # A high-risk customer with an invoice due in 4 days: back to Upcoming.
        self.assertEqual(risky_case.state, "open")
        self.assertEqual(risky_case.stage_id, self.stage["upcoming"])
        self.assertEqual(risky_case.amount_overdue, 0)
        self.assertEqual(risky_case.amount_due, 300)
        # Escalated by a person: open while anything is owed.
        self.assertEqual(escalated_case.state, "open")
        self.assertEqual(escalated_case.stage_id, self.stage["escalated"])
        self.assertEqual(escalated_case.amount_due, 200)
        # Nothing overdue: a person may close it by hand.
        with freeze_time(datetime(2026, 3, 26, 12)):
            escalated_case.stage_id = self.stage["resolved"]
        self.assertEqual(escalated_case.state, "closed")
        # The later invoice falls overdue: a new case, the old one is history.
        self._sync(datetime(2026, 4, 10, 12))
        cases = self._cases()
        self.assertEqual(len(cases), 2)
        self.assertEqual(cases[1].state, "open")
        self.assertEqual(cases[1].stage_id, self.stage["overdue"])
        self.assertEqual(cases[1].amount_overdue, later.amount_total)
        self.assertEqual(risky_case.stage_id, self.stage["overdue"])

    def test_stage_moves_keep_the_rules(self):
        self._sync(datetime(2026, 3, 25, 12))
        case = self._cases().with_user(self.collector)
        # A collector drags the card: allowed.
        case.stage_id = self.reminded
        self.assertEqual(case.stage_id, self.reminded)
        # Resolved while something is overdue: refused, nothing written.
        with self.assertRaisesRegex(UserError, "overdue: the case closes once"):
            case.stage_id = self.stage["resolved"]
        case.invalidate_recordset()
        self.assertEqual(case.stage_id, self.reminded)
        self.assertEqual(case.state, "open")
        # Escalated: the escalation manager gets an activity.
        self.company.collection_escalation_user_id = self.collections_manager
        case.stage_id = self.stage["escalated"]
        activity = case.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.collections_manager)
        self.assertIn("Escalated", activity.summary)
        self.assertEqual(
            case.next_action_date, min(case.next_step_date, activity.date_deadline)
        )
        # Paid, then closed by hand: allowed; a closed case stays where it is.
        self._cp_pay(self.invoice, payment_date=date(2026, 3, 26))
        case.stage_id = self.stage["resolved"]
        self.assertEqual(case.state, "closed")
        with self.assertRaisesRegex(UserError, "closed"):
            case.stage_id = self.stage["overdue"]
        # A stage of another company is refused by the company check.
        other = self.env["collection.stage"].create(
            {"name": "Other", "company_id": self.setup_other_company()["company"].id}
        )
        open_case = self.Case.create(
            {
                "partner_id": self._cp_customer("Otro").id,
                "stage_id": self.stage["overdue"].id,
            }
        )
        with self.assertRaises(UserError):
            open_case.stage_id = other

    def test_collector_cannot_configure(self):
        stage = self.stage["overdue"].with_user(self.collector)
        self.assertTrue(stage.name)
        with self.assertRaises(AccessError):
            stage.name = "Renamed"
        with self.assertRaises(AccessError):
            self.env["collection.stage"].with_user(self.collector).create(
                {"name": "Mine"}
            )
        with self.assertRaises(AccessError):
            self.env["collection.assignment.rule"].with_user(self.collector).create(
                {"user_ids": [Command.set(self.collector.ids)]}
            )
        with self.assertRaises(AccessError):
            self.stage["overdue"].with_user(self.collector).unlink()

    def test_collectors_assigned_round_robin_and_inherited(self):
        second = new_test_user(
            self.env,
            login="cp_collector_2",
            name="Segundo Cobrador",
            groups="base.group_user,collections_proactive.group_collections_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        self.env["collection.assignment.rule"].create(
            {"user_ids": [Command.set((self.collector | second).ids)]}
        )
        chosen = self._cp_customer("Con Cobrador")
        chosen.with_company(self.company).collection_user_id = second
        others = self.env["res.partner"]
        for index in range(4):
            partner = self._cp_customer(f"Cliente {index}")
            self._cp_invoice(partner, 100, date(2026, 2, 1), date(2026, 3, 1))
            others |= partner
        self._cp_invoice(chosen, 100, date(2026, 2, 1), date(2026, 3, 1))
        self._sync(datetime(2026, 3, 21, 12))
        cases = self.Case.search([("company_id", "=", self.company.id)])
        self.assertEqual(len(cases), 6, "four new customers, the chosen, the first")
        self.assertEqual(
            cases.filtered(lambda c: c.partner_id == chosen).user_id, second
        )
        # Five cases to share, one already the second's: 3 and 3.
        counts = {
            user: len(cases.filtered(lambda c, u=user: c.user_id == u))
            for user in (self.collector, second)
        }
        self.assertEqual(counts[self.collector], 3)
        self.assertEqual(counts[second], 2 + 1)
        for case in cases:
            self.assertEqual(
                case.partner_id.with_company(self.company).collection_user_id,
                case.user_id,
            )
        # Assigning on the case sets the customer's collector for the company.
        case = cases[0]
        case.user_id = self.collector
        self.assertEqual(
            case.partner_id.with_company(self.company).collection_user_id,
            self.collector,
        )

    def test_pause_defers_reminders_with_the_reason(self):
        self._sync(datetime(2026, 3, 21, 12))
        case = self._cases()
        with freeze_time(datetime(2026, 3, 21, 12)):
            wizard = Form(
                self.env["collection.case.pause"].with_context(
                    active_model="collection.case", active_ids=case.ids
                )
            )
            wizard.paused_until = date(2026, 4, 10)
            wizard.reason = "Factura en disputa"
            wizard.save().action_pause()
        self.assertEqual(case.paused_until, date(2026, 4, 10))
        with freeze_time(datetime(2026, 3, 25, 13)):
            self.env["collection.reminder"]._cron_send_reminders()
        reminder = self.env["collection.reminder"].search(
            [("partner_id", "=", self.customer.id)]
        )
        self.assertEqual(reminder.state, "planned")
        self.assertIn("Factura en disputa", reminder.reason)
        self.assertEqual(reminder.planned_date, datetime(2026, 4, 10))
        # In the past: refused.
        with freeze_time(datetime(2026, 3, 21, 12)), self.assertRaises(UserError):
            self.env["collection.case.pause"].create(
                {
                    "case_ids": [Command.set(case.ids)],
                    "paused_until": date(2026, 3, 1),
                    "reason": "x",
                }
            ).action_pause()

    def test_multi_company_isolation(self):
        company_2 = self.setup_other_company(name="Otra Empresa")["company"]
        foreign = self._cp_customer("Cliente Ajeno")
        foreign_invoice = self._cp_invoice(
            foreign, 800, date(2026, 2, 1), date(2026, 3, 1), company=company_2
        )
        self._sync(datetime(2026, 3, 21, 12))
        mine = self._cases()
        theirs = self._cases(foreign)
        self.assertEqual(mine.company_id, self.company)
        self.assertEqual(theirs.company_id, company_2)
        self.assertEqual(theirs.amount_due, 800)
        # The collector works in the first company only.
        visible = self.Case.with_user(self.collector).search(
            [("partner_id", "in", (self.customer | foreign).ids)]
        )
        self.assertEqual(visible, mine)
        with self.assertRaises(AccessError):
            theirs.with_user(self.collector).read(["amount_due"])
        # Syncing one company leaves the other alone (the foreign invoice is
        # no longer owed without a payment, which would sync its case at once).
        self._cp_pay(self.invoice, payment_date=date(2026, 3, 22))
        foreign_invoice.button_draft()
        self._sync(datetime(2026, 3, 22, 12), companies=self.company)
        self.assertEqual(mine.state, "closed")
        self.assertEqual(theirs.state, "open")

    def test_sync_queries_do_not_grow_with_customers(self):
        def ledger(count):
            partners = self.env["res.partner"]
            for index in range(count):
                partner = self._cp_customer(f"Lote {count} {index}")
                self._cp_invoice(partner, 100, date(2026, 2, 1), date(2026, 3, 1))
                partners |= partner
            return partners

        warm, few, many = ledger(1), ledger(2), ledger(6)
        self.env.flush_all()
        counts = []
        with freeze_time(datetime(2026, 3, 21, 12)):
            for partners in (warm, few, many):
                before = self.env.cr.sql_log_count
                result = self.Case._sync_cases(self.company, partners=partners)
                self.env.flush_all()
                counts.append(self.env.cr.sql_log_count - before)
                self.assertEqual(result["opened"], len(partners))
        self.assertEqual(counts[1], counts[2], "a sync costs the same for 2 or 6")
        self.assertLess(counts[2], 40)


@tagged("post_install", "-at_install")
class TestKpis(CollectionsCommon):
    """Figures of a month three months back, by hand:

    ``a`` 1000 invoiced on day 1, due day 10, paid in full on day 5;
    ``b`` 2000 invoiced day 5, due day 20, 500 paid on day 25 after a reminder
    sent on day 21; ``c`` 3000 invoiced day 15, due day 15 of the next month.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_user"
        )
        cls.month = date.today().replace(day=1) - relativedelta(months=3)
        cls.days = calendar.monthrange(cls.month.year, cls.month.month)[1]
        cls.next_month = cls.month + relativedelta(months=1)
        cls.next_days = calendar.monthrange(cls.next_month.year, cls.next_month.month)[
            1
        ]

        def day(n, month=cls.month):
            return month + timedelta(days=n - 1)

        cls.customer = cls._cp_customer("Cliente KPI")
        cls.customer.with_company(cls.company).collection_user_id = cls.collector
        cls.a = cls._cp_invoice(cls.customer, 1000, day(1), day(10))
        cls.b = cls._cp_invoice(cls.customer, 2000, day(5), day(20))
        cls.c = cls._cp_invoice(cls.customer, 3000, day(15), day(15, cls.next_month))
        cls._cp_pay(cls.a, payment_date=day(5))
        cls._cp_pay(cls.b, amount=500, payment_date=day(25))
        step = cls.env["collection.strategy.step"].search(
            [("company_id", "=", cls.company.id), ("offset_days", ">", 0)], limit=1
        )
        cls.env["collection.reminder"].sudo().create(
            {
                "partner_id": cls.customer.id,
                "company_id": cls.company.id,
                "step_id": step.id,
                "channel": "email",
                "planned_date": datetime.combine(day(21), datetime.min.time()),
                "sent_date": datetime.combine(day(21), datetime.min.time()),
                "state": "sent",
                "line_ids": [
                    Command.create(
                        {
                            "move_id": cls.b.id,
                            "step_id": step.id,
                            "channel": "email",
                            "amount_residual": 2000,
                            "company_id": cls.company.id,
                        }
                    )
                ],
            }
        )
        cls.env.flush_all()

    def _row(self, month):
        return self.env["collection.kpi.report"].search(
            [("company_id", "=", self.company.id), ("date", "=", month)]
        )

    def test_month_figures(self):
        row = self._row(self.month)
        self.assertEqual(len(row), 1)
        self.assertEqual(row.user_id, self.collector)
        self.assertEqual(row.sales, 1000 + 2000 + 3000)
        self.assertEqual(row.collected, 1000 + 500)
        # At the month's end: b has 1500 left (overdue by days - 20, at most 11
        # days), c 3000 not yet due.
        self.assertEqual(row.ar_end, 1500 + 3000)
        self.assertEqual(row.ar_current, 3000)
        self.assertEqual(row.aged_1_30, 1500)
        self.assertAlmostEqual(row.dso, 4500 / 6000 * self.days, places=1)
        self.assertAlmostEqual(row.best_dso, 3000 / 6000 * self.days, places=1)
        self.assertAlmostEqual(row.add, 1500 / 6000 * self.days, places=1)
        # CEI: collected / (collected + overdue at month end) = 1500 / (1500 + 1500).
        self.assertAlmostEqual(row.cei, 50.0, places=1)
        # Fell due in the month: a (1000, paid by its due date) and b (2000, not).
        self.assertEqual(row.due_amount, 3000)
        self.assertEqual(row.paid_by_due, 1000)
        self.assertAlmostEqual(row.paid_by_due_rate, 1000 / 3000 * 100, places=1)
        # Reminded 2000 on day 21; 500 paid on day 25, within 7 days.
        self.assertEqual(row.reminded, 2000)
        self.assertEqual(row.reminded_paid, 500)
        self.assertAlmostEqual(row.reminder_effectiveness, 25.0, places=1)

    def test_next_month_aging(self):
        row = self._row(self.next_month)
        # b: due day 20 of the first month, so 31-60 days overdue at the next
        # month's end; c: due day 15 of this month, 1-30 days.
        self.assertEqual(row.sales, 0)
        self.assertEqual(row.ar_end, 4500)
        self.assertEqual(row.ar_current, 0)
        self.assertEqual(row.aged_31_60, 1500)
        self.assertEqual(row.aged_1_30, 3000)
        self.assertFalse(row.dso, "nothing invoiced: no DSO")
        self.assertEqual(row.due_amount, 3000)
        self.assertEqual(row.paid_by_due, 0)

    def test_pivot_totals_are_kpis_of_the_group(self):
        groups = self.env["collection.kpi.report"]._read_group(
            [
                ("company_id", "=", self.company.id),
                ("date", ">=", self.month),
                ("date", "<=", self.next_month),
            ],
            [],
            ["dso:sum", "cei:sum", "paid_by_due_rate:sum", "sales:sum"],
        )
        dso, cei, rate, sales = groups[0]
        self.assertEqual(sales, 6000)
        # Average month-end receivables (4500, 4500) / invoiced x days spanned.
        self.assertAlmostEqual(dso, 4500 / 6000 * (self.days + self.next_days), 1)
        # Collected 1500 (first month only); overdue at the ends 1500 and 4500.
        self.assertAlmostEqual(cei, 1500 / (1500 + 1500 + 4500) * 100, 1)
        # Fell due 3000 + 3000, paid by due date 1000.
        self.assertAlmostEqual(rate, 1000 / 6000 * 100, 1)

    def test_overview_reads_the_same_figures(self):
        overview = (
            self.env["collection.overview"]
            .with_user(self.collector)
            .with_context(allowed_company_ids=self.company.ids)
            .create({})
        )
        report = self.env["collection.kpi.report"].search(
            [("company_id", "=", self.company.id)]
        )
        this_month = date.today().replace(day=1)
        current = report.filtered(lambda r: r.date == this_month)
        # b (1500 left) and c (3000) are both overdue today.
        # The payment synced its customer's case at once.
        self.assertEqual(overview.amount_overdue, 4500)
        self.assertEqual(current.ar_end, 4500)
        self.assertEqual(overview.ar_current, 0)
        buckets = ("aged_1_30", "aged_31_60", "aged_61_90", "aged_91")
        for bucket in buckets:
            self.assertEqual(overview[bucket], current[bucket])
        self.assertEqual(sum(overview[bucket] for bucket in buckets), 4500)
        # Nothing invoiced in the last three months: no DSO to speak of.
        self.assertEqual(overview.dso, 0)
