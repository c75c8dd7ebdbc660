import base64
import logging
import random
import unicodedata

from stdnum.cl import rut as cl_rut

from odoo import Command, api, fields, models
from odoo.tools import file_open

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
        Reminder.env["collection.reminder.planner"]._plan_reminders(companies=company)
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
        # One write per customer, each with its own values: l10n_cl's write
        # formats the first record's RUT into the values it is given, and writes
        # that RUT on every record (and on the next write with the same dict).
        if values:
            for partner in partners:
                partner.write(dict(values))

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
