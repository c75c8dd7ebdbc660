import { registry } from "@web/core/registry";

const card = ".o_kanban_record:contains(Cliente Tablero)";

registry.category("web_tour.tours").add("collections_proactive_board_tour", {
    url: "/odoo/action-collections_proactive.collection_case_action",
    steps: () => [
        {
            content: "The month's targets against what was reached, above the stages",
            trigger: ".o_collections_board_targets:contains(1,000,000):contains(CEI)",
        },
        {
            content: "The board shows every stage, the case waits in Overdue",
            trigger: `.o_kanban_group:contains(Overdue) ${card}`,
        },
        {
            trigger: ".o_kanban_group:contains(Promise to Pay)",
        },
        {
            content: "Drag the case to Escalated",
            trigger: `.o_kanban_group:contains(Overdue) ${card}`,
            run: "drag_and_drop(.o_kanban_group:contains(Escalated))",
        },
        {
            content: "The card is in Escalated, with an activity",
            trigger: `.o_kanban_group:contains(Escalated) ${card} .o-mail-ActivityButton i.text-success, .o_kanban_group:contains(Escalated) ${card} .o-mail-ActivityButton i.text-warning`,
            run: "click",
        },
        {
            content: "The escalation manager's activity names the customer",
            trigger: ".o-mail-ActivityListPopover:contains(Cliente Tablero)",
        },
    ],
});
