from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import TransactionCase, tagged


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
