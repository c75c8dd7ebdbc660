from dateutil.relativedelta import relativedelta

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import format_date

from ..tools.portal_access import thread_access_kwargs
from ..tools.trace import log_trace, note_html, staff_env
from .collection_promise import covered_lines
from .res_partner import HOLDING_PLAN_STATES


class PlanTaken(ValidationError):
    """What the customer asks a plan for is already in one (the portal answers
    409)."""


class CollectionPaymentPlanAgreement(models.Model):
    """The agreement of a payment plan: proposal, acceptance, decline, activation,
    and the customer's request on the portal."""

    _inherit = "collection.payment.plan"

    # ------------------------------------------------------------------
    # The agreement
    # ------------------------------------------------------------------

    def _is_manager(self):
        return self.env.user.has_group(
            "collections_proactive.group_collections_manager"
        )

    def action_propose(self):
        for plan in self:
            if plan.state != "draft":
                raise UserError(self.env._("Only a draft plan can be proposed."))
        self._check_plan()
        for plan in self:
            if not plan._is_manager():
                if plan.policy_issue:
                    raise UserError(
                        self.env._(
                            "This plan is outside the policy for %(customer)s's risk "
                            "band (%(issue)s): a collections manager must propose it.",
                            customer=plan.partner_id.display_name,
                            issue=plan.policy_issue,
                        )
                    )
                if plan.policy_id.manager_approval:
                    raise UserError(
                        self.env._(
                            "Plans for %(band)s risk customers are proposed by a "
                            "collections manager.",
                            band=plan.policy_id.risk_band,
                        )
                    )
        self.write({"state": "proposed"})
        self._portal_ensure_token()
        return True

    def action_request_approval(self):
        """A collector asks a collections manager to propose a plan that is
        outside policy, or for a band where managers propose: an activity for the
        company's escalation manager (or its first collections manager)."""
        self.ensure_one()
        if self.state != "draft":
            raise UserError(self.env._("Only a draft plan waits for approval."))
        self._check_plan()
        manager = self.company_id._collection_manager()
        if not manager:
            raise UserError(
                self.env._(
                    "%(company)s has no collections manager to approve the plan.",
                    company=self.company_id.display_name,
                )
            )
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=self.env._("Approve payment plan %(plan)s", plan=self.name),
            note=self.policy_issue
            or self.env._("Managers propose plans of this band."),
            user_id=manager.id,
        )
        return True

    def action_send_proposal(self):
        """Open the composer with the proposal email and its agreement PDF; a draft
        plan is proposed first (under the same policy)."""
        self.ensure_one()
        if self.state == "draft":
            self.action_propose()
        if self.state != "proposed":
            raise UserError(self.env._("Only a proposed plan is sent for acceptance."))
        template = self.env.ref(
            "collections_proactive.mail_template_payment_plan_proposal"
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_model": self._name,
                "default_res_ids": self.ids,
                "default_template_id": template.id,
                "default_composition_mode": "comment",
                "default_email_layout_xmlid": "mail.mail_notification_light",
                "force_email": True,
            },
        }

    @api.model
    def _action_new(self, partner, records, company):
        """A new draft plan for ``partner``'s open receivable lines among
        ``records`` (lines, or invoices for their lines) in ``company``."""
        lines = (
            covered_lines(records)
            .filtered_domain(
                self.env["account.move.line"]._collection_open_domain(owed_only=True)
            )
            .sorted(lambda line: (line.date_maturity, line.id))
        )
        if not lines:
            raise UserError(
                self.env._(
                    "%(customer)s has no open invoice to put in a plan.",
                    customer=partner.display_name,
                )
            )
        defaults = self._policy_defaults(partner.commercial_partner_id, lines, company)
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("New Payment Plan"),
            "res_model": self._name,
            "view_mode": "form",
            "target": "current",
            "context": {
                "default_partner_id": partner.commercial_partner_id.id,
                "default_company_id": company.id,
                "default_move_line_ids": [Command.set(lines.ids)],
                "default_frequency": "monthly",
                **{f"default_{name}": value for name, value in defaults.items()},
            },
        }

    def action_record_acceptance(self, signer, note=None, ip=None, vat=None):
        """Record the customer's acceptance (the portal, or a collector after a
        phone agreement): who, when, from where; the plan becomes active."""
        for plan in self:
            if plan.state != "proposed":
                raise UserError(
                    self.env._(
                        "Only a proposed plan can be accepted; %(plan)s is %(state)s.",
                        plan=plan.name,
                        state=dict(
                            plan._fields["state"]._description_selection(self.env)
                        )[plan.state],
                    )
                )
            if not (signer or "").strip():
                raise ValidationError(self.env._("Say who accepted the plan."))
            plan._check_still_due()
        self.write(
            {
                "state": "accepted",
                "accepted_by": signer.strip(),
                # The transaction's time, as Odoo stamps create_date: the payments
                # reconciled from then on are the plan's (_paid_since_acceptance).
                "accepted_date": self.env.cr.now(),
                "accepted_ip": ip or False,
                "accepted_vat": vat or False,
                "acceptance_note": note or False,
            }
        )
        self._activate()
        self._trace_acceptance()
        return True

    def _trace_acceptance(self):
        """The agreement on each invoice of the plan and on the customer's case:
        what is spread, from when, who accepted, and the note (escaped)."""
        for plan in self:
            staff = plan.with_env(staff_env(self.env, plan.company_id, plan.partner_id))
            first = plan.installment_ids.sorted(lambda i: (i.date, i.sequence))[:1]
            log_trace(
                staff.env,
                plan.invoice_ids,
                plan.partner_id,
                plan.company_id,
                note_html(
                    staff.env._(
                        "Payment plan %(plan)s accepted by %(signer)s on %(date)s: "
                        "%(amount)s, the first payment of %(first_amount)s on "
                        "%(first)s.",
                        plan=plan.name,
                        signer=plan.accepted_by,
                        date=format_date(
                            staff.env,
                            fields.Datetime.context_timestamp(
                                staff, plan.accepted_date
                            ).date(),
                        ),
                        amount=plan.currency_id.format(plan.amount_total),
                        first_amount=plan.currency_id.format(first.amount),
                        first=format_date(staff.env, first.date),
                    ),
                    plan.acceptance_note,
                ),
            )

    @api.model
    def _get_thread_with_access(self, thread_id, mode="read", **kwargs):
        return super()._get_thread_with_access(
            thread_id, mode, **thread_access_kwargs(self, thread_id, kwargs)
        )

    def action_decline(self, reason):
        if not (reason or "").strip():
            raise ValidationError(self.env._("Say why the plan is declined."))
        if any(plan.state != "proposed" for plan in self):
            raise UserError(self.env._("Only a proposed plan can be declined."))
        self.write({"state": "declined", "decline_reason": reason.strip()})
        return True

    def action_cancel(self):
        if any(plan.state in ("done", "broken", "cancelled") for plan in self):
            raise UserError(self.env._("This plan is already closed."))
        self.write(
            {"state": "cancelled", "closed_date": fields.Date.context_today(self)}
        )
        return True

    def action_draft(self):
        """Back to draft, drawn up again on what is left to pay now (a proposal
        is withdrawn: its link no longer accepts it)."""
        if any(
            plan.state not in ("proposed", "declined", "cancelled") for plan in self
        ):
            raise UserError(
                self.env._(
                    "Only a proposed, declined or cancelled plan goes back to draft."
                )
            )
        self.write({"state": "draft", "closed_date": False})
        self._refresh_schedule()
        return True

    def _activate(self):
        """An accepted plan starts: the fee is invoiced, the case moves to the
        plan stage, and the plan's invoices leave the normal reminders."""
        for plan in self:
            if not plan.currency_id.is_zero(plan.fee_amount):
                plan.fee_invoice_id = plan._create_fee_invoice()
        self.write({"state": "active"})
        self.env["collection.case"]._move_to_role(self, "plan")

    def _create_fee_invoice(self):
        self.ensure_one()
        invoice = (
            self.env["account.move"]
            .sudo()
            .with_company(self.company_id)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.partner_id.id,
                    "invoice_date": fields.Date.context_today(self),
                    "invoice_date_due": self.installment_ids.sorted("date")[-1:].date,
                    "invoice_origin": self.name,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": self.env._(
                                    "Payment plan %(plan)s: fee", plan=self.name
                                ),
                                "quantity": 1,
                                "price_unit": self.fee_amount,
                                "tax_ids": [Command.clear()],
                            }
                        )
                    ],
                }
            )
        )
        invoice.action_post()
        return invoice

    # ------------------------------------------------------------------
    # Asked for on the portal
    # ------------------------------------------------------------------

    @api.model
    def _portal_first_date(self, today):
        """The first installment of a plan asked for on the portal."""
        return today + relativedelta(days=7)

    @api.model
    def _portal_request(
        self,
        partner,
        line_ids=(),
        invoice_ids=(),
        installment_count=None,
        frequency="monthly",
        today=None,
    ):
        """A plan asked for on the portal by ``partner`` (the logged-in
        customer) for its open lines ``line_ids`` (the installments due later
        too, when it chooses them), or the overdue lines of its invoices
        ``invoice_ids`` (what older pages send): within the policy of its band,
        with the least down payment the policy asks, it is proposed at once;
        otherwise it waits, a draft, for the collector, who is told.

        Everything is checked before the plan is created (a refused request
        takes no plan number): PlanTaken when a line is in a plan already,
        AccessError when one is not the customer's to spread, ValidationError
        for the rest."""
        env = self.env
        today = today or fields.Date.context_today(self)
        offered = partner._collection_portal_lines(today)
        plannable = offered["plannable"]
        lines = partner._collection_pick_lines(
            plannable,
            line_ids,
            invoice_ids,
            by_invoice=offered["plannable_now"],
        )
        if lines is not None and not lines & offered["plannable_now"]:
            # A plan spreads what is overdue or falls due soon (as the band's
            # policy allows), and what falls due later with it.
            lines = None
        if lines is None:
            held = partner._collection_planned_lines(HOLDING_PLAN_STATES)
            if set(line_ids) & set(held.ids) or set(invoice_ids) & set(
                held.move_id.ids
            ):
                raise PlanTaken(
                    env._("Some of these invoices are already in a payment plan.")
                )
            raise AccessError(
                env._(
                    "Some of these invoices are not yours, or none of them is "
                    "overdue or falls due soon."
                )
            )
        company = lines.company_id
        if len(company) > 1:
            raise ValidationError(
                env._("Ask for a plan for the invoices of one company at a time.")
            )
        if lines.move_id.currency_id != company.currency_id:
            raise ValidationError(
                env._(
                    "Ask for a plan for the invoices in %(currency)s only.",
                    currency=company.currency_id.name,
                )
            )
        policy = env["collection.plan.policy"]._for_partner(partner.sudo(), company)
        most = policy.max_installments or 1
        if installment_count is None or not 1 <= installment_count <= most:
            raise ValidationError(
                env._("Choose between 1 and %(max)s installments.", max=most)
            )
        if frequency not in dict(self._fields["frequency"].selection):
            raise ValidationError(env._("Choose how often to pay."))
        # The least down payment the band's policy asks, so that a request
        # within policy is proposed at once.
        down_payment = company.currency_id.round(
            sum(lines.mapped("amount_residual"))
            * (policy.min_down_payment_percent or 0.0)
            / 100
        )
        plan = (
            self.sudo()
            .with_company(company)
            .create(
                {
                    "partner_id": partner.commercial_partner_id.id,
                    "company_id": company.id,
                    "move_line_ids": [Command.set(lines.ids)],
                    "down_payment": down_payment,
                    "installment_count": installment_count,
                    "frequency": frequency,
                    "first_date": self._portal_first_date(today),
                    "portal_requested": True,
                }
            )
        )
        plan._check_plan()
        notify = company.sudo()._collection_notify
        if plan.policy_issue or plan.policy_id.manager_approval:
            notify(
                plan,
                plan.partner_id,
                lambda staff: staff._(
                    "Payment plan requested on the portal: review and propose %(plan)s",
                    plan=plan.name,
                ),
                note=plan.policy_issue,
            )
        else:
            # Within the policy of the customer's band and no manager needed:
            # proposed at once, for the customer to sign.
            plan.action_propose()
            notify(
                plan,
                plan.partner_id,
                lambda staff: staff._(
                    "Payment plan %(plan)s requested and proposed on the portal",
                    plan=plan.name,
                ),
            )
        return plan
