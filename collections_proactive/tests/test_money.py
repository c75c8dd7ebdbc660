from odoo.tests import TransactionCase, tagged
from odoo.tools import format_amount

from ..tools.money import amount_formatter, format_amount_in


@tagged("post_install", "-at_install")
class TestMoney(TransactionCase):
    """The statement and the reminder emails write amounts with the language
    read once: exactly as ``odoo.tools.format_amount`` does."""

    def test_same_text_as_format_amount(self):
        Lang = self.env["res.lang"]
        for code in ("es_CL", "fr_FR", "de_DE"):
            Lang._activate_lang(code)
        clp = self.env.ref("base.CLP")
        eur = self.env.ref("base.EUR")
        usd = self.env.ref("base.USD")
        amounts = [0, 0.004, 1, -1234.5, 999.995, 1234567.891, -0.5, 12345678901.23]
        for code in ("en_US", "es_CL", "fr_FR", "de_DE"):
            env = self.env(context=dict(self.env.context, lang=code))
            in_lang = format_amount_in(env)
            for currency in (clp, eur, usd):
                one = amount_formatter(
                    self.env["res.lang"]._get_data(code=code), currency
                )
                for amount in amounts:
                    expected = format_amount(env, amount, currency)
                    with self.subTest(lang=code, currency=currency.name, amount=amount):
                        self.assertEqual(in_lang(amount, currency), expected)
                        self.assertEqual(one(amount), expected)
        # An explicit language is Odoo's own.
        self.assertEqual(
            format_amount_in(self.env)(1234.5, eur, lang_code="de_DE"),
            format_amount(self.env, 1234.5, eur, "de_DE"),
        )
