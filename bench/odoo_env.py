"""Open an Odoo environment on a database, and measure blocks of work, for the
bench scripts."""

import os
import sys

_PARSED = []  # Odoo's configuration is parsed once per process


def open_env(db, odoo_path, extra_addons=()):
    """``(cursor, env)`` as superuser on ``db``, this repository (and
    ``extra_addons`` folders) on the addons path; the caller commits or rolls back
    and closes the cursor."""
    sys.path.insert(0, odoo_path)
    import odoo
    from odoo import SUPERUSER_ID, api

    if not _PARSED:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        paths = ",".join([f"{odoo_path}/addons", repo, *extra_addons])
        odoo.tools.config.parse_config([f"--addons-path={paths}", "--log-level=warn"])
        _PARSED.append(True)
    cr = odoo.modules.registry.Registry(db).cursor()
    return cr, api.Environment(cr, SUPERUSER_ID, {})


def clock():
    """Wall-clock seconds that freezegun does not freeze."""
    return os.times().elapsed


class Meter:
    """Time and queries of a block: ``with Meter(cr) as m: ...; m.seconds``."""

    def __init__(self, cr):
        self.cr = cr

    def __enter__(self):
        self.start, self.queries0 = clock(), self.cr.sql_log_count
        return self

    def __exit__(self, *exc):
        self.seconds = clock() - self.start
        self.queries = self.cr.sql_log_count - self.queries0
