from odoo import tools
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import PortalCommon


@tagged("post_install", "-at_install")
class TestInvoiceLink(PortalCommon):
    """The invoice links of the reminders: signed per invoice, no login, the
    portal token made when one is followed; any other link is a 404 page that
    says what to do, and writes nothing."""

    def _link(self, move_id, signature):
        return f"/collections/invoice/{move_id}/{signature}"

    def test_followed_link_opens_the_invoice(self):
        invoice = self.overdue[0]
        self.assertEqual(
            invoice._collection_link_signature(),
            tools.hmac(self.env(su=True), "collections_proactive-invoice", invoice.id)[
                :32
            ],
            "Odoo's HMAC of the invoice, keyed by the database secret",
        )
        self.assertFalse(invoice.access_token)
        url = self._link(invoice.id, invoice._collection_link_signature())
        response = self.url_open(url, allow_redirects=False)
        self.assertEqual(response.status_code, 303)
        invoice.invalidate_recordset(["access_token"])
        self.assertTrue(invoice.access_token, "made when the link is followed")
        self.assertIn(
            f"/my/invoices/{invoice.id}?access_token={invoice.access_token}",
            response.headers["Location"],
        )
        token = invoice.access_token
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200)
        self.assertIn(invoice.name, page.text)
        invoice.invalidate_recordset(["access_token"])
        self.assertEqual(invoice.access_token, token, "the same token each time")

    def test_any_other_link_is_refused(self):
        invoice, other = self.overdue[0], self.other_invoice
        bill = self._cp_invoice(
            self.customer, 100, self.today, self.today, move_type="in_invoice"
        )
        signature = invoice._collection_link_signature()
        links = [
            (invoice.id, other._collection_link_signature()),
            (invoice.id, signature[:-1] + ("0" if signature[-1] != "0" else "1")),
            (invoice.id, signature[:-1]),
            (invoice.id, signature + "0"),
            (invoice.id, "x"),
            (invoice.id, "%C3%A9" * 32),
            (invoice.id, "' OR 1=1 --"),
            (999999999, signature),
            (2**31, signature),
            (0, signature),
            (bill.id, bill._collection_link_signature()),
        ]
        for move_id, bad in links:
            with self.subTest(move_id=move_id, signature=bad), mute_logger("odoo.http"):
                response = self.url_open(
                    self._link(move_id, bad), allow_redirects=False
                )
                self.assertEqual(response.status_code, 404)
                self.assertIn("This link is not valid", response.text)
        (invoice | other | bill).invalidate_recordset(["access_token"])
        self.assertFalse(any((invoice | other | bill).mapped("access_token")))
        post = self.url_open(
            self._link(invoice.id, signature), data={"x": "1"}, allow_redirects=False
        )
        self.assertIn(post.status_code, (403, 404, 405), "a GET link only")
