"""Fuzzing the portal's payments: paying an installment, the automatic debit
(see fuzz_common.py)."""

import json
import unittest

from odoo.tests import tagged
from odoo.tools import mute_logger

from .fuzz_common import (
    EXAMPLES,
    INT4,
    REFUSALS,
    PortalFuzzCommon,
    example,
    fuzz_settings,
    given,
    st,
)


@unittest.skipIf(st is None, "hypothesis is not installed")
@tagged("post_install", "-at_install")
class TestFuzzPayment(PortalFuzzCommon):
    """Hostile values sent to pay an installment and to choose the automatic
    debit."""

    def test_fuzz_plan_transaction(self):
        """JSON /my/payment_plans/<id>/transaction: refused with a UserError
        (never a server error) unless allowed; the amount is always the next
        installment's, whatever is sent."""

        @given(
            actor=self.actors,
            target=st.sampled_from(
                [self.active_plan] * 2 + [self.other_active_plan, self.plan, None]
            ),
            token=self._token_choice(),
            amount=st.one_of(
                st.none(),
                st.floats(),
                st.integers(min_value=-(10**30), max_value=10**30),
                self.hostile_text,
            ),
            flow=st.sampled_from(["direct", "direct", "redirect", "token"]),
            extra=st.one_of(
                st.just({}),
                st.dictionaries(
                    st.sampled_from(
                        ["partner_id", "reference", "invoice_ids", "currency_id"]
                    ),
                    st.one_of(
                        st.just(self.other.id),
                        st.just(self.other_invoice.ids),
                        self.hostile_text,
                    ),
                    max_size=2,
                ),
            ),
        )
        @example(
            actor="cp_portal",
            target=self.active_plan,
            token="none",
            amount=1.0,
            flow="direct",
            extra={},
        )
        @example(
            actor=None,
            target=self.active_plan,
            token="right",
            amount=10**30,
            flow="direct",
            extra={},
        )
        @example(
            actor=None,
            target=self.active_plan,
            token="text:\u00e9",
            amount=None,
            flow="direct",
            extra={},
        )
        @fuzz_settings(EXAMPLES)
        @self._in_example("plan_transaction")
        def run(actor, target, token, amount, flow, extra):
            self._login(actor)
            access_token = self._token(token, target)
            access = self._has_access(actor, target, access_token)
            plans = self._plan_snapshot()
            Transaction = self.env["payment.transaction"]
            last = Transaction.search([], order="id desc", limit=1).id or 0
            params = {
                "access_token": access_token,
                "provider_id": self.provider.id,
                "payment_method_id": self.method.id,
                "token_id": None,
                "amount": amount,
                "flow": flow,
                "tokenization_requested": False,
                "landing_route": "/my/payment_plans",
                **extra,
            }
            plan_id = target.id if target else 10**30
            label = f"transaction {target.name if target else plan_id}"
            with mute_logger("odoo.http"):
                response = self.url_open(
                    f"/my/payment_plans/{plan_id}/transaction",
                    data=json.dumps(
                        {"jsonrpc": "2.0", "method": "call", "params": params}
                    ),
                    headers={"Content-Type": "application/json"},
                )
            self.assertLess(response.status_code, 500, label)
            answer = response.json()
            new = Transaction.search([("id", ">", last)])
            self.assertEqual(self._plan_snapshot(), plans, label)
            if "error" in answer:
                self.assertIn(answer["error"]["data"]["name"], REFUSALS, label)
                self.assertFalse(new, f"{label}: refused, nothing written")
                self.assertFalse(
                    access
                    and target.state == "active"
                    and flow == "direct"
                    and not extra,
                    f"{label}: a sane payment refused",
                )
                return
            self.assertTrue(access, label)
            self.assertEqual(len(new), 1, label)
            installment = target._portal_next_installment()
            self.assertEqual(
                new.amount, installment.amount - installment.paid_amount, label
            )
            self.assertEqual(new.invoice_ids, target.invoice_ids)
            self.assertEqual(
                new.partner_id,
                self.user_partner_of[actor] if actor else target.partner_id,
                label,
            )

        self._run("plan_transaction", EXAMPLES, run)

    def test_fuzz_plan_auto_debit(self):
        """POST /my/payment_plans/<id>/auto_debit: only the customer, on its own
        proposed or active plan, with one of its own payment methods."""
        token_id = st.one_of(
            st.sampled_from(["own", "own", "other", "", "0"]), self.hostile_number
        )

        @given(
            actor=self.actors,
            target=st.sampled_from([*self.plans, None]),
            token_id=token_id,
            csrf=self.csrf,
        )
        @example(
            actor="cp_portal", target=self.active_plan, token_id="own", csrf="valid"
        )
        @example(
            actor="cp_portal", target=self.active_plan, token_id=str(INT4), csrf="valid"
        )
        @fuzz_settings(EXAMPLES)
        @self._in_example("plan_auto_debit")
        def run(actor, target, token_id, csrf):
            self._login(actor)
            plans = self._plan_snapshot()
            plan_id = target.id if target else 10**30
            token = self.token_of.get(token_id)
            response = self._send(
                f"/my/payment_plans/{plan_id}/auto_debit",
                {"token_id": str(token.id) if token else token_id},
                csrf,
            )
            label = f"auto debit {target.name if target else plan_id}"
            self._assert_safe(response, self._victims(actor), label)
            after = self._plan_snapshot()
            changed = {key for key in plans if plans[key] != after[key]}
            allowed = (
                target
                and csrf == "valid"
                and self.partner_of[actor] == target.partner_id
                and target.state in ("proposed", "active")
            )
            if allowed and token_id == "own" and target.partner_id == self.customer:
                self.assertEqual(target.payment_token_id, token, f"{label}: sane")
            if not changed:
                return
            self.assertTrue(allowed, label)
            self.assertEqual(changed, {target.id}, label)
            self.assertEqual(target.payment_token_id.partner_id, target.partner_id)

        self._run("plan_auto_debit", EXAMPLES, run)
