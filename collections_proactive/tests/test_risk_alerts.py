import json
from datetime import date, datetime, timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import CollectionsCommon

TODAY = date(2026, 3, 10)


@tagged("post_install", "-at_install")
class TestRiskAlerts(CollectionsCommon):
    """Early warnings: what changed is told to the collector, once, on the
    customer's case, before anything is overdue."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Alert = cls.env["collection.risk.alert"]
        cls.customer = cls._cp_customer("Cliente Alerta")
        cls.customer.with_company(cls.company).collection_user_id = cls.collector
        cls.invoice = cls._cp_invoice(
            cls.customer, 1000, date(2026, 3, 1), date(2026, 3, 31)
        )
        cls.activity_type = cls.env.ref(
            "collections_proactive.mail_activity_type_risk_alert"
        )

    def _set(self, band=None, trend=None, partner=None):
        partner = (partner or self.customer).with_company(self.company)
        if band:
            partner.collection_risk_band = band
        if trend is not None:
            partner.collection_risk_factors = json.dumps(
                [{"code": "trend", "value": trend, "points": 5}]
            )

    def setUp(self):
        super().setUp()
        # Warnings began before the test's invoices: the first run has been.
        self.company.sudo().collection_alert_since = datetime(2026, 1, 1)

    def _raise(self, day=TODAY):
        self.env.flush_all()
        with freeze_time(day):
            return self.Alert._raise_alerts(self.company, day)

    def _activities(self):
        return (
            self.env["mail.activity"]
            .sudo()
            .search(
                [
                    ("activity_type_id", "=", self.activity_type.id),
                    ("res_model", "=", "collection.case"),
                ]
            )
        )

    def test_band_worsening_is_told_once_on_an_upcoming_case(self):
        self._set(band="low")
        self.assertFalse(self._raise(), "the first run only remembers")
        self._set(band="high")
        alert = self._raise()
        self.assertEqual(alert.reason, "band")
        self.assertEqual((alert.previous_band, alert.band), ("low", "high"))
        case = alert.case_id
        self.assertEqual(case.partner_id, self.customer)
        self.assertEqual(case.stage_id.role, "upcoming", "nothing is overdue yet")
        self.assertEqual(case.amount_due, 1000, "opened with its figures")
        activity = self._activities()
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.res_id, case.id)
        self.assertEqual(activity.user_id, self.collector)
        self.assertIn("worsened from Low to High", str(activity.note))
        # The case carries the warning: the daily sync keeps it open while the
        # warning is open, though the invoice is not yet within the horizon.
        Case = self.env["collection.case"]
        with freeze_time(datetime(2026, 3, 11, 12)):
            Case._sync_cases(self.company)
        self.assertEqual(case.state, "open")
        self.assertEqual(case.amount_due, 1000)
        # Worked on, and nothing else needs attention: it leaves the board.
        activity.action_feedback()
        with freeze_time(datetime(2026, 3, 11, 12)):
            Case._sync_cases(self.company)
        self.assertEqual(case.state, "closed")
        self.assertFalse(self._raise(), "nothing changed: nothing told")
        # Better is not news.
        self._set(band="medium")
        self.assertFalse(self._raise())

    def test_one_open_alert_per_customer(self):
        self._set(band="low")
        self._raise()
        self._set(band="high")
        self._raise()
        self._set(band="critical", trend=0.4)
        alerts = self._raise()
        self.assertEqual(sorted(alerts.mapped("reason")), ["band", "trend"])
        activity = self._activities()
        self.assertEqual(len(activity), 1, "the news is added to the open alert")
        self.assertIn("High to Critical", str(activity.note))
        self.assertIn("Paying later lately", str(activity.note))
        # Once done, the next news opens a new one.
        activity.action_feedback()
        self._set(band="low")
        self._raise()
        self._set(band="high")
        self._raise()
        self.assertEqual(len(self._activities()), 1)

    def test_line_likely_late_before_due(self):
        self._set(band="medium")
        self._raise()
        line = self.invoice.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        )
        line.collection_late_probability = 0.5
        self.assertFalse(self._raise(), "under the company's 60%")
        line.collection_late_probability = 0.75
        alert = self._raise()
        self.assertEqual(alert.reason, "line")
        self.assertEqual(alert.move_line_ids, line)
        self.assertIn("75%", alert.summary)
        self.assertFalse(self._raise(), "each amount is told once")
        # Once overdue it is the reminders' business, not a warning.
        other = self._cp_invoice(self.customer, 300, date(2026, 2, 1), date(2026, 3, 1))
        other.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        ).collection_late_probability = 0.9
        self.assertFalse(self._raise())

    def test_broken_promise_is_news_once(self):
        self._set(band="medium")
        self._raise()
        with freeze_time(TODAY - timedelta(days=8)):
            promise = (
                self.env["collection.promise"]
                .sudo()
                .create(
                    {
                        "partner_id": self.customer.id,
                        "company_id": self.company.id,
                        "invoice_ids": [fields.Command.set(self.invoice.ids)],
                        "promised_date": TODAY - timedelta(days=5),
                        "amount": 1000,
                    }
                )
            )
        promise.write({"state": "broken", "closed_date": TODAY})
        alert = self._raise()
        self.assertEqual(alert.reason, "broken")
        self.assertEqual(alert.promise_id, promise)
        self.assertFalse(self._raise())
        # A promise broken long ago is history.
        with freeze_time(TODAY - timedelta(days=60)):
            old = promise.copy({"promised_date": TODAY - timedelta(days=50)})
        old.write({"state": "broken", "closed_date": TODAY - timedelta(days=40)})
        self.assertFalse(self._raise())

    def test_first_run_only_remembers(self):
        self.company.sudo().collection_alert_since = False
        self._set(band="high")
        line = self.invoice.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        )
        line.collection_late_probability = 0.9
        self.assertFalse(self._raise(), "nothing is news on the first run")
        self.assertTrue(self.company.collection_alert_since)
        self.assertEqual(
            self.customer.with_company(self.company).collection_alert_band, "high"
        )
        self.assertFalse(self._raise(), "the lines already there are not news")

    def test_switched_off(self):
        self.company.collection_alert_enabled = False
        self._set(band="low")
        self._raise()
        self._set(band="critical")
        self.assertFalse(self._raise())

    def test_risk_run_raises_them(self):
        """The scheduled risk run ends with the warnings, for all customers."""
        self._set(band="low")
        self._raise()
        self.env["collection.risk.scoring"].with_context(
            collection_risk_date=TODAY
        )._compute_risk(companies=self.company, full=True)
        self.assertTrue(
            self.customer.with_company(self.company).collection_alert_band,
            "the run remembers the band it computed",
        )


@tagged("post_install", "-at_install")
class TestManagerDigest(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls._cp_customer("Cliente Digest")
        cls.customer.with_company(cls.company).collection_user_id = cls.collector
        cls.invoice = cls._cp_invoice(
            cls.customer, 1000, date(2026, 3, 1), date(2026, 3, 20)
        )
        cls.late = cls._cp_invoice(
            cls.customer, 400, date(2026, 1, 1), date(2026, 2, 1)
        )
        cls.invoice.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        ).write(
            {
                "collection_late_probability": 0.7,
                "collection_predicted_payment_date": date(2026, 3, 25),
            }
        )
        cls.env["collection.case"]._sync_cases(cls.company)

    def _send(self, day):
        with freeze_time(day):
            return self.env["collection.manager.digest"]._cron_send_digest()

    def test_each_manager_once_a_week(self):
        digests = self._send(date(2026, 3, 10))
        mine = digests.filtered(lambda d: d.user_id == self.collections_manager)
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine.week, date(2026, 3, 9), "the week's Monday")
        body = str(mine.mail_id.body_html)
        self.assertIn("Late (60% or more)", body)
        self.assertIn("Carla Collector", body, "each collector's load")
        self.assertIn(self.company.currency_id.format(1000), body)
        self.assertIn("collections this week", mine.mail_id.subject)
        self.assertEqual(
            mine.mail_id.recipient_ids, self.collections_manager.partner_id
        )
        # Run again the same week (a crash, a second worker): nothing twice.
        self.assertFalse(self._send(date(2026, 3, 12)))
        self.assertIn(
            self.collections_manager,
            self._send(date(2026, 3, 16)).user_id,
            "next week, the next one",
        )

    def test_switched_off(self):
        self.company.collection_digest_enabled = False
        self.assertFalse(
            self._send(date(2026, 3, 10)).filtered(
                lambda digest: digest.company_id == self.company
            )
        )
