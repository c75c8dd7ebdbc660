"""Fuzzing late interest: the settings and the invoicing wizard (see
fuzz_common.py)."""

import traceback
import unittest
from datetime import date, timedelta

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import CollectionsCommon
from .fuzz_common import (
    BACK_OFFICE_EXAMPLES,
    FuzzMixin,
    fuzz_settings,
    fuzz_strategies,
    given,
    st,
)


@unittest.skipIf(st is None, "hypothesis is not installed")
@tagged("post_install", "-at_install")
class TestFuzzInterest(FuzzMixin, CollectionsCommon):
    """Hostile settings and callers given to *Invoice Interest*: it makes one
    interest invoice of what accrued and was not yet invoiced, or is refused
    with a UserError (or a kind of it) and writes nothing; a second click never
    invoices the same interest again."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.today = fields.Date.context_today(cls.env.user)
        cls.customer = cls._cp_customer("Cliente Fuzz Interés")
        cls.other = cls._cp_customer("Otro Fuzz Interés")
        past = cls.today - timedelta(days=60)
        cls._cp_invoice(cls.customer, 900, past, cls.today - timedelta(days=30))
        cls._cp_invoice(cls.customer, 300, past, cls.today + timedelta(days=10))
        cls._cp_invoice(cls.other, 500, past, cls.today - timedelta(days=5))
        cls.env["collection.case"]._sync_cases(cls.company)
        cls.case_records = cls.env["collection.case"].search(
            [("partner_id", "in", (cls.customer | cls.other).ids)]
        )
        cls.portal_user = cls.env["res.users"].create(
            {
                "name": "Portal Fuzz Interés",
                "login": "cp_fuzz_interest_portal",
                "groups_id": [Command.set(cls.env.ref("base.group_portal").ids)],
            }
        )
        cls.staff = (cls.collector, cls.collections_manager)
        cls.income = cls.company_data["default_account_revenue"]
        cls.expense = cls.company_data["default_account_expense"]

    def _counts(self):
        self.env.invalidate_all()
        return (
            self.env["account.move"].sudo().search_count([]),
            self.env["collection.interest.charge"].sudo().search_count([]),
            self.env["ir.attachment"].sudo().search_count([]),
        )

    def test_fuzz_interest_wizard(self):
        numbers = st.one_of(
            st.sampled_from([3.0, 3.0, 36.0, 0.0, -0.0, 0.001, -1.0, 999.99, 1e15]),
            st.floats(
                min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False
            ),
        )

        invoiced = []

        @given(
            user=st.sampled_from(
                [self.collector] * 3 + [self.collections_manager, self.portal_user]
            ),
            target=st.one_of(
                st.sampled_from(self.case_records.ids).map(
                    lambda case_id: ("collection.case", [case_id])
                ),
                st.sampled_from(
                    [self.customer.id, self.other.id, 0, -1, 2**31 + 5]
                ).map(lambda partner_id: ("res.partner", [partner_id])),
                st.just(("collection.case", self.case_records.ids)),
                st.just(("account.move", [1])),
            ),
            settings=st.fixed_dictionaries(
                {
                    "collection_interest_enabled": st.booleans(),
                    "collection_interest_rate": numbers,
                    "collection_interest_period": st.sampled_from(["month", "year"]),
                    "collection_interest_grace_days": st.one_of(
                        st.sampled_from([0, 0, 5]), st.integers(-10, 5000)
                    ),
                    "collection_interest_start": st.sampled_from(["due", "grace"]),
                    "collection_interest_min_amount": numbers,
                    "collection_fee_percent": st.one_of(
                        st.sampled_from([0.0, 1.0, 1.0]), numbers
                    ),
                    "collection_interest_post": st.booleans(),
                    "collection_interest_account_id": st.sampled_from(
                        [self.income.id, False]
                    ),
                }
            ),
        )
        @fuzz_settings(BACK_OFFICE_EXAMPLES)
        @self._in_example("interest_wizard")
        def run(user, target, settings):
            before = self._counts()
            model, ids = target

            def call():
                self.company.sudo().write(settings)
                self.company.flush_recordset()
                wizard = (
                    self.env["collection.interest.wizard"]
                    .with_user(user)
                    .with_context(active_model=model, active_ids=ids)
                    .create({})
                )
                return wizard, wizard.action_invoice()

            try:
                with self.env.cr.savepoint():
                    wizard, action = call()
                    self.env.flush_all()
            except UserError:
                self.env.invalidate_all()
                self.assertEqual(self._counts(), before, "a refusal writes nothing")
                return
            except Exception as error:  # noqa: BLE001 - any other is the finding
                self.fail(
                    f"{type(error).__name__} instead of a UserError\n"
                    + "".join(traceback.format_exception(error))
                )
            self.assertIn(user, self.staff)
            invoiced.append(wizard.id)
            move = self.env["account.move"].sudo().browse(action["res_id"])
            self.assertTrue(move.collection_interest_invoice)
            self.assertEqual(
                move.state,
                "posted" if settings["collection_interest_post"] else "draft",
            )
            charges = move.collection_interest_charge_ids
            self.assertTrue(charges)
            self.assertAlmostEqual(sum(charges.mapped("amount")), move.amount_total)
            for line in charges.move_line_id:
                self.assertLessEqual(
                    line.collection_interest_charged,
                    line.collection_interest_accrued + 0.001,
                )
                self.assertLessEqual(
                    line.collection_fee_charged, line.collection_fee_accrued + 0.001
                )
            # A second click the same day invoices nothing more.
            after = self._counts()
            with self.assertRaises(UserError), self.env.cr.savepoint():
                (
                    self.env["collection.interest.wizard"]
                    .with_user(user)
                    .with_context(active_model=model, active_ids=ids)
                    .create({})
                    .action_invoice()
                )
            self.assertEqual(self._counts(), after)

        self._run("interest_wizard", BACK_OFFICE_EXAMPLES, run)
        self.assertTrue(invoiced, "some examples reached an interest invoice")

    def test_fuzz_interest_rate_table(self):
        """collection.interest.rate: a managers' table; hostile rates, dates,
        companies and texts are stored sane or refused with a message, and a
        collector (read only) or a portal user cannot write it."""
        other_company = self.setup_other_company(name="Otra Empresa Tasas")["company"]
        text, hostile_text, _number = fuzz_strategies()

        @given(
            user=st.sampled_from(
                [self.collections_manager] * 3 + [self.collector, self.portal_user]
            ),
            values=st.fixed_dictionaries(
                {
                    "company_id": st.sampled_from(
                        [self.company.id, False, other_company.id]
                    ),
                    "date_from": st.one_of(
                        st.just(self.today),
                        st.dates(),
                        st.sampled_from([date.min, date.max]),
                    ),
                    "rate": st.one_of(
                        st.sampled_from([24.5, 0.0, -1.0, 999.9999, 1000.0]),
                        st.floats(
                            min_value=-1e12,
                            max_value=1e12,
                            allow_nan=False,
                            allow_infinity=False,
                        ),
                    ),
                    "operation": st.one_of(text, hostile_text),
                    "source": st.one_of(text, hostile_text),
                }
            ),
        )
        @fuzz_settings(BACK_OFFICE_EXAMPLES)
        @self._in_example("interest_rate")
        def run(user, values):
            Rate = self.env["collection.interest.rate"].sudo()
            before = Rate.search_count([])
            values = {
                key: value.replace("\x00", "") if isinstance(value, str) else value
                for key, value in values.items()
            }
            try:
                with self.env.cr.savepoint():
                    rate = (
                        self.env["collection.interest.rate"]
                        .with_user(user)
                        .create(values)
                    )
                    self.env.flush_all()
            except UserError:
                self.env.invalidate_all()
                self.assertEqual(Rate.search_count([]), before)
                return
            except Exception as error:  # noqa: BLE001 - any other is the finding
                self.fail(
                    f"{type(error).__name__} instead of a UserError\n"
                    + "".join(traceback.format_exception(error))
                )
            self.assertEqual(user, self.collections_manager)
            self.assertTrue(0 <= rate.rate < 1000)
            self.assertNotEqual(rate.company_id, other_company)

        self._run("interest_rate", BACK_OFFICE_EXAMPLES, run)
