from odoo.tools.sql import drop_index


def uninstall_hook(env):
    """Drop what the addon added to Odoo's own tables outside its fields: the
    ORM removes the columns it owns, not an index made in ``init``."""
    drop_index(env.cr, "account_move_line_collection_open_index", "account_move_line")
