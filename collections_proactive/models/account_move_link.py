from odoo import models, tools

from ..tools.signing import sign

# The scope of the signature (``tools.hmac``'s).
SCOPE = "collections_proactive-invoice"


class AccountMove(models.Model):
    """The invoice links of the reminders, signed per invoice.

    A message lists many invoices, a run thousands: giving each its portal
    access token when the message is sent wrote every listed invoice (an
    UPDATE of ``account_move``, a quarter of the run's time). The link carries
    a signature of the invoice instead; the token is made when a customer
    follows it (``/collections/invoice/<id>/<signature>``), as Odoo makes
    tokens when they are first needed."""

    _inherit = "account.move"

    def _collection_link_signature(self):
        """The invoice's signature (128 bits of an HMAC keyed by the
        database's secret): short enough for an SMS."""
        self.ensure_one()
        return sign(self.env, SCOPE, self.id)[:32]

    def _collection_link_check(self, signature):
        """Whether ``signature`` opens this customer invoice or credit note."""
        return bool(
            len(self) == 1
            and self.is_sale_document(include_receipts=True)
            and isinstance(signature, str)
            and signature.isascii()
            and tools.consteq(self._collection_link_signature(), signature)
        )
