import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import TranslationModuleReader

MODULE = "collections_proactive"


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    """Every term the addon shows (fields, views, templates, data, code) has its
    Spanish translation: a string added without one fails here, not in front of a
    customer."""

    def test_spanish_translates_every_term(self):
        reader = TranslationModuleReader(self.env.cr, modules=[MODULE])
        terms = {
            source
            for module, _type, _name, _res_id, source, _value, _comments in reader
            if module == MODULE and source and source.strip()
        }
        self.assertGreater(len(terms), 500, "the reader found the addon's terms")
        po = polib.pofile(file_path(f"{MODULE}/i18n/es.po"))
        translated = {
            entry.msgid
            for entry in po
            if entry.msgstr and not entry.obsolete and "fuzzy" not in entry.flags
        }
        missing = sorted(terms - translated)
        self.assertFalse(
            missing,
            f"{len(missing)} terms without Spanish (./dev.sh i18n, then translate):"
            f" {missing[:20]}",
        )
