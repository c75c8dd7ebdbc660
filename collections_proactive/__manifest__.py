# Copyright 2026 collections_proactive contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
{
    "name": "Proactive Collections",
    "summary": "Risk scoring, pre-due reminders, follow-up board, payment plans "
    "and a customer portal for accounts receivable",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/collections-proactive/collections-proactive",
    "author": "collections_proactive contributors",
    "license": "AGPL-3",
    "development_status": "Alpha",
    "application": True,
    "depends": ["account", "account_payment", "sms", "portal", "mail"],
    "external_dependencies": {"python": ["python-stdnum", "num2words"]},
    "data": [
        "security/collections_proactive_groups.xml",
        "security/ir.model.access.csv",
        "security/collections_proactive_security.xml",
        "data/ir_cron_data.xml",
        "data/mail_template_data.xml",
        "data/sms_template_data.xml",
        "data/collection_strategy_data.xml",
        "views/collection_strategy_views.xml",
        "views/collection_reminder_views.xml",
        "views/collections_optout_templates.xml",
        "views/res_config_settings_views.xml",
        "views/account_move_views.xml",
        "views/res_partner_views.xml",
        "wizards/collection_risk_backtest_views.xml",
        "views/collections_proactive_menus.xml",
    ],
    "demo": ["demo/collections_proactive_demo.xml"],
}
