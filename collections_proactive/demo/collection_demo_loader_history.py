from collections import defaultdict
from datetime import datetime, time, timedelta

from markupsafe import Markup

from odoo import Command, fields, models
from odoo.tools import SQL, format_amount, format_date

from ..tools import contact_policy as cp
from .collection_demo_loader import (
    DEMO_TZ,
    EMAIL_FAILURES,
    FAILURE_RATE,
    HISTORY_BANDS,
    HISTORY_MONTHS,
    OPT_OUT_DAYS,
    PAYER_PROFILES,
    PLAN_SCENARIOS,
    RECENT_MONTHS,
    SMS_FAILURES,
)


class CollectionDemoLoaderHistory(models.AbstractModel):
    """Demo data: the year of invoices, payments and reminders."""

    _inherit = "collection.demo.loader"

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
