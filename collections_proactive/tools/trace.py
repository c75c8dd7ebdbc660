"""The trace a promise, a pause, a hold or a plan leaves for the company's staff:
a note on each invoice concerned and on the customer's open case."""

from markupsafe import Markup


def staff_env(env, company, partner=None):
    """``env`` in the language of the staff who read the note: the user's own when
    staff writes it, else (the customer on the portal) that of whom
    ``res.company._collection_notify`` tells: the customer's collector, else
    the collections manager; else the company's."""
    if not env.user.share:
        return env
    user = partner and company.sudo()._collection_staff_user(partner)
    lang = (user and user.lang) or company.partner_id.lang or "en_US"
    return env(context=dict(env.context, lang=lang))


def text_html(text):
    """Text someone typed (a customer on the portal, staff in a note) as HTML:
    escaped (``Markup`` % escapes it), its lines kept, no link made of it
    (``plaintext2html`` would turn a typed URL into one)."""
    return Markup("<p>%s</p>") % Markup("<br/>").join(str(text).splitlines())


def note_html(summary, note=None):
    """``summary`` then the typed ``note`` as HTML, both escaped."""
    body = Markup("<p>%s</p>") % summary
    if note and str(note).strip():
        body += text_html(note)
    return body


def log_trace(env, moves, partner, company, body):
    """``body`` (HTML) as a note on each of ``moves`` and on the open case of
    ``partner`` in ``company``, if it has one."""
    moves = moves.sudo()
    if moves:
        moves._message_log_batch(
            bodies=dict.fromkeys(moves.ids, body), message_type="comment"
        )
    cases = (
        env["collection.case"]
        .sudo()
        .search(
            [
                ("partner_id", "=", partner.commercial_partner_id.id),
                ("company_id", "=", company.id),
                ("state", "=", "open"),
            ]
        )
    )
    if cases:
        cases._message_log_batch(
            bodies=dict.fromkeys(cases.ids, body), message_type="comment"
        )
