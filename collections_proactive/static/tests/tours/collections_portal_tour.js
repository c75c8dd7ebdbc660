import { registry } from "@web/core/registry";

function sign(name, vat) {
    return [
        {
            content: "Type the signer's name",
            trigger: ".o_collections_accept_form input[name=signer_name]",
            run: `edit ${name}`,
        },
        {
            content: "Type the customer's RUT",
            trigger: ".o_collections_accept_form input[name=signer_vat]",
            run: `edit ${vat}`,
        },
        {
            content: "Accept and sign",
            trigger: ".o_collections_accept_submit",
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("collections_proactive_portal_accept_pay", {
    steps: () => [
        ...sign("María Pérez", "76.086.428-4"),
        {
            content: "A RUT with a wrong check digit is refused",
            trigger: ".o_collections_form_error:contains(not a valid RUT)",
        },
        ...sign("María Pérez", "76.086.428-5"),
        {
            content: "The plan is accepted",
            trigger: ".alert-success:contains(the plan is accepted)",
        },
        {
            content: "Pay the first installment",
            trigger: ".o_collections_pay_installment",
            run: "click",
        },
        {
            content: "Choose the demo provider",
            trigger: 'input[name="o_payment_radio"][data-payment-method-code="demo"]',
            run: "click",
        },
        {
            content: "Type a card number",
            trigger: 'input[name="customer_input"]',
            run: "edit 4242424242424242",
        },
        {
            content: "Pay",
            trigger: 'button[name="o_payment_submit_button"]:not(:disabled)',
            run: "click",
        },
        {
            content: "Back on the plan, the first installment shows paid",
            trigger:
                ".o_collections_installment:first .o_collections_installment_state.text-bg-success",
            timeout: 30000,
        },
    ],
});

registry.category("web_tour.tours").add("collections_proactive_portal_promise", {
    url: "/my/collections",
    steps: () => [
        {
            content: "Choose the date",
            trigger: ".o_collections_promise_form input[name=promised_date]",
            run() {
                const when = new Date(Date.now() + 5 * 86400000);
                this.anchor.value = when.toISOString().slice(0, 10);
            },
        },
        {
            content: "Promise it",
            trigger: ".o_collections_promise_submit",
            run: "click",
        },
        {
            content: "The promise is recorded and listed",
            trigger: ".alert-success:contains(your promise is recorded)",
        },
        {
            trigger: ".o_collections_promise",
        },
    ],
});

registry.category("web_tour.tours").add("collections_proactive_portal_request", {
    url: "/my/collections",
    steps: () => [
        {
            content: "Ask for a payment plan",
            trigger: ".o_collections_request_plan",
            run: "click",
        },
        {
            content: "Three installments",
            trigger: "select[name=installment_count]",
            run: "select 3",
        },
        {
            content: "Send the request",
            trigger: ".o_collections_request_submit",
            run: "click",
        },
        {
            content: "Within policy: the plan is ready to sign",
            trigger: ".o_collections_accept_form",
        },
        {
            trigger: ".o_collections_installment:eq(2)",
        },
    ],
});
