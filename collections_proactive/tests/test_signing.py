from odoo import tools
from odoo.tests import TransactionCase, tagged

from ..tools.signing import KEY_CACHE, sign


@tagged("post_install", "-at_install")
class TestSigning(TransactionCase):
    """The links' signatures are Odoo's HMAC (``tools.hmac``), the database secret
    read once per cursor: the same text, scope by scope, and a new secret is
    taken by a new cursor."""

    def test_same_signature_as_odoo(self):
        partner = self.env["res.partner"].create({"name": "Signed Customer"})
        for scope, message in (
            ("collections_proactive-invoice", 42),
            ("collections_proactive-optout", (partner.id, "sms")),
            ("collections_proactive-offer", (7, partner.id, "20270131")),
            ("another scope", "ñandú"),
        ):
            self.assertEqual(
                sign(self.env, scope, message),
                tools.hmac(self.env(su=True), scope, message),
                scope,
            )
        self.assertEqual(
            partner._collection_optout_token("sms"),
            tools.hmac(
                self.env(su=True), "collections_proactive-optout", (partner.id, "sms")
            ),
        )
        self.assertNotEqual(
            sign(self.env, "collections_proactive-optout", (partner.id, "sms")),
            sign(self.env, "collections_proactive-optout", (partner.id, "email")),
        )
        with self.assertRaises(ValueError):
            sign(self.env, "", 1)

    def test_secret_read_per_cursor(self):
        before = sign(self.env, "collections_proactive-invoice", 1)
        self.env["ir.config_parameter"].sudo().set_param(
            "database.secret", "a-rotated-secret"
        )
        # Kept for the cursor's life, as a run signs with one key throughout.
        self.assertEqual(sign(self.env, "collections_proactive-invoice", 1), before)
        self.env.cr.cache.pop(KEY_CACHE)  # as a new cursor starts
        self.assertEqual(
            sign(self.env, "collections_proactive-invoice", 1),
            tools.hmac(self.env(su=True), "collections_proactive-invoice", 1),
        )
        self.assertNotEqual(sign(self.env, "collections_proactive-invoice", 1), before)
