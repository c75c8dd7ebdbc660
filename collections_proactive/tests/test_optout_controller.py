from odoo import tools
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestOptOutController(HttpCase):
    """The unsubscribe link of the reminders, as the customer's browser uses it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create(
            {
                "name": "Cliente Baja",
                "email": "baja@example.com",
                "mobile": "+56911112222",
            }
        )

    def _url(self, channel, token=None, partner=None):
        partner = partner or self.partner
        token = token or tools.hmac(
            self.env(su=True), "collections_proactive-optout", (partner.id, channel)
        )
        return f"/collections/optout/{channel}/{partner.id}/{token}"

    def test_get_asks_post_confirms(self):
        response = self.url_open(self._url("email"))
        self.assertEqual(response.status_code, 200)
        self.assertIn("Stop payment reminders", response.text)
        self.assertFalse(self.partner.collection_no_email, "a GET changes nothing")
        response = self.url_open(self._url("email"), data={"confirm": "1"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("will no longer receive payment reminders", response.text)
        self.partner.invalidate_recordset()
        self.assertTrue(self.partner.collection_no_email)
        self.assertFalse(self.partner.collection_no_sms)

    def test_sms_link(self):
        self.url_open(self._url("sms"), data={"confirm": "1"})
        self.partner.invalidate_recordset()
        self.assertTrue(self.partner.collection_no_sms)
        self.assertFalse(self.partner.collection_no_email)

    def test_tampered_links_are_refused(self):
        other = self.env["res.partner"].create({"name": "Otro Cliente"})
        bad = [
            self._url("email", token="0" * 64),
            # A valid token for one customer does not work for another.
            self._url("email").replace(f"/{self.partner.id}/", f"/{other.id}/"),
            # Nor for the other channel.
            self._url("email").replace("/email/", "/sms/"),
            self._url("fax"),
            f"/collections/optout/email/999999999/{'1' * 64}",
        ]
        for url in bad:
            response = self.url_open(url, data={"confirm": "1"})
            self.assertEqual(response.status_code, 404, url)
            self.assertIn("This link is not valid", response.text)
        self.partner.invalidate_recordset()
        other.invalidate_recordset()
        self.assertFalse(
            self.partner.collection_no_email or self.partner.collection_no_sms
        )
        self.assertFalse(other.collection_no_email)
