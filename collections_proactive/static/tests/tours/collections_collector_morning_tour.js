import { registry } from "@web/core/registry";

// A collector's morning, in the collector's language (the selectors name
// fields and buttons, not texts): the landing page with its figures, the
// board, a case, a promise logged from it and its trace in the case's chatter.
registry.category("web_tour.tours").add("collections_proactive_collector_morning_tour", {
    url: "/odoo",
    steps: () => [
        {
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            content: "Open Collections",
            trigger: '.o_app[data-menu-xmlid="collections_proactive.collections_menu_root"]',
            run: "click",
        },
        {
            content: "The landing page shows the collector's figures, not zeros",
            trigger:
                ".o_field_widget[name=my_cases] .o_stat_value:not(:contains(/^\\s*0\\s*$/))",
        },
        {
            content: "Open my cases on the board",
            trigger: "button[name=action_open_my_cases]",
            run: "click",
        },
        {
            content: "Open the customer's case",
            trigger: ".o_kanban_record:contains(Cliente Mañana)",
            run: "click",
        },
        {
            content: "Log the promise the customer just made on the phone",
            trigger: ".o_form_view button[name=action_log_promise]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=note] textarea",
            run: "edit Paga el viernes por transferencia",
        },
        {
            trigger: ".modal .o_collections_log_promise",
            run: "click",
        },
        {
            content: "The collector is told",
            trigger: ".o_notification",
        },
        {
            content: "The promise is traced on the case, with the note",
            trigger: ".o-mail-Message:contains(Paga el viernes por transferencia)",
        },
    ],
});
