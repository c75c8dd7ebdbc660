"""Amounts written as ``odoo.tools.format_amount`` writes them, with the
language read once: looking it up at each call was most of the cost of
formatting the thousands of amounts of a long statement or a reminder batch."""

import ast

from odoo.tools import float_round, format_amount, get_lang

from odoo.addons.base.models.res_lang import intersperse


def amount_formatter(lang, currency):
    """``amount -> text`` in ``lang`` (``get_lang``'s record) and ``currency``."""
    grouping = ast.literal_eval(lang.grouping)
    separator, point = lang.thousands_sep or "", lang.decimal_point
    digits = f"%.{currency.decimal_places}f"
    symbol = currency.symbol or ""
    if currency.position == "before":
        pre, post = f"{symbol}\N{NO-BREAK SPACE}", ""
    else:
        pre, post = "", f"\N{NO-BREAK SPACE}{symbol}"
    rounding = currency.rounding

    def amount(value):
        parts = (digits % float_round(value, precision_rounding=rounding)).split(".")
        parts[0] = intersperse(parts[0], grouping, separator)[0]
        number = (
            point.join(parts)
            .replace(" ", "\N{NO-BREAK SPACE}")
            .replace("-", "-\N{ZERO WIDTH NO-BREAK SPACE}")
        )
        return f"{pre}{number}{post}"

    return amount


def format_amount_in(env):
    """The ``format_amount(amount, currency, lang_code=False)`` of the mail
    templates' context, in the language of ``env``, one formatter per
    currency; an explicit ``lang_code`` goes to Odoo's own."""
    lang = get_lang(env, env.lang)
    formatters = {}

    def format_in_lang(amount, currency, lang_code=False):
        if lang_code:
            return format_amount(env, amount, currency, lang_code)
        key = currency.id
        if key not in formatters:
            formatters[key] = amount_formatter(lang, currency)
        return formatters[key](amount)

    return format_in_lang
