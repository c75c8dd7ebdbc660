from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.tests import new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.mail.tests.common import mail_new_test_user


class CollectionsCommon(AccountTestInvoicingCommon):
    """Base for the addon's tests: customers, invoices with chosen dates, payments.

    Everything is made through the ORM as a user would (invoices posted, payments
    registered through Odoo's own wizard and reconciled), so what the tests measure
    is what production data looks like.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.company_data["company"]
        cls.currency = cls.company.currency_id
        cls.collector = new_test_user(
            cls.env,
            login="cp_collector",
            name="Carla Collector",
            email="carla.collector@example.com",
            groups="base.group_user,collections_proactive.group_collections_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.collections_manager = mail_new_test_user(
            cls.env,
            login="cp_manager",
            name="Manuel Manager",
            email="manuel.manager@example.com",
            groups="base.group_user,collections_proactive.group_collections_manager",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )

    @classmethod
    def _cp_customer(cls, name="Customer", **values):
        return cls.env["res.partner"].create(
            {
                "name": name,
                "is_company": True,
                "email": f"{name.lower().replace(' ', '.')}@example.com",
                "customer_rank": 1,
                **values,
            }
        )

    @classmethod
    def _cp_invoice(
        cls,
        partner,
        amount,
        invoice_date,
        due_date=None,
        move_type="out_invoice",
        company=None,
        post=True,
    ):
        """A one-line customer invoice (or credit note) for ``amount`` untaxed.

        ``due_date`` defaults to the invoice date; no tax, so the total is the amount.
        """
        company = company or cls.company
        move = (
            cls.env["account.move"]
            .with_company(company)
            .create(
                {
                    "move_type": move_type,
                    "partner_id": partner.id,
                    "invoice_date": invoice_date,
                    "invoice_date_due": due_date or invoice_date,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": "Goods",
                                "quantity": 1,
                                "price_unit": amount,
                                "tax_ids": [Command.clear()],
                            }
                        )
                    ],
                }
            )
        )
        if post:
            move.action_post()
        return move

    @classmethod
    def _cp_pay(cls, invoices, amount=None, payment_date=None):
        """Register a payment on ``invoices`` as a user would, returns the payment."""
        wizard = (
            cls.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoices.ids)
            .create(
                {
                    "payment_date": payment_date or date.today(),
                    **({"amount": amount} if amount is not None else {}),
                    "group_payment": True,
                }
            )
        )
        return wizard._create_payments()

    @classmethod
    def _cp_accepted_plan(cls, partner, invoices, first_date, on, **values):
        """A monthly plan of three installments for ``invoices`` from
        ``first_date``, proposed and accepted by phone at ``on`` (frozen)."""
        with freeze_time(on):
            plan = cls.env["collection.payment.plan"].create(
                {
                    "partner_id": partner.id,
                    "invoice_ids": [Command.set(invoices.ids)],
                    "installment_count": 3,
                    "frequency": "monthly",
                    "first_date": first_date,
                    **values,
                }
            )
            plan.action_propose()
            plan.action_record_acceptance("María Pérez", note="Por teléfono")
        return plan

    @classmethod
    def _cp_history(cls, partner, rows, company=None):
        """Posted invoices and their payments from ``(invoice_date, due, paid_on,
        amount)`` rows, ``paid_on`` None for unpaid; payments are registered and
        reconciled in batch. Returns the invoices in row order."""
        company = company or cls.company
        invoices = cls.env["account.move"]
        for invoice_date, due, _paid_on, amount in rows:
            invoices |= cls._cp_invoice(
                partner, amount, invoice_date, due, company=company, post=False
            )
        invoices.action_post()
        cls.env["collection.demo.loader"].with_company(company)._demo_create_payments(
            company,
            [
                (invoice, row[3], row[2])
                for invoice, row in zip(invoices, rows, strict=True)
                if row[2]
            ],
        )
        return invoices
