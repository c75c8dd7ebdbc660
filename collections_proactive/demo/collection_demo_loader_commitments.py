import logging
from datetime import datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from odoo import Command, fields, models
from odoo.tools import SQL

from .collection_demo_loader import (
    PROMISE_MIN_DELAY,
    PROMISE_ODDS,
    SIGNERS,
)

_logger = logging.getLogger(__name__)


class CollectionDemoLoaderCommitments(models.AbstractModel):
    """Demo data: promises to pay and payment plans, in the history and today."""

    _inherit = "collection.demo.loader"

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
        # The amounts each promise covers: its invoice's receivable lines.
        self.env.cr.execute(
            SQL(
                """INSERT INTO collection_promise_move_line_rel
                          (promise_id, move_line_id)
                   SELECT v.promise_id, l.id
                     FROM (VALUES %s) AS v(promise_id, move_id)
                     JOIN account_move_line l
                       ON l.move_id = v.move_id AND l.display_type = 'payment_term'""",
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
