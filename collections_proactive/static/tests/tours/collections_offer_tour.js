import { registry } from "@web/core/registry";

// The customer follows the link of an offer, no login: it sees what falls due and
// promises a date (the tour's url is given by the test: the link is signed).
registry.category("web_tour.tours").add("collections_proactive_offer_tour", {
    steps: () => [
        {
            content: "The amounts of the message, each with its pay button",
            trigger: ".o_collections_offer table:contains(Pay now)",
        },
        {
            content: "The four choices are offered",
            trigger: ".o_collections_offer:contains(Set up automatic payment):contains(Ask for a payment plan)",
        },
        {
            content: "The date suggested by the page is within the policy: promise it",
            trigger: ".o_collections_offer button:contains(Promise this date)",
            run: "click",
        },
        {
            content: "The promise is noted",
            trigger: ".o_collections_offer .alert-success:contains(we noted that you will pay)",
        },
    ],
});
