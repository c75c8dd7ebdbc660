import base64
import logging
import random
import unicodedata
from collections import defaultdict
from datetime import datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from markupsafe import Markup
from stdnum.cl import rut as cl_rut

from odoo import Command, api, fields, models
from odoo.tools import SQL, file_open, format_amount, format_date

from ..tools import contact_policy as cp

_logger = logging.getLogger(__name__)

DEMO_XMLID_PREFIX = "collections_proactive.demo_"
DEMO_DOMAIN = "proactiva.example"
DEMO_TZ = "America/Santiago"

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

# The strategy (by risk band) a profile's invoices were reminded under; the
# deteriorating customers were low risk until they drifted.
HISTORY_BANDS = {
    "early": "low",
    "on_time": "low",
    "slightly_late": "medium",
    "chronic": "high",
    "deteriorating": "low",
}
# Promises to pay in the history, on invoices paid at least ``PROMISE_MIN_DELAY``
# days late: (share of those invoices with a promise, share of promises kept).
PROMISE_ODDS = {
    "slightly_late": (0.3, 1.0),
    "chronic": (0.6, 0.6),
    "deteriorating": (0.6, 0.5),
}
PROMISE_MIN_DELAY = 8
# Payment plans of the story: (state, candidate customers, days between the due
# date of the invoice it covers and today). Done long ago; broken today, its
# second installment unpaid past the policy's days; active, its second
# installment falling due in the coming days.
PLAN_SCENARIOS = [
    ("done", [("chronic", 1)], 210),
    ("broken", [("deteriorating", 1)], 80),
    ("active", [("chronic", 2), ("slightly_late", 1), ("on_time", 1)], 60),
]
# Customers who asked for fewer reminders: (profile, index, opted out of).
OPT_OUTS = [
    ("slightly_late", 1, ("email", "sms")),
    ("deteriorating", 2, ("sms",)),
    ("on_time", 1, ("sms",)),
]
OPT_OUT_DAYS = 120
# Share of the written reminders the mail or SMS provider could not deliver, and
# what it said.
FAILURE_RATE = 0.05
EMAIL_FAILURES = [
    "550 5.1.1 <{email}>: Recipient address rejected: User unknown",
    "552 5.2.2 <{email}>: Mailbox full",
    "421 4.7.0 Try again later, closing connection",
]
SMS_FAILURES = ["sms_number_format", "sms_server"]
# Who signed the plans of the story, for the customer.
SIGNERS = ["María José Soto", "Pedro Muñoz Araya", "Carolina Vega Rivas"]

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
    """Builds the demo company and its year of invoicing, payments and collection.

    Called from the demo data file only, so a production database never gets it.
    Everything is drawn from a seeded generator and dated relative to today, so two
    installs on the same day produce the same story: a Chilean company (the
    Chilean chart and 19% VAT when ``l10n_cl`` is installed, else the generic chart
    with the same tax), a collector and a collections manager who work in it, and
    a year of reminders sent, failed and skipped, promises kept and broken and
    payment plans done, broken and active, so that every KPI has figures.
    """

    _name = "collection.demo.loader"
    _description = "Collections Demo Data Loader"

    @api.model
    def _load_demo(self, customers_per_profile=6, seed=20261123, translations=True):
        if self.env.ref(DEMO_XMLID_PREFIX + "company", raise_if_not_found=False):
            return
        # Demo data is a system job, whoever loads it (a test's user, a shell).
        self = self.sudo()  # noqa: PLW0642
        rng = random.Random(seed)
        company = self._demo_create_company(translations)
        loader = self.with_company(company).with_context(
            tracking_disable=True, mail_create_nolog=True, mail_notrack=True
        )
        users = loader._demo_create_users(company)
        partners, keys = loader._demo_create_customers(
            rng, company, customers_per_profile
        )
        invoices, refunds, payments, scenarios = loader._demo_create_invoices(
            rng, company, partners, keys
        )
        plans, plan_payments = loader._demo_create_plans(rng, company, scenarios)
        payments = sorted(payments + plan_payments, key=lambda payment: payment[2])
        loader._demo_create_payments(company, payments)
        ledger = loader._demo_ledger(invoices, refunds, payments, keys)
        for invoice in scenarios.values():
            ledger[invoice.id]["scenario"] = True
        promises = loader._demo_history_promises(rng, company, ledger, users)
        optouts = loader._demo_opt_outs(partners, keys)
        reminders = loader._demo_history_reminders(
            rng, company, ledger, promises, plans, optouts
        )
        # Scores from the start, so the demo opens on bands and predictions.
        self.env["collection.risk.scoring"]._compute_risk(companies=company)
        loader._demo_assign_collector(company, partners, users["collector"])
        self.env["collection.case"]._sync_cases(company)
        portal_customer = loader._demo_create_portal(
            company, users, {invoice.partner_id for invoice in scenarios.values()}
        )
        loader._demo_current_commitments(
            company,
            users,
            plans,
            keys,
            {plans[s].partner_id for s in ("broken", "active") if s in plans}
            | {portal_customer},
        )
        # Today's reminders, as the scheduled action plans and sends them: under
        # the contact policy, so some may wait (deferred) for the contact hours.
        Reminder = self.env["collection.reminder"].sudo()
        Reminder._plan_reminders(companies=company)
        Reminder.search(
            [
                ("company_id", "=", company.id),
                ("state", "=", "planned"),
                ("planned_date", "<=", fields.Datetime.now()),
            ]
        )._send()
        self.env["collection.case"]._sync_cases(company)
        _logger.info(
            "Collections demo: %s customers, %s invoices, %s credit notes, "
            "%s payments, %s reminders, %s promises, %s plans in %s",
            len(partners),
            len(invoices),
            len(refunds),
            len(payments),
            len(reminders),
            len(promises),
            len(plans),
            company.name,
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

    # ------------------------------------------------------------------
    # Company, users, customers
    # ------------------------------------------------------------------

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
            "state_id": (self.env.ref("base.state_cl_13", False) or chile.state_ids)[
                :1
            ].id,
            "zip": "7550000",
            "email": f"cobranzas@{DEMO_DOMAIN}",
            "phone": "+56 2 2345 6789",
            "website": f"https://www.{DEMO_DOMAIN}",
        }
        with file_open("collections_proactive/demo/proactiva_logo.png", "rb") as logo:
            company_vals["logo"] = base64.b64encode(logo.read())
        if "iap_enrich_auto_done" in self.env["res.company"]._fields:
            # partner_autocomplete would look the fictitious company up online.
            company_vals["iap_enrich_auto_done"] = True
        company = (
            self.env["res.company"]
            .with_context(chart_template_load=True)
            .create(company_vals)
        )
        self._demo_ref(company, "company")
        company.partner_id.write({"tz": DEMO_TZ, "lang": "es_CL"})
        self._demo_chilean_fields(company.partner_id)
        if "l10n_cl_activity_description" in company._fields:
            company.l10n_cl_activity_description = "Distribución de insumos"
        self._demo_load_chart(company)
        admin = self.env.ref("base.user_admin")
        # The demo opens on the Chilean company so its story is what one sees first.
        admin.write(
            {"company_ids": [Command.link(company.id)], "company_id": company.id}
        )
        self.env.user.write({"company_ids": [Command.link(company.id)]})
        # Receipts are booked straight on the bank account: without bank
        # reconciliation (community) this marks invoices paid, as a small Chilean
        # company without bank feeds would do.
        bank = self.env["account.journal"].search(
            [("company_id", "=", company.id), ("type", "=", "bank")], limit=1
        )
        bank.inbound_payment_method_line_ids.payment_account_id = (
            bank.default_account_id
        )
        return company

    def _demo_load_chart(self, company):
        """The Chilean chart of accounts and taxes (``l10n_cl``) when it is
        installed, which ``./dev.sh run`` does before this addon; otherwise the
        generic chart, set up as a Chilean company: CLP, Chile as fiscal country
        and 19% VAT (IVA) as the only sale tax."""
        chile = self.env.ref("base.cl")
        l10n_cl = self.env["ir.module.module"].search(
            [("name", "=", "l10n_cl"), ("state", "=", "installed")]
        )
        # Demo data loads while the registry is still being built, where
        # try_loading() warns; the chart's module is installed, so load it directly.
        template = "cl" if l10n_cl else "generic_coa"
        self.env["account.chart.template"]._load(template, company, install_demo=False)
        company.write(
            {
                "account_fiscal_country_id": chile.id,
                "currency_id": self.env.ref("base.CLP").id,
            }
        )
        env = self.with_company(company).env
        taxes = env["account.tax"].search([("company_id", "=", company.id)])
        sale = company.account_sale_tax_id
        if not (sale and sale.amount_type == "percent" and sale.amount == 19.0):
            tax_group = env["account.tax.group"].create(
                {"name": "IVA", "company_id": company.id, "country_id": chile.id}
            )
            sale, purchase = env["account.tax"].create(
                [
                    {
                        "name": f"IVA 19% {kind}",
                        "description": "IVA 19%",
                        "invoice_label": "IVA 19%",
                        "tax_group_id": tax_group.id,
                        "amount": 19.0,
                        "amount_type": "percent",
                        "type_tax_use": use,
                        "company_id": company.id,
                        "country_id": chile.id,
                    }
                    for kind, use in (("Venta", "sale"), ("Compra", "purchase"))
                ]
            )
            # The generic chart's taxes are another country's: archived.
            taxes.active = False
            company.write(
                {"account_sale_tax_id": sale.id, "account_purchase_tax_id": purchase.id}
            )
        return sale

    def _demo_chilean_fields(self, partners):
        """RUT as identification type and VAT taxpayer (first category), the
        fields ``l10n_cl`` adds, when it is installed."""
        values = {}
        if "l10n_cl_sii_taxpayer_type" in partners._fields:
            values["l10n_cl_sii_taxpayer_type"] = "1"
        rut = self.env.ref("l10n_cl.it_RUT", raise_if_not_found=False)
        if rut and "l10n_latam_identification_type_id" in partners._fields:
            values["l10n_latam_identification_type_id"] = rut.id
        if values:
            partners.write(values)

    def _demo_create_users(self, company):
        """The collector (login and password ``cobrador``) and the collections
        manager (``jefe``), who work in the demo company only, in Spanish and in
        Santiago's time zone; the manager handles the escalations."""
        self = self.sudo()  # noqa: PLW0642 - demo data is a system job
        overview = self.env.ref(
            "collections_proactive.collection_overview_action", False
        )
        common = {
            "company_id": company.id,
            "company_ids": [Command.set(company.ids)],
            "lang": "es_CL",
            "tz": DEMO_TZ,
            "action_id": overview.id if overview else False,
        }
        people = [
            ("Camila Rojas", "cobrador", "camila.rojas", "group_collections_user"),
            ("Jorge Fuentes", "jefe", "jorge.fuentes", "group_collections_manager"),
        ]
        users = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                [
                    {
                        **common,
                        "name": name,
                        "login": login,
                        "password": login,
                        "email": f"{mailbox}@{DEMO_DOMAIN}",
                        "groups_id": [
                            Command.set(
                                self.env.ref(f"collections_proactive.{group}").ids
                            )
                        ],
                    }
                    for name, login, mailbox, group in people
                ]
            )
        )
        collector, manager = users
        self._demo_ref(collector, "user_collector")
        self._demo_ref(manager, "user_manager")
        company.collection_escalation_user_id = manager
        return {"collector": collector, "manager": manager}

    def _demo_create_customers(self, rng, company, customers_per_profile):
        """The customers, five payer profiles; returns them and
        ``{partner id: (profile, index)}``."""
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
                        "tz": DEMO_TZ,
                        "customer_rank": 1,
                        "comment": self.env._(
                            "Demo payer profile: %(profile)s", profile=profile
                        ),
                    }
                )
                keys.append((profile, index))
        partners = self.env["res.partner"].create(vals_list)
        self._demo_chilean_fields(partners)
        for partner, (profile, index) in zip(partners, keys, strict=True):
            self._demo_ref(partner, f"customer_{profile}_{index:02d}")
        return partners.with_company(company), dict(
            zip(partners.ids, keys, strict=True)
        )

    def _demo_assign_collector(self, company, partners, collector):
        """Every demo customer is the collector's, and so are new customers (an
        assignment rule)."""
        self.env["collection.assignment.rule"].sudo().create(
            {"company_id": company.id, "user_ids": [Command.set(collector.ids)]}
        )
        partners.with_company(company).sudo().write(
            {"collection_user_id": collector.id}
        )

    def _demo_opt_outs(self, partners, keys):
        """Customers who asked for no reminder emails or SMS ``OPT_OUT_DAYS``
        ago: ``{partner id: channels}``."""
        by_key = {key: partner_id for partner_id, key in keys.items()}
        optouts = {}
        for profile, index, channels in OPT_OUTS:
            partner_id = by_key.get((profile, index))
            if partner_id and partner_id not in optouts:
                optouts[partner_id] = channels
                partners.browse(partner_id).write(
                    {
                        "collection_no_email": "email" in channels,
                        "collection_no_sms": "sms" in channels,
                    }
                )
        return optouts

    # ------------------------------------------------------------------
    # Invoices and payments
    # ------------------------------------------------------------------

    def _demo_create_invoices(self, rng, company, partners, keys):
        """Monthly invoices over the history window and the payments they will get.

        Returns the posted invoices and credit notes, a list of ``(invoice,
        amount, date)`` payments to register, in date order, and ``{scenario:
        invoice}``: the invoices the payment plans of the story cover, whose
        payments follow their plan (see ``_demo_create_plans``).
        """
        today = fields.Date.context_today(self)
        start = today - timedelta(days=HISTORY_MONTHS * 30)
        journal = self.env["account.journal"].search(
            [("company_id", "=", company.id), ("type", "=", "sale")], limit=1
        )
        tax = company.account_sale_tax_id
        invoice_vals, plans = [], []
        for partner in partners:
            profile = PAYER_PROFILES[keys[partner.id][0]]
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
                        "scenario": None,
                    }
                )
        self._demo_pick_scenarios(invoice_vals, plans, keys, today)
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
        payments, scenarios = [], {}
        for invoice, plan in zip(invoices, plans, strict=True):
            if plan["scenario"]:
                scenarios[plan["scenario"]] = invoice
                continue
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
        return invoices, refunds, payments, scenarios

    def _demo_pick_scenarios(self, invoice_vals, plans, keys, today):
        """Mark the invoice each plan of ``PLAN_SCENARIOS`` covers: of the first
        candidate customer there is, the one due nearest the scenario's day. It
        gets no credit note and no payment of its own."""
        by_key = {key: partner_id for partner_id, key in keys.items()}
        taken = set()
        for scenario, candidates, days_ago in PLAN_SCENARIOS:
            target = today - timedelta(days=days_ago)
            for key in candidates:
                partner_id = by_key.get(key)
                if not partner_id or partner_id in taken:
                    continue
                indexes = [
                    i
                    for i, vals in enumerate(invoice_vals)
                    if vals["partner_id"] == partner_id
                    and vals["invoice_date_due"] <= today - timedelta(days=30)
                ]
                if not indexes:
                    continue
                best = min(
                    indexes,
                    key=lambda i, t=target: abs(
                        (invoice_vals[i]["invoice_date_due"] - t).days
                    ),
                )
                plans[best].update(scenario=scenario, refund=False, partial=False)
                taken.add(partner_id)
                break

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

    def _demo_ledger(self, invoices, refunds, payments, keys):
        """``{invoice id: facts}``: what each invoice was owed when, from its
        total, its credit note and its payments, to date the history by."""
        ledger = {
            invoice.id: {
                "invoice": invoice,
                "partner_id": invoice.partner_id.id,
                "profile": keys[invoice.partner_id.id][0],
                "date": invoice.invoice_date,
                "due": invoice.invoice_date_due,
                "total": invoice.amount_total,
                "events": [],
            }
            for invoice in invoices
        }
        for refund in refunds:
            ledger[refund.reversed_entry_id.id]["events"].append(
                (refund.invoice_date, refund.amount_total)
            )
        for invoice, amount, date in payments:
            if invoice.id in ledger:
                ledger[invoice.id]["events"].append((date, amount))
        for facts in ledger.values():
            facts["events"].sort(key=lambda event: event[0])
        return ledger

    @staticmethod
    def _demo_residual(facts, day):
        """What was left to pay on the invoice when ``day`` began."""
        return facts["total"] - sum(
            amount for date, amount in facts["events"] if date < day
        )

    # ------------------------------------------------------------------
    # Payment plans and promises
    # ------------------------------------------------------------------

    def _demo_create_plans(self, rng, company, scenarios):
        """The plans of ``PLAN_SCENARIOS`` on their invoices, drawn up as a
        collector does, then dated back: done (paid in three months, long ago),
        broken (one installment paid, the next unpaid past the policy's days:
        the daily check breaks it), active (one paid, the next due in the coming
        days). Returns ``{scenario: plan}`` and the payments of the installments
        paid, ``(invoice, amount, date)``."""
        today = fields.Date.context_today(self)
        now = fields.Datetime.now()
        Plan = self.env["collection.payment.plan"].sudo()
        grace = max(
            self.env["collection.plan.policy"]
            .search([("company_id", "=", company.id)])
            .mapped("broken_after_days")
            or [10]
        )
        plans, payments, rows = {}, [], []
        for index, (scenario, invoice) in enumerate(sorted(scenarios.items())):
            if scenario == "done":
                # Paid off within the chronic payer's usual 75 days.
                accepted = invoice.invoice_date_due + timedelta(days=5)
                first = accepted + timedelta(days=5)
            elif scenario == "broken":
                first = today - timedelta(days=grace + 3) - relativedelta(months=1)
                accepted = first - timedelta(days=10)
            else:
                first = today - timedelta(days=28)
                accepted = first - timedelta(days=10)
            if accepted <= invoice.invoice_date_due:
                continue
            plan = Plan.create(
                {
                    "partner_id": invoice.partner_id.id,
                    "company_id": company.id,
                    "invoice_ids": [Command.set(invoice.ids)],
                    "installment_count": 3,
                    "frequency": "monthly",
                    "first_date": today + timedelta(days=7),
                }
            )
            installments = plan.installment_ids.sorted(lambda i: (i.date, i.sequence))
            last_paid = None
            for number, installment in enumerate(installments):
                date = first + relativedelta(months=number)
                rows.append((installment.id, date))
                paid = scenario == "done" or (number == 0 and date <= today)
                if paid:
                    last_paid = date - timedelta(days=rng.randint(0, 3))
                    payments.append((invoice, installment.amount, last_paid))
            accepted_at = datetime.combine(accepted, time(15, 0))
            self.env.cr.execute(
                SQL(
                    """UPDATE collection_payment_plan
                          SET state = %(state)s, first_date = %(first)s,
                              accepted_date = %(accepted)s, accepted_by = %(signer)s,
                              acceptance_note = %(note)s, closed_date = %(closed)s,
                              create_date = %(created)s
                        WHERE id = %(id)s""",
                    state="done" if scenario == "done" else "active",
                    first=first,
                    accepted=accepted_at,
                    signer=SIGNERS[index % len(SIGNERS)],
                    note=self.env._("Agreed by phone with the collector."),
                    closed=last_paid if scenario == "done" else None,
                    created=min(accepted_at - timedelta(days=2), now),
                    id=plan.id,
                )
            )
            plans[scenario] = plan
        if rows:
            self.env.cr.execute(
                SQL(
                    """UPDATE collection_payment_plan_installment i
                          SET date = v.date
                         FROM (VALUES %s) AS v(id, date)
                        WHERE i.id = v.id""",
                    SQL(", ").join(SQL("(%s, %s::date)", *row) for row in rows),
                )
            )
        Plan.invalidate_model()
        self.env["collection.payment.plan.installment"].invalidate_model()
        for scenario, plan in plans.items():
            self._demo_ref(plan, f"payment_plan_{scenario}")
        return plans, payments

    def _demo_history_promises(self, rng, company, ledger, users):
        """A year of promises to pay, kept and broken, on the invoices the late
        payers paid late (``PROMISE_ODDS``): made a few days after the due date or
        some weeks before the payment, on what was left to pay then; kept when
        the payment came by the promised date plus the grace days, broken
        otherwise (and then often a second promise, kept). Written in one
        statement, as they were closed long ago. Returns ``{promise id: (invoice
        id, made on, grace until)}``."""
        grace = company.collection_promise_grace_days
        limit = company.collection_promise_max_days or 30
        rows = []
        for facts in ledger.values():
            odds = PROMISE_ODDS.get(facts["profile"])
            if not odds or not facts["events"] or facts.get("scenario"):
                continue
            if facts["total"] - sum(amount for _d, amount in facts["events"]) > 0:
                continue  # still open
            pay_date = facts["events"][-1][0]
            due = facts["due"]
            if (pay_date - due).days < PROMISE_MIN_DELAY or rng.random() >= odds[0]:
                continue
            kept = rng.random() < odds[1]
            made = max(due + timedelta(days=1), pay_date - timedelta(days=20))
            if not kept:
                made = due + timedelta(days=rng.randint(1, 3))
                promised = made + timedelta(days=rng.randint(3, 7))
                if promised + timedelta(days=grace) >= pay_date:
                    kept = True
                else:
                    rows.append((facts, made, promised, "broken", pay_date))
                    # The collector calls again the day after: a new promise.
                    made = promised + timedelta(days=grace + 1)
                    kept = (pay_date - made).days <= limit
            if kept and made < pay_date:
                promised = max(
                    made + timedelta(days=1),
                    pay_date - timedelta(days=rng.randint(0, 2)),
                )
                rows.append((facts, made, promised, "kept", pay_date))
        if not rows:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT nextval('collection_promise_id_seq') FROM generate_series(1, %s)",
            [len(rows)],
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        values, promises = [], {}
        for promise_id, (facts, made, promised, state, pay_date) in zip(
            ids, rows, strict=True
        ):
            grace_until = promised + timedelta(days=grace)
            amount = self._demo_residual(facts, made + timedelta(days=1))
            created = datetime.combine(made, time(15, rng.randint(0, 59)))
            values.append(
                SQL(
                    "(%s, %s, %s, %s, %s::date, %s, %s, %s, %s, %s::date, %s::date,"
                    " %s::timestamp)",
                    promise_id,
                    facts["partner_id"],
                    company.id,
                    amount,
                    promised,
                    rng.choice(["call", "call", "call", "email", "portal"]),
                    users["collector"].id,
                    state,
                    amount if state == "kept" else 0.0,
                    pay_date if state == "kept" else grace_until + timedelta(days=1),
                    grace_until,
                    created,
                )
            )
            promises[promise_id] = (facts["invoice"].id, made, grace_until)
        self.env.cr.execute(
            SQL(
                """INSERT INTO collection_promise
                          (id, partner_id, company_id, amount, promised_date, source,
                           user_id, state, paid_amount, closed_date, grace_until,
                           create_date, create_uid, write_uid, write_date)
                   SELECT v.*, v.user_id, v.user_id, v.created
                     FROM (VALUES %s) AS v(id, partner_id, company_id, amount,
                          promised_date, source, user_id, state, paid_amount,
                          closed_date, grace_until, created)""",
                SQL(", ").join(values),
            )
        )
        self.env.cr.execute(
            SQL(
                """INSERT INTO collection_promise_move_rel (promise_id, move_id)
                   VALUES %s""",
                SQL(", ").join(
                    SQL("(%s, %s)", promise_id, move_id)
                    for promise_id, (move_id, _made, _grace) in promises.items()
                ),
            )
        )
        self.env["collection.promise"].invalidate_model()
        _logger.debug("Demo: %s promises in the history", len(promises))
        return promises

    # ------------------------------------------------------------------
    # The reminder log
    # ------------------------------------------------------------------

    def _demo_history_reminders(self, rng, company, ledger, promises, plans, optouts):
        """A year of the reminder log, as the engine would have written it day by
        day: each invoice got its strategy's steps while it was unpaid, bundled
        per customer, step and day, sent in the contact hours under the contact
        policy (so some went out days after their step: deferred), skipped while
        a promise or a plan covered the invoice or when the customer had opted
        out, and now and then failed at the provider. The emails and SMS sent are
        in the customers' chatter. The last two days are left to the engine."""
        today = fields.Date.context_today(self)
        end = today - timedelta(days=2)
        steps_by_band = self._demo_steps_by_band(company)
        if not steps_by_band:
            return self.env["collection.reminder"]
        covered = defaultdict(list)  # invoice id: [(from, to, reason)]
        for move_id, made, grace_until in promises.values():
            covered[move_id].append(
                (made, grace_until, self.env._("Covered by a promise to pay"))
            )
        for plan in plans.values():
            start = plan.accepted_date.date()
            stop = plan.closed_date or today
            for invoice in plan.invoice_ids:
                covered[invoice.id].append(
                    (start, stop, self.env._("Covered by a payment plan"))
                )
        recent = today - timedelta(days=RECENT_MONTHS * 30)
        bundles = defaultdict(list)  # (partner, day, step): [(invoice, residual)]
        for facts in ledger.values():
            band = HISTORY_BANDS[facts["profile"]]
            if facts["profile"] == "deteriorating" and facts["date"] >= recent:
                band = "high"
            for step in steps_by_band.get(band) or steps_by_band.get("default", ()):
                day = facts["due"] + timedelta(days=step["offset"])
                if day < facts["date"] or day > end:
                    continue
                residual = self._demo_residual(facts, day)
                if residual <= max(step["min_amount"], 0.0):
                    continue
                bundles[facts["partner_id"], day, step["id"]].append(
                    (facts["invoice"], residual)
                )
        holidays = self.env["collection.holiday"]._dates_by_country(
            self.env.ref("base.cl"), today - timedelta(days=HISTORY_MONTHS * 31)
        )[self.env.ref("base.cl").id]
        window = (
            int(company.collection_contact_weekday_from),
            int(company.collection_contact_weekday_to),
            company.collection_contact_hour_from,
            company.collection_contact_hour_to,
            holidays if company.collection_skip_holidays else (),
        )
        steps = {
            step["id"]: step for values in steps_by_band.values() for step in values
        }
        partners = self.env["res.partner"].browse({key[0] for key in bundles})
        emails = {partner.id: partner.email for partner in partners}
        optout_since = today - timedelta(days=OPT_OUT_DAYS)
        sent_times = defaultdict(lambda: defaultdict(list))
        vals_list = []
        for (partner_id, day, step_id), lines in sorted(bundles.items()):
            step = steps[step_id]
            channel = step["channel"]
            values = {
                "partner_id": partner_id,
                "company_id": company.id,
                "step_id": step_id,
                "channel": channel,
                "planned_channel": channel,
                "line_ids": [
                    Command.create(
                        {
                            "move_id": invoice.id,
                            # The demo's invoices have one due date, one line.
                            "move_line_id": invoice.line_ids.filtered(
                                lambda line: line.display_type == "payment_term"
                            )[:1].id,
                            "step_id": step_id,
                            "channel": channel,
                            "amount_residual": residual,
                        }
                    )
                    for invoice, residual in lines
                ],
            }
            planned = cp.to_utc(
                datetime.combine(day, time(8, 0))
                + timedelta(minutes=rng.randint(0, 150)),
                DEMO_TZ,
            )
            skip = self._demo_covered(lines, day, covered)
            channels = optouts.get(partner_id, ()) if day >= optout_since else ()
            if not skip and channel in channels:
                other = "email" if channel == "sms" else "sms"
                if other in channels or other in step["channels"]:
                    skip = (
                        self.env._("The customer cannot be reached by email")
                        if channel == "email"
                        else self.env._("The customer cannot be reached by SMS")
                    )
                else:
                    channel = values["channel"] = other
                    values["reason"] = (
                        self.env._("Email not allowed: sent by SMS instead")
                        if other == "sms"
                        else self.env._("SMS not allowed: sent by email instead")
                    )
            if skip:
                values.update(state="skipped", reason=skip, planned_date=planned)
                vals_list.append(values)
                continue
            sent = self._demo_send_time(
                planned, channel, sent_times[partner_id], company, window
            )
            if sent.date() > end:
                continue  # deferred into the last days: the engine's to send
            values.update(planned_date=sent, sent_date=sent, attempt_count=1)
            if channel in ("email", "sms") and rng.random() < FAILURE_RATE:
                error = rng.choice(
                    EMAIL_FAILURES if channel == "email" else SMS_FAILURES
                ).format(email=emails[partner_id])
                values.update(
                    state="failed",
                    delivery_failed=True,
                    attempt_count=company.collection_max_attempts,
                    reason=self.env._("Delivery failed: %(reason)s", reason=error),
                )
            else:
                values["state"] = "sent"
                sent_times[partner_id][channel].append(sent)
            vals_list.append(values)
        reminders = self.env["collection.reminder"].sudo().create(vals_list)
        self.env.flush_all()
        # As the engine wrote them: created when planned.
        self.env.cr.execute(
            SQL(
                """UPDATE collection_reminder
                      SET create_date = planned_date, write_date = planned_date
                    WHERE id = ANY(%s)""",
                reminders.ids,
            )
        )
        self._demo_reminder_messages(company, reminders)
        return reminders

    def _demo_steps_by_band(self, company):
        """``{band or 'default': [step facts]}`` of the company's invoice
        strategies."""
        Strategy = self.env["collection.strategy"].sudo()
        mapping = Strategy._strategy_by_band(company)
        strategies = Strategy.browse(set(mapping.values()))
        facts = {}
        for strategy in strategies:
            facts[strategy.id] = [
                {
                    "id": step.id,
                    "offset": step.offset_days,
                    "channel": step._channels()[0],
                    "channels": step._channels(),
                    "min_amount": step.min_amount,
                }
                for step in strategy.step_ids.filtered("active").sorted("offset_days")
                if step._channels()
            ]
        return {band: facts[strategy_id] for band, strategy_id in mapping.items()}

    @staticmethod
    def _demo_covered(lines, day, covered):
        """Why the invoices of a reminder were all covered on ``day`` (a promise,
        a plan), or False."""
        reasons = []
        for invoice, _residual in lines:
            reason = next(
                (
                    why
                    for start, stop, why in covered[invoice.id]
                    if start <= day <= stop
                ),
                None,
            )
            if not reason:
                return False
            reasons.append(reason)
        return reasons[-1]

    @staticmethod
    def _demo_send_time(planned, channel, sent, company, window):
        """When the engine sent a reminder planned at ``planned`` (UTC): at the
        first moment the contact policy allows (``sent``: ``{channel: [UTC]}``
        of the customer's messages so far), in the contact hours."""
        earliest = planned
        if channel in ("email", "sms", "letter"):
            written = sorted(sent["email"] + sent["sms"] + sent["letter"])
            gap = timedelta(days=company.collection_min_days_between_written)
            if written:
                earliest = max(earliest, written[-1] + gap)
            cap = company.collection_max_written_per_week
            if cap and len(written) >= cap:
                earliest = max(earliest, written[-cap] + timedelta(days=7))
        else:
            cap = company.collection_max_calls_per_week
            calls = sorted(sent["call"])
            if cap and len(calls) >= cap:
                earliest = max(earliest, calls[-cap] + timedelta(days=7))
        local = cp.next_window_start(cp.to_local(earliest, DEMO_TZ), *window)
        return cp.to_utc(local, DEMO_TZ)

    def _demo_reminder_messages(self, company, reminders):
        """The emails and SMS of the log in the customers' chatter, dated when
        they went out, with their delivery status (failed ones cancelled, as the
        engine leaves them), linked from their reminder."""
        written = reminders.filtered(
            lambda r: r.channel in ("email", "sms") and r.state in ("sent", "failed")
        )
        if not written:
            return
        subjects = {}
        for template, group in (
            written.filtered(lambda r: r.channel == "email")
            .grouped(lambda r: r._mail_template())
            .items()
        ):
            subjects.update(
                template._render_field("subject", group.ids, compute_lang=True)
            )
        comment = self.env.ref("mail.mt_comment").id
        author = company.partner_id
        email_from = company.email_formatted
        currency = company.currency_id
        langs = {lang for lang, _name in self.env["res.lang"].get_installed()}
        step_names = {}
        values = []
        for reminder in written:
            partner = reminder.partner_id
            lang = partner.lang if partner.lang in langs else "en_US"
            env = self.with_context(lang=lang).env
            key = (reminder.step_id.id, lang)
            if key not in step_names:
                step_names[key] = reminder.step_id.with_context(lang=lang).name
            items = Markup("").join(
                Markup("<li>%s</li>")
                % env._(
                    "%(invoice)s, due %(date)s: %(amount)s",
                    invoice=line.move_id.name,
                    date=format_date(env, line.move_id.invoice_date_due, lang),
                    amount=format_amount(env, line.amount_residual, currency, lang),
                )
                for line in reminder.line_ids
            )
            values.append(
                {
                    "model": "res.partner",
                    "res_id": partner.id,
                    "record_name": partner.display_name,
                    "message_type": "email" if reminder.channel == "email" else "sms",
                    "subtype_id": comment,
                    "author_id": author.id,
                    "email_from": email_from,
                    "date": reminder.sent_date,
                    "subject": subjects.get(reminder.id, False),
                    "body": Markup("<p>%s</p><ul>%s</ul>") % (step_names[key], items),
                    "partner_ids": [Command.link(partner.id)],
                }
            )
        messages = self.env["mail.message"].sudo().create(values)
        self.env["mail.notification"].sudo().create(
            [
                {
                    "author_id": author.id,
                    "mail_message_id": message.id,
                    "res_partner_id": reminder.partner_id.id,
                    "notification_type": reminder.channel,
                    "notification_status": "sent"
                    if reminder.state == "sent"
                    else "canceled",
                    "is_read": True,
                }
                for reminder, message in zip(written, messages, strict=True)
            ]
        )
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """UPDATE collection_reminder r SET message_id = v.message_id
                     FROM (VALUES %s) AS v(id, message_id)
                    WHERE r.id = v.id""",
                SQL(", ").join(
                    SQL("(%s, %s)", reminder.id, message.id)
                    for reminder, message in zip(written, messages, strict=True)
                ),
            )
        )
        reminders.invalidate_recordset(["message_id"])

    # ------------------------------------------------------------------
    # Today: the portal customer, commitments open and just broken
    # ------------------------------------------------------------------

    def _demo_overdue(self, company, exclude=()):
        """Open overdue invoices of the demo company, latest due first, of
        customers not in ``exclude`` and not in a plan."""
        today = fields.Date.context_today(self)
        invoices = self.env["account.move"].search(
            [
                ("company_id", "=", company.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
                ("invoice_date_due", "<", today),
                ("commercial_partner_id", "not in", [p.id for p in exclude if p]),
            ],
            order="invoice_date_due desc, id desc",
        )
        in_plan = self.env["collection.payment.plan"]._covered_moves(invoices.ids)
        return invoices.filtered(lambda move: move.id not in in_plan)

    def _demo_create_portal(self, company, users, exclude):
        """A customer to try the portal as (login and password ``portal_cliente``):
        a proposed payment plan for its overdue invoices waits for its signature,
        and the demo payment provider takes its payments in test mode. Returns
        the customer."""
        self = self.sudo()  # noqa: PLW0642
        today = fields.Date.context_today(self)
        overdue = self._demo_overdue(company, exclude)
        customer = overdue[:1].commercial_partner_id
        if not customer:
            return customer
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
        # Proposed by the collections manager, whatever the customer's band.
        plan.with_user(users["manager"]).action_propose()
        self._demo_ref(plan, "payment_plan")
        provider = self.env.ref("payment.payment_provider_demo", False)
        if provider and provider.code == "demo":
            provider.copy(
                {"company_id": company.id, "state": "test", "is_published": True}
            )
        return customer

    def _demo_current_commitments(self, company, users, plans, keys, exclude):
        """Where the story stands today: a customer promised to pay in a few
        days; another broke a promise last week and one broke its plan (the
        daily check escalates both to the manager); the active plan's case is in
        the plan stage."""
        self = self.sudo()  # noqa: PLW0642
        today = fields.Date.context_today(self)
        Promise = self.env["collection.promise"]
        overdue = self._demo_overdue(company, exclude).filtered(
            lambda move: move.commercial_partner_id.id in keys
        )
        # A broken promise on an unpaid invoice of a chronic payer (the one whose
        # plan was kept long ago, if it can), a promise to come from another.
        unpaid = overdue.filtered(lambda move: move.payment_state == "not_paid")
        breakers = unpaid.commercial_partner_id.sorted(
            lambda partner: (
                keys[partner.id] != ("chronic", 1),
                keys[partner.id][0] not in ("chronic", "deteriorating"),
                partner.id,
            )
        )
        broken_on = unpaid.filtered(
            lambda move: move.commercial_partner_id == breakers[:1]
        )[-1:]
        promisers = (overdue - broken_on).commercial_partner_id.sorted(
            lambda partner: (
                keys[partner.id][0] not in ("slightly_late", "deteriorating"),
                partner == breakers[:1],
                partner.id,
            )
        )
        promised_on = (overdue - broken_on).filtered(
            lambda move: move.commercial_partner_id == promisers[:1]
        )
        vals_list = []
        for invoices, days in ((promised_on, 4), (broken_on, 3)):
            if invoices:
                vals_list.append(
                    {
                        "partner_id": invoices.commercial_partner_id.id,
                        "company_id": company.id,
                        "invoice_ids": [Command.set(invoices.ids)],
                        "amount": sum(invoices.mapped("amount_residual_signed")),
                        "promised_date": today + timedelta(days=days),
                        "source": "call",
                        "user_id": users["collector"].id,
                    }
                )
        promises = Promise.with_user(users["collector"]).create(vals_list)
        if broken_on:
            broken = promises.filtered(lambda p: p.invoice_ids == broken_on)
            # Made twelve days ago for five days ago: the grace days are over.
            self.env.flush_all()
            self.env.cr.execute(
                SQL(
                    """UPDATE collection_promise
                          SET promised_date = %(promised)s,
                              grace_until = %(grace)s,
                              create_date = create_date - INTERVAL '12 days'
                        WHERE id = %(id)s""",
                    promised=today - timedelta(days=5),
                    grace=today
                    - timedelta(days=5 - company.collection_promise_grace_days),
                    id=broken.id,
                )
            )
            Promise.invalidate_model()
            self._demo_ref(broken, "promise_broken")
        if promised_on:
            self._demo_ref(
                promises.filtered(lambda p: p.invoice_ids == promised_on),
                "promise_open",
            )
        if plans.get("active"):
            self.env["collection.case"]._move_to_role(plans["active"], "plan")
        # The daily check of commitments, as its scheduled action runs it.
        Promise._check_promises()
        self.env["collection.payment.plan"]._check_plans()
