from odoo import SUPERUSER_ID, api

REMINDER_TEMPLATES = (
    "collections_proactive.mail_template_reminder_notice",
    "collections_proactive.mail_template_reminder_due",
    "collections_proactive.mail_template_reminder_overdue",
)
# The table of the templates shipped before the receivable line was the unit:
# one row per invoice, dated by the invoice's last due date.
OLD_LOOP = '<t t-foreach="object.invoice_ids" t-as="invoice">'


def migrate(cr, version):
    """The shipped reminder emails list each amount due with its own date.
    They are data kept on update (``noupdate``): those still as shipped are
    reset from the module's files, in every installed language; a template a
    company rewrote is left as it is (it still lists the invoices)."""
    env = api.Environment(cr, SUPERUSER_ID, {})
    for xmlid in REMINDER_TEMPLATES:
        template = env.ref(xmlid, raise_if_not_found=False)
        if not template or not template.template_fs:
            continue
        if OLD_LOOP in (template.with_context(lang="en_US").body_html or ""):
            template.reset_template()
