import { registry } from "@web/core/registry";

// The customer turns automatic debit on with its saved payment method, sees what
// will be charged, pauses and resumes it, then stops it (the test checks the
// mandate after each step).
registry.category("web_tour.tours").add("collections_proactive_autopay_tour", {
    url: "/my/autopay",
    steps: () => [
        {
            content: "No mandate yet: the form offers the saved payment method",
            trigger: ".o_collections_autopay_form select[name=token_id]:has(option)",
        },
        {
            content: "A cap per charge",
            trigger: ".o_collections_autopay_form input[name=max_amount]",
            run: "edit 1000",
        },
        {
            content: "Accept the terms",
            trigger: ".o_collections_autopay_form input[name=accept]",
            run: "check",
        },
        {
            content: "Turn it on",
            trigger: ".o_collections_autopay_submit",
            run: "click",
        },
        {
            content: "On, with the coming debits and the cap",
            trigger: ".o_collections_autopay_done:contains(Automatic debit is on.)",
        },
        {
            content: "What falls due soon is a coming debit",
            trigger: ".o_collections_autopay_mandate .o_collections_autopay_debit",
        },
        {
            content: "Pause it",
            trigger: ".o_collections_autopay_pause",
            run: "click",
        },
        {
            content: "Paused: nothing is charged",
            trigger: ".o_collections_autopay_done:contains(paused)",
        },
        {
            content: "Resume it",
            trigger: ".o_collections_autopay_resume",
            run: "click",
        },
        {
            content: "On again",
            trigger: ".o_collections_autopay_done:contains(on again)",
        },
        {
            content: "Stop it",
            trigger: ".o_collections_autopay_revoke",
            run: "click",
        },
        {
            content: "Stopped, and the form is offered again",
            trigger:
                ".o_collections_autopay:has(.o_collections_autopay_done:contains(stopped)) .o_collections_autopay_form",
        },
    ],
});
