import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_amount, format_date

# What can fill a template's {{1}}, {{2}}...: the key, in the parameters list.
PARAMETER_KEYS = (
    "customer",
    "company",
    "amount",
    "due_date",
    "invoice_count",
    "pay_url",
)
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# Meta's rules for a template name and a language code.
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2,3})?$")


class CollectionWhatsappTemplate(models.Model):
    """A message template approved by Meta in one language: WhatsApp sends a
    business-initiated message only from such a template, filled with
    parameters. The same Meta name in several languages is several records;
    a step points to one of them and each customer gets the language closest
    to theirs."""

    _name = "collection.whatsapp.template"
    _description = "Collection WhatsApp Template"
    _order = "name, language_code, id"
    _check_company_auto = True

    name = fields.Char(
        string="Meta Template Name",
        required=True,
        help="The template's name as approved in WhatsApp Manager: lowercase "
        "letters, digits and underscores.",
    )
    label = fields.Char(
        string="Description",
        translate=True,
        help="What the template is for, as staff see it.",
    )
    language_code = fields.Char(
        required=True,
        default="es",
        help="The template language's code at Meta: es, es_MX, en, en_US, pt_BR...",
    )
    body = fields.Text(
        string="Body Preview",
        required=True,
        help="The approved text with its {{1}}, {{2}}... placeholders, as Meta "
        "shows it: logged in the customer's chatter with the values filled in.",
    )
    parameters = fields.Char(
        required=True,
        default="customer,amount,due_date,pay_url",
        help="What fills {{1}}, {{2}}..., in order, separated by commas, among: "
        "customer (the customer's name), company (the company's name), amount "
        "(the amount due), due_date (the earliest due date), invoice_count (the "
        "number of invoices) and pay_url (the payment link).",
    )
    company_id = fields.Many2one(
        "res.company",
        help="Leave empty to share the template with every company.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "name_language_company_unique",
            "UNIQUE NULLS NOT DISTINCT(name, language_code, company_id)",
            "A template exists once per language and company.",
        ),
    ]

    @api.depends("name", "language_code", "label")
    def _compute_display_name(self):
        for template in self:
            template.display_name = (
                f"{template.label or template.name} ({template.language_code})"
            )

    @api.constrains("name", "language_code", "body", "parameters")
    def _check_template(self):
        for template in self:
            if not TEMPLATE_NAME.match(template.name or ""):
                raise ValidationError(
                    self.env._(
                        "The template name %(name)r is not one Meta accepts: "
                        "lowercase letters, digits and underscores only.",
                        name=template.name,
                    )
                )
            if not LANGUAGE_CODE.match(template.language_code or ""):
                raise ValidationError(
                    self.env._(
                        "The language code %(code)r is not one of Meta's: write "
                        "it like es, es_MX or en_US.",
                        code=template.language_code,
                    )
                )
            keys = template._parameter_keys()
            unknown = [key for key in keys if key not in PARAMETER_KEYS]
            if unknown or not all(keys):
                raise ValidationError(
                    self.env._(
                        "Template %(name)s: unknown parameter %(keys)s. Use "
                        "%(allowed)s, separated by commas.",
                        name=template.name,
                        keys=", ".join(repr(key) for key in unknown) or "''",
                        allowed=", ".join(PARAMETER_KEYS),
                    )
                )
            numbers = {int(n) for n in PLACEHOLDER.findall(template.body or "")}
            if numbers != set(range(1, len(keys) + 1)):
                raise ValidationError(
                    self.env._(
                        "Template %(name)s: the body has the placeholders "
                        "%(found)s but %(count)s parameters are listed; number "
                        "them {{1}} to {{%(count)s}}, one per parameter.",
                        name=template.name,
                        found=", ".join(f"{{{{{n}}}}}" for n in sorted(numbers)) or "-",
                        count=len(keys),
                    )
                )

    def _parameter_keys(self):
        self.ensure_one()
        return [key.strip() for key in (self.parameters or "").split(",")]

    def _for_lang(self, lang, company):
        """The version of this template (same Meta name) for a customer who
        speaks ``lang`` (an Odoo code: es_CL): the exact language, else the same
        language of another country, else the company's language, else this
        one."""
        self.ensure_one()
        versions = self.sudo().search(
            [
                ("name", "=", self.name),
                ("company_id", "in", [False, company.id]),
            ]
        )
        company_lang = company.partner_id.lang or "en_US"
        for wanted in (lang, company_lang):
            if not wanted:
                continue
            base = wanted.split("_")[0]
            for match in (
                lambda v, wanted=wanted: v.language_code == wanted,
                lambda v, base=base: v.language_code == base,
                lambda v, base=base: v.language_code.split("_")[0] == base,
            ):
                found = versions.filtered(match)
                if found:
                    # A company's own version before a shared one.
                    return found.sorted(lambda v: (not v.company_id, v.id))[:1]
        return self.sudo()

    def _parameter_values(self, reminder):
        """The text of each parameter for ``reminder``, in order: formatted in
        the template's language (WhatsApp refuses an empty parameter, hence the
        dash for a value that is missing)."""
        self.ensure_one()
        env = reminder.with_context(lang=self._odoo_lang()).env
        partner = reminder.partner_id
        dates = [d for d in reminder.due_line_ids.mapped("date_maturity") if d]
        if reminder.installment_id.date:
            dates = [reminder.installment_id.date]
        values = {
            "customer": partner.commercial_partner_id.name or partner.name,
            "company": reminder.company_id.name,
            "amount": format_amount(env, reminder.amount_total, reminder.currency_id),
            "due_date": format_date(env, min(dates)) if dates else "",
            "invoice_count": str(len(reminder.invoice_ids)),
            "pay_url": reminder.pay_url or reminder.company_id.get_base_url(),
        }
        # WhatsApp refuses a parameter with a new line, a tab or four spaces.
        return [
            " ".join(str(values[key] or "").split())[:1000] or "-"
            for key in self._parameter_keys()
        ]

    def _odoo_lang(self):
        """The installed Odoo language closest to the template's."""
        self.ensure_one()
        installed = [code for code, _name in self.env["res.lang"].get_installed()]
        code = self.language_code
        base = code.split("_")[0]
        return next(
            (lang for lang in installed if lang == code),
            next((lang for lang in installed if lang.split("_")[0] == base), "en_US"),
        )

    def _render_preview(self, values):
        """The body with ``values`` in its placeholders, for the chatter."""
        self.ensure_one()

        def fill(match):
            index = int(match.group(1)) - 1
            return values[index] if 0 <= index < len(values) else match.group(0)

        return PLACEHOLDER.sub(fill, self.body or "")
