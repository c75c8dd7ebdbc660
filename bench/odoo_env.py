"""Open an Odoo environment on a database, and measure blocks of work, for the
bench scripts."""

import os
import sys

_PARSED = []  # Odoo's configuration is parsed once per process

# A company's contact policy wide open (every day, 0-24 h, no gap, no weekly cap,
# no holidays): what a drill sends is decided by the steps alone.
OPEN_CONTACT_POLICY = {
    "collection_contact_preset": "custom",
    "collection_contact_weekday_from": "0",
    "collection_contact_weekday_to": "6",
    "collection_contact_hour_from": 0.0,
    "collection_contact_hour_to": 24.0,
    "collection_min_days_between_written": 0,
    "collection_max_written_per_week": 0,
    "collection_max_calls_per_week": 0,
    "collection_skip_holidays": False,
}


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
