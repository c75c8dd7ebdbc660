"""Access to the addon's records through Odoo's own public routes: the mail
chatter routes and the report routes."""

from odoo.exceptions import MissingError

ACCESS_KEYS = ("token", "hash", "pid")


def thread_access_kwargs(model, thread_id, kwargs):
    """``kwargs`` of ``_get_thread_with_access`` with only the credentials the
    record can check: Odoo's mail routes (``/mail/chatter_fetch``,
    ``/mail/message/post``...) hand any JSON value to ``consteq`` and
    ``_sign_token``, which fail with a server error on a model without an
    access token, a record that has none yet, or a value that is not ASCII
    text. What cannot be checked is dropped: the access is then refused."""
    token_field = model._mail_post_token_field
    if token_field not in model._fields:
        return {key: value for key, value in kwargs.items() if key not in ACCESS_KEYS}
    thread = (
        model.browse(int(thread_id)).sudo().exists()
        if _is_id(thread_id)
        else model.browse()
    )
    if not (thread and thread[token_field]):
        return {key: value for key, value in kwargs.items() if key not in ACCESS_KEYS}
    kwargs = dict(kwargs)
    token = kwargs.get("token")
    if token is not None and not (isinstance(token, str) and token.isascii()):
        kwargs.pop("token")
    signed = kwargs.get("hash"), kwargs.get("pid")
    if any(value is not None for value in signed) and not (
        isinstance(signed[0], str) and signed[0].isascii() and _is_id(signed[1])
    ):
        kwargs.pop("hash", None)
        kwargs.pop("pid", None)
    return kwargs


def _is_id(value):
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return 0 < number < 2**31


def report_docs(model, docids):
    """The records a QWeb report prints, checked before it renders: a record
    that does not exist or that the user may not read is refused with
    Odoo's own ``MissingError``/``AccessError`` (a 4xx and a warning on
    ``/report/...``), rather than failing inside the template, which the
    HTTP layer answers and logs as a server error."""
    if not all(_is_id(docid) for docid in docids or ()):
        raise MissingError(
            model.env._("This document does not exist or has been deleted.")
        )
    docs = model.browse(docids)
    existing = docs.exists()
    if len(existing) != len(set(docs.ids)):
        raise MissingError(
            model.env._("This document does not exist or has been deleted.")
        )
    existing.check_access("read")
    return docs
