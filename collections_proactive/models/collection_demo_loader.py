import logging
import random
import unicodedata
from datetime import timedelta

from stdnum.cl import rut as cl_rut

from odoo import Command, api, fields, models

_logger = logging.getLogger(__name__)

DEMO_XMLID_PREFIX = "collections_proactive.demo_"

# Each profile says how many days after the due date a customer pays, as a
# (low, high) range drawn uniformly; "deteriorating" switches to its second range
# for the last ``RECENT_MONTHS`` months, which is the drift the risk model must catch.
PAYER_PROFILES = {
    "early": {"delay": (-12, -3), "partial": 0.0, "refund": 0.05},
    "on_time": {"delay": (-2, 2), "partial": 0.1, "refund": 0.15},
    "slightly_late": {"delay": (3, 15), "partial": 0.2, "refund": 0.05},
    "chronic": {"delay": (30, 75), "partial": 0.35, "refund": 0.0},
    "deteriorating": {
        "delay": (-3, 2),
        "recent_delay": (20, 50),
        "partial": 0.2,
        "refund": 0.0,
    },
}
RECENT_MONTHS = 4
HISTORY_MONTHS = 12

FIRST_NAMES = [
    "Comercial",
    "Distribuidora",
    "Ferretería",
    "Importadora",
    "Constructora",
    "Panadería",
    "Farmacia",
    "Transportes",
    "Agrícola",
    "Librería",
]
LAST_NAMES = [
    "Los Andes",
    "Pacífico Sur",
    "Valparaíso",
    "Atacama",
    "Biobío",
    "Araucanía",
    "Maule",
    "Aconcagua",
    "Magallanes",
    "Tarapacá",
    "Elqui",
    "Osorno",
    "Chiloé",
    "Rapel",
    "Limarí",
]
LEGAL_FORMS = ["SpA", "Ltda.", "S.A.", "EIRL"]
CITIES = ["Santiago", "Valparaíso", "Concepción", "La Serena", "Temuco", "Antofagasta"]


class CollectionDemoLoader(models.AbstractModel):
    """Builds the demo company and its year of invoicing and payments.

    Called from the demo data file only, so a production database never gets it.
    Everything is drawn from a seeded generator and dated relative to today, so two
    installs on the same day produce the same story.
    """

    _name = "collection.demo.loader"
    _description = "Collections Demo Data Loader"

    @api.model
    def _load_demo(self, customers_per_profile=6, seed=20261123, translations=True):
        if self.env.ref(DEMO_XMLID_PREFIX + "company", raise_if_not_found=False):
            return
        rng = random.Random(seed)
        company = self._demo_create_company(translations)
        loader = self.with_company(company).with_context(
            tracking_disable=True, mail_create_nolog=True, mail_notrack=True
        )
        partners = loader._demo_create_customers(rng, company, customers_per_profile)
        invoices, refunds, payment_plan = loader._demo_create_invoices(
            rng, company, partners
        )
        loader._demo_create_payments(company, payment_plan)
        # Scores from the start, so the demo opens on bands and predictions.
        self.env["collection.risk.scoring"]._compute_risk(companies=company)
        loader._demo_create_collectors(company)
        loader._demo_create_portal(company)
        # And the board on its cases.
        self.env["collection.case"]._sync_cases(company)
        _logger.info(
            "Collections demo: %s customers, %s invoices, %s credit notes, "
            "%s payments in %s",
            len(partners),
            len(invoices),
            len(refunds),
            len(payment_plan),
            company.name,
        )

    # ------------------------------------------------------------------
    # Company, customers
    # ------------------------------------------------------------------

    def _demo_create_collectors(self, company):
        """Share the demo customers between the administrator and the demo user,
        as collectors, by an assignment rule."""
        # Demo data is a system job, whoever loads it.
        self = self.sudo()  # noqa: PLW0642
        users = self.env.ref("base.user_admin")
        demo = self.env.ref("base.user_demo", raise_if_not_found=False)
        if demo:
            demo.write(
                {
                    "company_ids": [Command.link(company.id)],
                    "groups_id": [
                        Command.link(
                            self.env.ref(
                                "collections_proactive.group_collections_user"
                            ).id
                        )
                    ],
                }
            )
            users |= demo
        self.env["collection.assignment.rule"].create(
            {"company_id": company.id, "user_ids": [Command.set(users.ids)]}
        )

    def _demo_create_portal(self, company):
        """A customer to try the portal as (login and password ``portal_cliente``):
        a proposed payment plan for its overdue invoices waits for its signature,
        and the demo payment provider takes its payments in test mode."""
        self = self.sudo()  # noqa: PLW0642
        today = fields.Date.context_today(self)
        overdue = self.env["account.move"].search(
            [
                ("company_id", "=", company.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
                ("invoice_date_due", "<", today),
            ],
            order="invoice_date_due desc",
        )
        customer = overdue[:1].commercial_partner_id
        if not customer:
            return
        user = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": self.env._("%(customer)s (portal)", customer=customer.name),
                    "login": "portal_cliente",
                    "password": "portal_cliente",
                    "email": customer.email,
                    "company_id": company.id,
                    "company_ids": [Command.set(company.ids)],
                    "groups_id": [Command.set([self.env.ref("base.group_portal").id])],
                }
            )
        )
        user.partner_id.write({"parent_id": customer.id, "lang": customer.lang})
        self._demo_ref(user, "portal_user")
        invoices = overdue.filtered(lambda move: move.commercial_partner_id == customer)
        invoices.message_subscribe(customer.ids)
        plan = self.env["collection.payment.plan"].create(
            {
                "partner_id": customer.id,
                "company_id": company.id,
                "invoice_ids": [Command.set(invoices.ids)],
                "installment_count": 3,
                "first_date": today + timedelta(days=7),
            }
        )
        # Proposed as the administrator (a collections manager), whatever the
        # customer's band.
        plan.with_user(self.env.ref("base.user_admin")).action_propose()
        self._demo_ref(plan, "payment_plan")
        provider = self.env.ref("payment.payment_provider_demo", False)
        if provider and provider.code == "demo":
            provider.copy(
                {"company_id": company.id, "state": "test", "is_published": True}
            )

    def _demo_ref(self, records, name):
        self.env["ir.model.data"]._update_xmlids(
            [
                {
                    "xml_id": DEMO_XMLID_PREFIX + name,
                    "record": records,
                    "noupdate": True,
                }
            ]
        )

    def _demo_create_company(self, translations):
        clp = self.env.ref("base.CLP")
        chile = self.env.ref("base.cl")
        clp.active = True
        if not self.env["res.lang"]._lang_get("es_CL").active:
            self.env["res.lang"]._activate_lang("es_CL")
            if translations:
                # As the language wizard does; this addon's own terms are loaded
                # by Odoo right after its demo data, for every active language.
                self.env["ir.module.module"].search(
                    [("state", "=", "installed")]
                )._update_translations("es_CL")
        company_vals = {
            "name": "Proactiva Distribuciones SpA",
            "currency_id": clp.id,
            "country_id": chile.id,
            "vat": cl_rut.format("760864285"),
            "street": "Av. Apoquindo 4501, of. 1202",
            "city": "Santiago",
            "zip": "7550000",
            "email": "cobranza@proactiva.example.com",
            "phone": "+56 2 2345 6789",
        }
        if "iap_enrich_auto_done" in self.env["res.company"]._fields:
            # partner_autocomplete would look the fictitious company up online.
            company_vals["iap_enrich_auto_done"] = True
        # A Chilean company would install l10n_cl, whose electronic documents the
        # demo does not need; the generic chart keeps the demo within our depends.
        company = (
            self.env["res.company"]
            .with_context(chart_template_load=True)
            .create(company_vals)
        )
        self._demo_ref(company, "company")
        # Demo data loads while the registry is still being built, where try_loading()
        # warns; every module the chart needs is one we depend on, so load it directly.
        self.env["account.chart.template"]._load(
            "generic_coa", company, install_demo=False
        )
        # The generic chart brings the United States' fiscal country and currency.
        company.write({"account_fiscal_country_id": chile.id, "currency_id": clp.id})
        admin = self.env.ref("base.user_admin")
        # The demo opens on the Chilean company so its story is what one sees first.
        admin.write(
            {"company_ids": [Command.link(company.id)], "company_id": company.id}
        )
        self.env.user.write({"company_ids": [Command.link(company.id)]})

        env = self.with_company(company).env
        tax_group = env["account.tax.group"].create(
            {"name": "IVA", "company_id": company.id, "country_id": chile.id}
        )
        env["account.tax"].create(
            {
                "name": "IVA 19%",
                "tax_group_id": tax_group.id,
                "amount": 19.0,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "company_id": company.id,
                "country_id": chile.id,
            }
        )
        # Receipts are booked straight on the bank account: without bank
        # reconciliation (community) this marks invoices paid, as a small Chilean
        # company without bank feeds would do.
        bank = env["account.journal"].search(
            [("company_id", "=", company.id), ("type", "=", "bank")], limit=1
        )
        bank.inbound_payment_method_line_ids.payment_account_id = (
            bank.default_account_id
        )
        return company

    def _demo_create_customers(self, rng, company, customers_per_profile):
        names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
        rng.shuffle(names)
        ruts = set()
        vals_list, keys = [], []
        for profile in PAYER_PROFILES:
            for index in range(1, customers_per_profile + 1):
                while True:
                    body = str(rng.randint(76_000_000, 77_999_999))
                    if body not in ruts:
                        ruts.add(body)
                        break
                rut = cl_rut.format(body + cl_rut.calc_check_digit(body))
                name = f"{names.pop()} {rng.choice(LEGAL_FORMS)}"
                slug = (
                    unicodedata.normalize("NFKD", name.split(" ")[0].lower())
                    .encode("ascii", "ignore")
                    .decode()
                )
                # One customer in six reads English, so translated reminders show.
                lang = "en_US" if index == customers_per_profile else "es_CL"
                mobile = f"+56 9 {rng.randint(5000, 9999)} {rng.randint(1000, 9999)}"
                vals_list.append(
                    {
                        "name": name,
                        "is_company": True,
                        "company_id": False,
                        "vat": rut,
                        "country_id": self.env.ref("base.cl").id,
                        "city": rng.choice(CITIES),
                        "street": f"Calle {rng.choice(LAST_NAMES)} "
                        f"{rng.randint(100, 3999)}",
                        "email": f"pagos.{slug}{len(vals_list) + 1}@example.com",
                        "phone": mobile,
                        "mobile": mobile,
                        "lang": lang,
                        "tz": "America/Santiago",
                        "customer_rank": 1,
                        "comment": self.env._(
                            "Demo payer profile: %(profile)s", profile=profile
                        ),
                    }
                )
                keys.append((profile, index))
        partners = self.env["res.partner"].create(vals_list)
        for partner, (profile, index) in zip(partners, keys, strict=True):
            self._demo_ref(partner, f"customer_{profile}_{index:02d}")
        return partners.with_company(company)

    # ------------------------------------------------------------------
    # Invoices and payments
    # ------------------------------------------------------------------

    def _demo_profile(self, partner):
        xmlid = partner.get_external_id()[partner.id]
        return xmlid.removeprefix(DEMO_XMLID_PREFIX + "customer_").rsplit("_", 1)[0]

    def _demo_create_invoices(self, rng, company, partners):
        """Monthly invoices over the history window and the payments they will get.

        Returns the posted invoices and credit notes, and a list of
        ``(invoice, amount, date)`` payments to register, in date order.
        """
        today = fields.Date.context_today(self)
        start = today - timedelta(days=HISTORY_MONTHS * 30)
        journal = self.env["account.journal"].search(
            [("company_id", "=", company.id), ("type", "=", "sale")], limit=1
        )
        tax = self.env["account.tax"].search(
            [("company_id", "=", company.id), ("name", "=", "IVA 19%")], limit=1
        )
        invoice_vals, plans = [], []
        for partner in partners:
            profile = PAYER_PROFILES[self._demo_profile(partner)]
            term = rng.choice([15, 30, 30, 30, 45])
            base_amount = rng.randint(20, 300) * 10_000
            for month in range(HISTORY_MONTHS + 1):
                invoice_date = start + timedelta(days=month * 30 + rng.randint(0, 27))
                if invoice_date > today:
                    continue
                due = invoice_date + timedelta(days=term)
                recent = (today - invoice_date).days < RECENT_MONTHS * 30
                low, high = (
                    profile.get("recent_delay")
                    if recent and ("recent_delay" in profile)
                    else profile["delay"]
                )
                pay_date = max(
                    due + timedelta(days=rng.randint(low, high)),
                    invoice_date + timedelta(days=1),
                )
                price = round(base_amount * rng.uniform(0.6, 1.4), -3)
                invoice_vals.append(
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner.id,
                        "journal_id": journal.id,
                        "invoice_date": invoice_date,
                        "invoice_date_due": due,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": self.env._(
                                        "Monthly supply, %(month)s",
                                        month=invoice_date.strftime("%m/%Y"),
                                    ),
                                    "quantity": 1,
                                    "price_unit": price,
                                    "tax_ids": [Command.set(tax.ids)],
                                }
                            )
                        ],
                    }
                )
                plans.append(
                    {
                        "pay_date": pay_date,
                        "partial": rng.random() < profile["partial"],
                        "refund": rng.random() < profile["refund"],
                        "split": rng.uniform(0.3, 0.7),
                    }
                )
        order = sorted(
            range(len(invoice_vals)), key=lambda i: invoice_vals[i]["invoice_date"]
        )
        invoice_vals = [invoice_vals[i] for i in order]
        plans = [plans[i] for i in order]
        invoices = self.env["account.move"]
        for batch in range(0, len(invoice_vals), 100):
            moves = self.env["account.move"].create(invoice_vals[batch : batch + 100])
            moves.action_post()
            invoices |= moves

        refund_vals, refunded = [], []
        payments = []
        for invoice, plan in zip(invoices, plans, strict=True):
            remaining = invoice.amount_total
            if plan["refund"]:
                # A tenth credited back a few days later: a returned item.
                credit = round(invoice.amount_untaxed * 0.1, -3)
                refund_vals.append(
                    {
                        "move_type": "out_refund",
                        "partner_id": invoice.partner_id.id,
                        "journal_id": journal.id,
                        "invoice_date": min(
                            invoice.invoice_date + timedelta(days=5), today
                        ),
                        "reversed_entry_id": invoice.id,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": self.env._("Returned goods"),
                                    "quantity": 1,
                                    "price_unit": credit,
                                    "tax_ids": [Command.set(tax.ids)],
                                }
                            )
                        ],
                    }
                )
                refunded.append(invoice)
                remaining -= company.currency_id.round(credit * 1.19)
            pay_date = plan["pay_date"]
            if plan["partial"]:
                first = company.currency_id.round(remaining * plan["split"])
                first_date = min(
                    invoice.invoice_date + (pay_date - invoice.invoice_date) / 2, today
                )
                payments.append((invoice, first, first_date))
                remaining -= first
            if pay_date <= today:
                payments.append((invoice, remaining, pay_date))
        refunds = self.env["account.move"].create(refund_vals)
        refunds.action_post()
        for refund, invoice in zip(refunds, refunded, strict=True):
            (refund.line_ids | invoice.line_ids).filtered(
                lambda line: (
                    line.account_id.account_type == "asset_receivable"
                    and not line.reconciled
                )
            ).reconcile()
        payments.sort(key=lambda payment: payment[2])
        return invoices, refunds, payments

    def _demo_create_payments(self, company, payment_plan):
        journal = self.env["account.journal"].search(
            [("company_id", "=", company.id), ("type", "=", "bank")], limit=1
        )
        for batch in range(0, len(payment_plan), 100):
            chunk = payment_plan[batch : batch + 100]
            payments = self.env["account.payment"].create(
                [
                    {
                        "payment_type": "inbound",
                        "partner_type": "customer",
                        "partner_id": invoice.partner_id.id,
                        "amount": amount,
                        "date": date,
                        "journal_id": journal.id,
                        "memo": invoice.name,
                    }
                    for invoice, amount, date in chunk
                ]
            )
            payments.action_post()
            # Each reconcile below runs Odoo's payment-state query over the lines
            # and partials written so far in this transaction; with statistics of
            # the tables as they were before, PostgreSQL may plan it for empty
            # tables and take minutes on a few thousand rows.
            self.env.flush_all()
            self.env.cr.execute(
                "ANALYZE account_move, account_move_line, account_partial_reconcile"
            )
            for payment, (invoice, _amount, _date) in zip(payments, chunk, strict=True):
                (payment.move_id.line_ids | invoice.line_ids).filtered(
                    lambda line: (
                        line.account_id.account_type == "asset_receivable"
                        and not line.reconciled
                    )
                ).reconcile()
