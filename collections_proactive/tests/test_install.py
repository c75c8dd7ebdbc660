from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import CollectionsCommon


@tagged("post_install", "-at_install")
class TestInstall(CollectionsCommon):
    def test_groups_and_implication(self):
        user_group = self.env.ref("collections_proactive.group_collections_user")
        manager_group = self.env.ref("collections_proactive.group_collections_manager")
        self.assertIn(user_group, manager_group.implied_ids)
        self.assertEqual(user_group.category_id, manager_group.category_id)
        self.assertTrue(
            self.collector.has_group("collections_proactive.group_collections_user")
        )
        self.assertFalse(
            self.collector.has_group("collections_proactive.group_collections_manager")
        )
        self.assertTrue(
            self.collections_manager.has_group(
                "collections_proactive.group_collections_user"
            )
        )

    def test_menus_by_group(self):
        root = self.env.ref("collections_proactive.collections_menu_root")
        config = self.env.ref("collections_proactive.collections_menu_configuration")
        settings = self.env.ref("collections_proactive.res_config_settings_menu")
        menus = self.env["ir.ui.menu"]

        visible = menus.with_user(self.collector)._visible_menu_ids()
        self.assertIn(root.id, visible)
        self.assertNotIn(config.id, visible, "collectors must not reach configuration")
        self.assertNotIn(settings.id, visible)

        # Settings are Odoo's, so they need an administrator on top of the manager.
        self.collections_manager.groups_id += self.env.ref("base.group_system")
        menus.env.registry.clear_cache()
        visible = menus.with_user(self.collections_manager)._visible_menu_ids()
        self.assertIn(config.id, visible)
        self.assertIn(settings.id, visible)

        plain_user = self.env["res.users"].create(
            {
                "name": "No collections",
                "login": "cp_plain",
                "groups_id": [Command.set(self.env.ref("base.group_user").ids)],
            }
        )
        visible = menus.with_user(plain_user)._visible_menu_ids()
        self.assertNotIn(root.id, visible)

    def test_collector_cannot_open_settings(self):
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(self.collector).create({})
        with self.assertRaises(AccessError):
            self.company.with_user(self.collector).write(
                {"collection_risk_window_days": 90}
            )

    def test_settings_are_per_company(self):
        other = self.setup_other_company(name="Other collections company")["company"]
        # Saved as the settings screen does (create, then execute); a Form would run
        # every accounting onchange of the screen, which is not what is tested here.
        self.env["res.config.settings"].with_company(self.company).create(
            {"collection_risk_window_days": 180, "collection_risk_high_threshold": 60}
        ).execute()
        self.assertEqual(self.company.collection_risk_window_days, 180)
        self.assertEqual(self.company.collection_risk_high_threshold, 60)
        self.assertEqual(other.collection_risk_window_days, 365)
        self.assertEqual(other.collection_risk_high_threshold, 55)

        settings = self.env["res.config.settings"].with_company(other).create({})
        self.assertEqual(settings.collection_risk_window_days, 365)

    def test_settings_validation(self):
        with self.assertRaisesRegex(ValidationError, "must increase"):
            self.company.write(
                {
                    "collection_risk_medium_threshold": 60,
                    "collection_risk_high_threshold": 50,
                }
            )
        with self.assertRaisesRegex(ValidationError, "between 1 and 100"):
            self.company.collection_risk_critical_threshold = 101
        with self.assertRaisesRegex(ValidationError, "30 and 3650 days"):
            self.company.collection_risk_window_days = 0

    def test_every_model_has_access_rights(self):
        model_ids = (
            self.env["ir.model.data"]
            .search(
                [("module", "=", "collections_proactive"), ("model", "=", "ir.model")]
            )
            .mapped("res_id")
        )
        for model in self.env["ir.model"].browse(model_ids):
            record_model = self.env[model.model]
            if (
                record_model._original_module != "collections_proactive"
                or record_model._abstract
                or record_model._transient
                or not record_model._auto
            ):
                continue
            self.assertTrue(
                model.access_ids, f"{model.model} has no access rights for any group"
            )
            groups = model.access_ids.group_id
            self.assertTrue(
                groups & self.env.ref("collections_proactive.group_collections_user")
                or groups
                & self.env.ref("collections_proactive.group_collections_manager"),
                f"{model.model} grants nothing to the collections groups",
            )

    def test_helpers_make_real_accounting(self):
        partner = self._cp_customer("Helper Check")
        invoice = self._cp_invoice(partner, 1000.0, "2026-01-05", "2026-02-04")
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(str(invoice.invoice_date_due), "2026-02-04")
        self.assertEqual(invoice.amount_total, 1000.0)
        self._cp_pay(invoice, 400.0, "2026-02-01")
        self.assertEqual(invoice.payment_state, "partial")
        self.assertEqual(invoice.amount_residual, 600.0)
        self._cp_pay(invoice, 600.0, "2026-02-10")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
