from datetime import date, datetime

from freezegun import freeze_time

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import TransactionCase, tagged

from ..models.collection_reminder_sending import SENDING_LOCK
from .common import CollectionsCommon


@tagged("post_install", "-at_install")
class TestConcurrentWorkers(TransactionCase):
    """Two real database sessions, as two Odoo workers: one commits rows the
    other's transaction (REPEATABLE READ, as Odoo's) then writes as well. The test
    cursor cannot commit, so the rows live in a table of their own, committed and
    dropped by separate sessions."""

    ROWS = 64

    def setUp(self):
        super().setUp()
        self.db = sql_db.db_connect(self.env.cr.dbname)
        with self.db.cursor() as cr:
            cr.execute(
                "CREATE TABLE cp_test_workers (id int PRIMARY KEY, token varchar)"
            )
            cr.execute(
                """INSERT INTO cp_test_workers
                   SELECT g, NULL FROM generate_series(1, %s) g""",
                [self.ROWS],
            )
        self.addCleanup(self._drop_table)

    def _drop_table(self):
        with self.db.cursor() as cr:
            cr.execute("DROP TABLE cp_test_workers")

    def test_in_halves_leaves_only_what_another_worker_committed(self):
        mine = self.db.cursor()
        self.addCleanup(mine.close)
        mine.execute("SELECT 1")  # this transaction's snapshot is taken here
        with self.db.cursor() as other:
            other.execute(
                "UPDATE cp_test_workers SET token = 'theirs' WHERE id IN (3, 41)"
            )
        statements = []

        def update(ids):
            statements.append(len(ids))
            mine.execute(
                """UPDATE cp_test_workers SET token = 'mine'
                    WHERE id = ANY(%s) AND token IS NULL""",
                [list(ids)],
            )

        reminders = self.env["collection.reminder"].with_env(
            api.Environment(mine, SUPERUSER_ID, {})
        )
        left = reminders._in_halves(list(range(1, self.ROWS + 1)), update)
        self.assertEqual(left, [3, 41], "only the rows the other worker wrote")
        mine.execute("SELECT id FROM cp_test_workers WHERE token = 'mine' ORDER BY id")
        self.assertEqual(
            [row[0] for row in mine.fetchall()],
            [i for i in range(1, self.ROWS + 1) if i not in (3, 41)],
            "everything else is written, in this transaction",
        )
        self.assertLess(len(statements), 30, "in halves, not row by row")
        mine.commit()
        with self.db.cursor() as cr:
            cr.execute("SELECT token, count(*) FROM cp_test_workers GROUP BY token")
            self.assertEqual(dict(cr.fetchall()), {"theirs": 2, "mine": self.ROWS - 2})


@tagged("post_install", "-at_install")
class TestCustomerReservation(CollectionsCommon):
    """A customer another transaction is sending to (another cron worker, a *Send
    now*) is passed over, so that two workers share the work and never write to
    one customer at once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.partner_id.tz = "America/Santiago"
        cls.first, cls.second = (
            cls._cp_customer(name, tz="America/Santiago")
            for name in ("Cliente Reservado", "Cliente Libre")
        )
        for customer in (cls.first, cls.second):
            cls._cp_invoice(customer, 1000, date(2026, 2, 18), date(2026, 3, 20))

    def _states(self, customer):
        return (
            self.env["collection.reminder"]
            .search([("partner_id", "=", customer.id)])
            .mapped("state")
        )

    def test_a_customer_another_transaction_sends_to_is_passed_over(self):
        other = sql_db.db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(other.close)
        other.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [SENDING_LOCK, self.first.id]
        )
        send_now = self.first.with_user(self.collector).action_collection_send_now
        # Tuesday 17 March, 10:00 in Santiago: both notices are due.
        with freeze_time(datetime(2026, 3, 17, 13)):
            result = self.env["collection.reminder"]._cron_send_reminders()
            self.assertEqual(result, {"done": 1, "remaining": 1})
            notification = send_now()
        self.assertIn(
            "sending this customer's reminders", notification["params"]["message"]
        )
        self.assertEqual(self._states(self.first), ["planned"])
        self.assertEqual(self._states(self.second), ["sent"])
        # The other transaction ends: the customer is free again.
        other.rollback()
        with freeze_time(datetime(2026, 3, 17, 13, 5)):
            notification = send_now()
        self.assertEqual(self._states(self.first), ["sent"])
        self.assertIn("1 reminder(s) sent", notification["params"]["message"])
