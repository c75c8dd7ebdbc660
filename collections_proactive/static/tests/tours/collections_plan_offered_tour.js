import { registry } from "@web/core/registry";

// A collector draws up a plan for a high-risk customer, whose plans a manager
// proposes: the form offers to ask a manager, never a proposal that would be
// refused (and leave a numbered draft behind).
registry.category("web_tour.tours").add("collections_proactive_plan_offered", {
    steps: () => [
        {
            content: "Draw up a plan from the case",
            trigger: ".o_form_view button[name=action_new_plan]",
            run: "click",
        },
        {
            content: "The plan's schedule is previewed, with the policy's down payment",
            trigger: ".o_form_view .o_field_widget[name=installment_ids] .o_data_row",
        },
        {
            content: "No proposal is offered to the collector",
            trigger: ".o_form_statusbar:not(:has(button[name=action_propose]))",
        },
        {
            content: "A manager is asked instead",
            trigger: ".o_form_statusbar button[name=action_request_approval]",
            run: "click",
        },
        {
            content: "The draft is saved and waits for the manager",
            trigger: ".o_form_view .o_field_widget[name=name]:contains(PLAN/)",
        },
    ],
});
