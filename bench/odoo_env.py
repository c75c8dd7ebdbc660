"""Open an Odoo environment on a database, for the bench scripts."""

import os
import sys

_PARSED = []  # Odoo's configuration is parsed once per process


def open_env(db, odoo_path):
    """``(cursor, env)`` as superuser on ``db``, this repository on the addons path;
    the caller commits or rolls back and closes the cursor."""
    sys.path.insert(0, odoo_path)
    import odoo
    from odoo import SUPERUSER_ID, api

    if not _PARSED:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        odoo.tools.config.parse_config(
            [f"--addons-path={odoo_path}/addons,{repo}", "--log-level=warn"]
        )
        _PARSED.append(True)
    cr = odoo.modules.registry.Registry(db).cursor()
    return cr, api.Environment(cr, SUPERUSER_ID, {})
