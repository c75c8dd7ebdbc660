from datetime import date

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import CollectionsCommon

MONTH = date(2026, 3, 1)


@tagged("post_install", "-at_install")
class TestTargets(CollectionsCommon):
    """Targets per collector and month, set by managers, against the actual
    figures of the collector's customers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.env["res.users"].create(
            {
                "name": "Otra Cobradora",
                "login": "cp_other_collector",
                "groups_id": [
                    (
                        6,
                        0,
                        cls.env.ref("collections_proactive.group_collections_user").ids,
                    )
                ],
                "company_id": cls.company.id,
                "company_ids": [(6, 0, cls.company.ids)],
            }
        )
        cls.customer = cls._cp_customer("Cliente Meta")
        cls.customer.with_company(cls.company).collection_user_id = cls.collector
        a = cls._cp_invoice(cls.customer, 1000, date(2026, 3, 2), date(2026, 3, 10))
        b = cls._cp_invoice(cls.customer, 2000, date(2026, 3, 2), date(2026, 3, 20))
        cls._cp_pay(a, payment_date=date(2026, 3, 8))
        cls._cp_pay(b, payment_date=date(2026, 3, 25))
        Target = cls.env["collection.target"].with_user(cls.collections_manager)
        cls.target = Target.create(
            {
                "user_id": cls.collector.id,
                "company_id": cls.company.id,
                "month": MONTH,
                "amount_target": 4000,
                "paid_by_due_target": 80,
                "cei_target": 90,
            }
        )
        Target.create(
            {
                "user_id": cls.other.id,
                "company_id": cls.company.id,
                "month": MONTH,
                "amount_target": 500,
            }
        )
        cls.env.flush_all()

    def test_actuals_from_the_month_kpis(self):
        with freeze_time(date(2026, 4, 15)):
            self.env["collection.kpi.report"].init()
            self.target.invalidate_recordset()
            self.assertEqual(self.target.collected, 3000)
            self.assertAlmostEqual(self.target.collected_progress, 75.0)
            # Fell due in March: 3000, paid by its date: 1000.
            self.assertAlmostEqual(self.target.paid_by_due_rate, 100 / 3, places=1)

    def test_collector_sees_own_manager_sees_all(self):
        Target = self.env["collection.target"]
        mine = Target.with_user(self.collector).search([("month", "=", MONTH)])
        self.assertEqual(mine, self.target)
        everyone = Target.with_user(self.collections_manager).search(
            [("month", "=", MONTH)]
        )
        self.assertEqual(len(everyone), 2)
        with freeze_time(date(2026, 3, 20)):
            overview = Form(
                self.env["collection.overview"].with_user(self.collector)
            ).save()
            self.assertEqual(overview.target_ids, self.target)
            overview = Form(
                self.env["collection.overview"].with_user(self.collections_manager)
            ).save()
            self.assertEqual(len(overview.target_ids), 2)

    def test_one_target_a_month_for_a_month(self):
        Target = self.env["collection.target"].with_user(self.collections_manager)
        with self.assertRaises(ValidationError):
            Target.create(
                {
                    "user_id": self.collector.id,
                    "company_id": self.company.id,
                    "month": date(2026, 4, 15),
                    "amount_target": 10,
                }
            )
        with self.assertRaises(ValidationError):
            Target.create(
                {
                    "user_id": self.collector.id,
                    "company_id": self.company.id,
                    "month": date(2026, 4, 1),
                    "amount_target": 10,
                    "cei_target": 120,
                }
            )
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            Target.create(
                {
                    "user_id": self.collector.id,
                    "company_id": self.company.id,
                    "month": MONTH,
                    "amount_target": 10,
                }
            )
            self.env.flush_all()

    def test_copy_to_next_month_once(self):
        Target = self.env["collection.target"].with_user(self.collections_manager)
        targets = Target.search([("month", "=", MONTH)])
        copies = targets.action_copy_to_next_month()
        self.assertEqual(set(copies.mapped("month")), {date(2026, 4, 1)})
        self.assertEqual(len(copies), 2)
        self.assertFalse(targets.action_copy_to_next_month(), "already there")

    def test_collector_cannot_set_targets(self):
        from odoo.exceptions import AccessError

        with self.assertRaises(AccessError):
            self.target.with_user(self.collector).amount_target = 1

    def test_digest_shows_targets(self):
        with freeze_time(date(2026, 3, 20)):
            digests = self.env["collection.manager.digest"]._cron_send_digest()
        mine = digests.filtered(lambda d: d.user_id == self.collections_manager)
        self.assertIn("Targets this month", str(mine.mail_id.body_html))
        self.assertIn("Otra Cobradora", str(mine.mail_id.body_html))
