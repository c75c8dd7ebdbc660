"""Running the addon's tests with pytest-odoo (``./dev.sh pytest``).

pytest-odoo runs the tests on an existing database where the addon is installed;
``./dev.sh pytest`` creates or updates it and writes the Odoo configuration
``.pytest-odoo.conf`` (database, addons path), used here unless ``ODOO_RC``,
``--odoo-config`` or ``--odoo-database`` say otherwise. This file puts Odoo in
the test mode its own runner sets (``odoo.tests.loader.run_suite``), which
pytest-odoo does not for Odoo 18.
"""

import os
import threading
from pathlib import Path

import pytest

from odoo.modules import module as odoo_module
from odoo.tools import config as odoo_config

ODOO_RC = Path(__file__).with_name(".pytest-odoo.conf")
if ODOO_RC.exists():
    os.environ.setdefault("ODOO_RC", str(ODOO_RC))

# The test framework logs an ERROR when imported out of test mode, and
# pytest-odoo imports it as soon as it has read Odoo's configuration, with
# test_enable off: that flag must stay off while the registry loads, or Odoo
# runs every installed module's at_install tests then. So the framework is
# imported here, in test mode, before pytest-odoo reads the configuration.
odoo_config["test_enable"] = True
try:
    import odoo.tests  # noqa: F401
finally:
    odoo_config["test_enable"] = False


def pytest_configure(config):
    if not odoo_config["db_name"] and not config.option.help:
        raise pytest.UsageError(
            "No Odoo database to test: run ./dev.sh pytest (it creates one and "
            f"{ODOO_RC.name}), or pass --odoo-database or --odoo-config."
        )


@pytest.fixture(scope="session", autouse=True)
def odoo_test_mode(load_registry, load_http):
    """What Odoo's runner sets around its tests: ``current_test`` (no mail
    leaves, nothing that asks it commits) and the test thread's ``testing``
    flag, once the registry is loaded (and the HTTP server started) as for a
    server. An HttpCase still enters the registry's test mode itself."""
    thread = threading.current_thread()
    saved = odoo_module.current_test, getattr(thread, "testing", False)
    odoo_module.current_test = True
    thread.testing = True
    yield
    odoo_module.current_test, thread.testing = saved
