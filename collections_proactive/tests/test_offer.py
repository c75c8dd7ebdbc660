from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import PortalCommon


@tagged("post_install", "-at_install")
class TestOffer(PortalCommon):
    """Offers before the due date: to the amounts likely to be paid late, a
    link without login where the customer pays, promises or asks for a plan."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.partner_id.tz = "UTC"
        # Any hour of any day: what goes out is decided by the steps alone.
        cls.company.write(
            {
                "collection_contact_preset": "custom",
                "collection_contact_weekday_from": "0",
                "collection_contact_weekday_to": "6",
                "collection_contact_hour_from": 0.0,
                "collection_contact_hour_to": 24.0,
                "collection_min_days_between_written": 0,
                "collection_max_written_per_week": 0,
                "collection_skip_holidays": False,
            }
        )
        cls.customer.tz = "UTC"
        cls.customer.with_company(cls.company).collection_risk_band = "low"
        cls.low = cls.env["collection.strategy"].search(
            [("company_id", "=", cls.company.id), ("band_low", "=", True)]
        )
        cls.step = cls.env["collection.strategy.step"].create(
            {
                "strategy_id": cls.low.id,
                "name": "Offer 10 days before due",
                "offset_days": -10,
                "is_offer": True,
                "offer_min_probability": 0.5,
                "mail_template_id": cls.env.ref(
                    "collections_proactive.mail_template_reminder_offer"
                ).id,
            }
        )
        cls.Reminder = cls.env["collection.reminder"]
        cls.line = cls.soon.line_ids.filtered(
            lambda line: line.display_type == "payment_term"
        )

    def _plan(self):
        return self.env["collection.reminder.planner"]._plan_reminders(
            companies=self.company, partners=self.customer
        )

    def test_offer_only_for_amounts_likely_late(self):
        # Due in 10 days: the offer's day. Not likely late: no offer.
        self.line.collection_late_probability = 0.3
        self.assertFalse(self._plan().filtered(lambda r: r.kind == "offer"))
        self.line.collection_late_probability = 0.7
        offer = self._plan().filtered(lambda r: r.kind == "offer")
        self.assertEqual(offer.line_ids.move_line_id, self.line)
        self.assertIn("/collections/offer/", offer.offer_url)

    def _offer(self):
        self.line.collection_late_probability = 0.7
        offer = self._plan().filtered(lambda r: r.kind == "offer")
        offer._send()
        return offer

    def test_link_page_and_its_errors(self):
        offer = self._offer()
        self.assertEqual(offer.state, "sent")
        url = offer.offer_url
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200)
        self.assertIn(self.soon.name, page.text)
        self.assertNotIn(self.overdue[0].name, page.text, "only the message's amounts")
        # Tampered, another message's token, malformed: 404, nothing said.
        base, expires, token = url.rsplit("/", 2)
        for bad in (
            f"{base}/{expires}/{token[:-1]}x",
            f"{base}/20991231/{token}",
            f"{base}/{expires}/%00",
            f"/collections/offer/999999999/{expires}/{token}",
        ):
            self.assertEqual(self.url_open(bad).status_code, 404, bad)
        # Expired: 410 with what to do.
        with freeze_time(
            fields.Date.to_date(f"{expires[:4]}-{expires[4:6]}-{expires[6:]}")
            + timedelta(days=1)
        ):
            expired = self.url_open(url)
        self.assertEqual(expired.status_code, 410)
        self.assertIn("Sign in", expired.text)

    def test_promise_once_and_within_policy(self):
        offer = self._offer()
        url = offer.offer_url
        page = self.url_open(url)
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        far = fields.Date.to_string(self.today + timedelta(days=400))
        refused = self.url_open(
            url + "/promise", data={"csrf_token": token, "promised_date": far}
        )
        self.assertEqual(refused.status_code, 400)
        self.assertFalse(
            self.env["collection.promise"].search(
                [("move_line_ids", "in", self.line.ids)]
            )
        )
        day = fields.Date.to_string(self.today + timedelta(days=5))
        for _click in range(2):
            done = self.url_open(
                url + "/promise",
                # A NUL typed in the note (PostgreSQL refuses it) is dropped.
                data={
                    "csrf_token": token,
                    "promised_date": day,
                    "note": "Pago el\x00 viernes",
                },
            )
            self.assertEqual(done.status_code, 200)
        promise = self.env["collection.promise"].search(
            [("move_line_ids", "in", self.line.ids)]
        )
        self.assertEqual(len(promise), 1, "a second click promises nothing more")
        self.assertEqual(promise.amount, 120)
        self.assertEqual(promise.partner_id, self.customer)
        self.assertEqual(promise.note, "Pago el viernes")

    def test_plan_request_once(self):
        offer = self._offer()
        url = offer.offer_url
        page = self.url_open(url)
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        for _click in range(2):
            done = self.url_open(
                url + "/plan", data={"csrf_token": token, "note": "3 months"}
            )
            self.assertEqual(done.status_code, 200)
            self.assertIn("payment plan reached our team", done.text)
        plans = self.env["collection.payment.plan"].search(
            [("partner_id", "=", self.customer.id)]
        )
        self.assertEqual(len(plans), 1)
        self.assertEqual(plans.state, "draft")
        self.assertEqual(plans.move_line_ids, self.line)

    def test_offer_tour(self):
        offer = self._offer()
        self.start_tour(
            offer.offer_url.removeprefix(offer.partner_id.get_base_url()),
            "collections_proactive_offer_tour",
        )
        self.assertEqual(
            len(
                self.env["collection.promise"].search(
                    [("move_line_ids", "in", self.line.ids)]
                )
            ),
            1,
        )
