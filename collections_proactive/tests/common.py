from datetime import date, timedelta

from freezegun import freeze_time

from odoo import Command, fields, http
from odoo.tests import HttpCase, new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.mail.tests.common import mail_new_test_user

# The portal customer's RUT, a valid Chilean tax id.
RUT = "76.086.428-5"


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


class PortalCommon(CollectionsCommon, HttpCase):
    """Two customers, each with a portal user (a contact of the customer), and
    invoices overdue and due soon, dated from today (the browser's clock is
    real)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref(
            "collections_proactive.group_collections_manager"
        )
        cls.today = fields.Date.context_today(cls.env.user)
        chile = cls.env.ref("base.cl")
        cls.customer = cls._cp_customer(
            "Cliente Portal", country_id=chile.id, vat=RUT, lang="en_US"
        )
        cls.other = cls._cp_customer("Otro Cliente", country_id=chile.id)
        cls.portal_user = cls._portal_user("cp_portal", cls.customer)
        cls.other_user = cls._portal_user("cp_portal_other", cls.other)
        cls.overdue = cls._cp_invoice(
            cls.customer,
            900,
            cls.today - timedelta(days=50),
            cls.today - timedelta(days=20),
        ) | cls._cp_invoice(
            cls.customer,
            300,
            cls.today - timedelta(days=35),
            cls.today - timedelta(days=5),
        )
        cls.soon = cls._cp_invoice(
            cls.customer,
            120,
            cls.today - timedelta(days=20),
            cls.today + timedelta(days=10),
        )
        cls.other_invoice = cls._cp_invoice(
            cls.other,
            500,
            cls.today - timedelta(days=40),
            cls.today - timedelta(days=10),
        )
        cls.company.collection_escalation_user_id = cls.collections_manager

    @classmethod
    def _agree_early(cls, customer, days):
        """Let ``customer`` promise a date for, or ask for a plan on, what falls
        due within ``days`` (0: what is overdue only), as its band's plan
        policy says (30 days as shipped)."""
        cls.env["collection.plan.policy"]._for_partner(
            customer, cls.company
        ).early_days = days

    @classmethod
    def _portal_user(cls, login, customer):
        user = new_test_user(
            cls.env,
            login=login,
            name=f"{customer.name} Portal",
            email=f"{login}@example.com",
            groups="base.group_portal",
        )
        user.partner_id.parent_id = customer
        return user

    @classmethod
    def _cp_portal_plan(cls, partner, invoices, active=False):
        """A proposed plan of ``partner``'s ``invoices`` in three monthly
        installments from next week; accepted by phone when ``active``."""
        plan = cls.env["collection.payment.plan"].create(
            {
                "partner_id": partner.id,
                "invoice_ids": [Command.set(invoices.ids)],
                "installment_count": 3,
                "frequency": "monthly",
                "first_date": cls.today + timedelta(days=7),
            }
        )
        plan.action_propose()
        if active:
            plan.action_record_acceptance("María Pérez", note="Por teléfono")
        return plan

    def _plan(self, state="proposed", **values):
        plan = self.env["collection.payment.plan"].create(
            {
                "partner_id": self.customer.id,
                "invoice_ids": [Command.set(self.overdue.ids)],
                "installment_count": 3,
                "frequency": "monthly",
                "first_date": self.today + timedelta(days=7),
                **values,
            }
        )
        plan.action_propose()
        if state == "active":
            plan.action_record_acceptance("María Pérez", note="Por teléfono")
        return plan

    def _post(self, url, data):
        return self.url_open(
            url, data={**data, "csrf_token": http.Request.csrf_token(self)}
        )
