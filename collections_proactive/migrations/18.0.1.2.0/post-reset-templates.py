import hashlib

from odoo import SUPERUSER_ID, api

# The English bodies of the reminder emails as 18.0.1.1.0 shipped them: a
# template still exactly so was not rewritten by its company, and takes the
# new version (the link to the customer's choices).
SHIPPED_1_1_0 = {
    "collections_proactive.mail_template_reminder_notice": (
        "b65e38c5b62627aa65ae109515e301c8"
    ),
    "collections_proactive.mail_template_reminder_due": (
        "81bb3fd415c9df8d5d1affc530dad46c"
    ),
    "collections_proactive.mail_template_reminder_overdue": (
        "a2b75d333f3086df441507fb21bb3865"
    ),
}
# The overdue SMS as 18.0.1.1.0 shipped it (it now links to the same choices).
SHIPPED_SMS_1_1_0 = {
    "collections_proactive.sms_template_reminder_overdue": (
        "ea6fe3704ccb0208c61c5e20ac77053f"
    ),
}


def migrate(cr, version):
    """The reminder emails invite the customer to automatic payment, and the
    due-date and overdue ones (the overdue SMS too) link to its choices (pay
    now, automatic payment, a date, a plan). They are kept on update
    (``noupdate``): those still as shipped are reset from the module's files,
    in every installed language; a rewritten one is left as it is."""
    env = api.Environment(cr, SUPERUSER_ID, {})
    for xmlid, digest in SHIPPED_1_1_0.items():
        template = env.ref(xmlid, raise_if_not_found=False)
        if not template or not template.template_fs:
            continue
        body = template.with_context(lang="en_US").body_html or ""
        if hashlib.md5(str(body).encode()).hexdigest() == digest:
            template.reset_template()
    for xmlid, digest in SHIPPED_SMS_1_1_0.items():
        template = env.ref(xmlid, raise_if_not_found=False)
        if not template or not template.template_fs:
            continue
        body = template.with_context(lang="en_US").body or ""
        if hashlib.md5(body.encode()).hexdigest() == digest:
            template.reset_template()
