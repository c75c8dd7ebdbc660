import hashlib

from odoo import SUPERUSER_ID, api

# The English bodies of the emails that list invoices, as 18.0.1.2.0 shipped
# them: a template still exactly so was not rewritten by its company, and takes
# the signed invoice links (no portal token written per listed invoice when
# the message is sent).
SHIPPED_1_2_0 = {
    "collections_proactive.mail_template_reminder_notice": (
        "62ebfda7d61c11100cd6e625c46d070c"
    ),
    "collections_proactive.mail_template_reminder_due": (
        "fca764554e07d70628bca06070481bc2"
    ),
    "collections_proactive.mail_template_reminder_overdue": (
        "fec155a90f01342163c5592437a40a7d"
    ),
    "collections_proactive.mail_template_reminder_issued": (
        "816a0f0e329c79a335cb3b5b60887f37"
    ),
}


def migrate(cr, version):
    """The invoice links of the reminder emails are signed per invoice, the
    portal token made when one is followed. The templates are kept on update
    (``noupdate``): those still as shipped are reset from the module's files,
    in every installed language; a rewritten one is left as it is, and its
    invoices still get their tokens when it is sent."""
    env = api.Environment(cr, SUPERUSER_ID, {})
    for xmlid, digest in SHIPPED_1_2_0.items():
        template = env.ref(xmlid, raise_if_not_found=False)
        if not template or not template.template_fs:
            continue
        body = template.with_context(lang="en_US").body_html or ""
        if hashlib.md5(str(body).encode()).hexdigest() == digest:
            template.reset_template()
