"""The signatures of the links the messages carry (invoices, opt-out, choices)."""

import hashlib
import hmac

# Where a cursor keeps the key: a run signs tens of thousands of links.
KEY_CACHE = "collections_proactive.signing_key"


def sign(env, scope, message):
    """``odoo.tools.hmac(env(su=True), scope, message)``: the same signature,
    the database secret read once per cursor instead of through the parameters'
    cache at each link."""
    if not scope:
        raise ValueError("Non-empty scope required")
    key = env.cr.cache.get(KEY_CACHE)
    if key is None:
        secret = env["ir.config_parameter"].sudo().get_param("database.secret")
        key = env.cr.cache[KEY_CACHE] = secret.encode()
    return hmac.new(key, repr((scope, message)).encode(), hashlib.sha256).hexdigest()
