"""An amount in words with the currency's unit in the singular or the plural, in
the reader's language: "doscientos setenta pesos", "two hundred seventy pesos".

Odoo's ``res.currency.amount_to_text`` appends the currency's single unit label
("Doscientos Setenta Peso"); an agreement the customer signs needs the grammar
right. Spanish and English are written here; other languages fall back to Odoo.
"""

import re

from num2words import num2words

PESO = ("peso", "pesos", "centavo", "centavos")
# (unit, units, subunit, subunits) per language and currency code.
UNITS = {
    "es": {
        **dict.fromkeys(("CLP", "ARS", "COP", "MXN", "UYU", "DOP", "CUP", "PHP"), PESO),
        "USD": ("dólar", "dólares", "centavo", "centavos"),
        "EUR": ("euro", "euros", "céntimo", "céntimos"),
        "PEN": ("sol", "soles", "céntimo", "céntimos"),
        "BOB": ("boliviano", "bolivianos", "centavo", "centavos"),
        "PYG": ("guaraní", "guaraníes", "céntimo", "céntimos"),
        "GTQ": ("quetzal", "quetzales", "centavo", "centavos"),
        "CRC": ("colón", "colones", "céntimo", "céntimos"),
        "BRL": ("real", "reales", "centavo", "centavos"),
    },
    "en": {
        **dict.fromkeys(("CLP", "ARS", "COP", "MXN", "UYU", "DOP", "CUP", "PHP"), PESO),
        "USD": ("dollar", "dollars", "cent", "cents"),
        "EUR": ("euro", "euros", "cent", "cents"),
        "GBP": ("pound", "pounds", "penny", "pence"),
        "PEN": ("sol", "soles", "céntimo", "céntimos"),
        "BRL": ("real", "reais", "centavo", "centavos"),
    },
}
# Between the units and the subunits.
AND = {"es": "con", "en": "and"}


def _plural(word, language):
    """A currency label's plural by the language's regular rule."""
    if not word:
        return word
    if language == "es":
        if word[-1] in "aeiouáéó":
            return word + "s"
        if word.endswith("z"):
            return word[:-1] + "ces"
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"


def _cardinal(number, language, lang_code):
    try:
        words = num2words(number, lang=lang_code)
    except NotImplementedError:
        words = num2words(number, lang=language)
    if language == "es":
        # Before a masculine noun: "un peso", "veintiún pesos", "un millón de pesos".
        words = re.sub(r"\bveintiuno\b", "veintiún", words)
        words = re.sub(r"\buno\b", "un", words)
        if re.search(r"\b(millón|millones|billón|billones)$", words):
            words += " de"
    else:
        # "two hundred seventy", not "two hundred and seventy,".
        words = re.sub(r",? and\b|,", "", words)
    return words


def amount_in_words(amount, currency, lang_code):
    """``amount`` of ``currency`` in words in ``lang_code`` (``es_CL``, ``en_US``),
    lower case; Odoo's ``amount_to_text`` for languages other than Spanish and
    English."""
    language = (lang_code or "en_US").split("_")[0]
    if language not in UNITS:
        return currency.with_context(lang=lang_code).amount_to_text(amount)
    amount = currency.round(abs(amount))
    integer = int(amount)
    fraction = round((amount - integer) * 10**currency.decimal_places)
    labels = currency.with_context(lang=lang_code)
    unit, units, subunit, subunits = UNITS[language].get(currency.name) or (
        (labels.currency_unit_label or currency.name).lower(),
        _plural((labels.currency_unit_label or currency.name).lower(), language),
        (labels.currency_subunit_label or "").lower(),
        _plural((labels.currency_subunit_label or "").lower(), language),
    )
    text = (
        f"{_cardinal(integer, language, lang_code)} {unit if integer == 1 else units}"
    )
    if fraction:
        text += (
            f" {AND[language]} {_cardinal(fraction, language, lang_code)}"
            f" {subunit if fraction == 1 else subunits}"
        )
    return text
