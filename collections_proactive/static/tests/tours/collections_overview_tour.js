import { registry } from "@web/core/registry";

const stat = (name, value) =>
    `.o_field_widget[name=${name}] .o_stat_value:contains(/^\\s*${value}\\s*$/)`;

const figure = (name, text) => `.o_field_widget[name=${name}]:contains(${text})`;

const figuresShown = () => [
    {
        content: "The open cases are counted",
        trigger: stat("open_cases", 3),
    },
    {
        trigger: stat("my_cases", 1),
    },
    {
        content: "The receivables are aged",
        trigger: figure("ar_total", "7,000.00"),
    },
    {
        trigger: figure("aged_1_30", "1,000.00"),
    },
    {
        trigger: figure("aged_31_60", "2,000.00"),
    },
    {
        trigger: figure("aged_91", "4,000.00"),
    },
    {
        trigger: figure("amount_overdue", "7,000.00"),
    },
    {
        content: "The KPIs of the last three months are there",
        trigger: ".o_field_widget[name=dso]:not(:contains(/^\\s*0\\.0\\s*$/))",
    },
];

registry.category("web_tour.tours").add("collections_proactive_overview_tour", {
    url: "/odoo",
    steps: () => [
        {
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            content: "Open the Collections app",
            trigger: '.o_app[data-menu-xmlid="collections_proactive.collections_menu_root"]',
            run: "click",
        },
        {
            content: "It lands on the overview, titled",
            trigger: ".o_breadcrumb .active:contains(Overview)",
        },
        ...figuresShown(),
        {
            content: "Drill down to the open cases",
            trigger: "button[name=action_open_board]:has(.o_stat_text:contains(Open Cases))",
            run: "click",
        },
        {
            trigger: ".o_kanban_view .o_kanban_record:contains(Cliente Navegador Dos)",
        },
        {
            content: "The way back is named after the overview",
            trigger: ".o_breadcrumb .breadcrumb-item:not(.active) a:contains(/^Overview$/)",
            run: "click",
        },
        ...figuresShown(),
        {
            content: "Drill down to the aged receivables",
            trigger: "button[name=action_open_aging]",
            run: "click",
        },
        {
            trigger: ".o_breadcrumb .active:contains(Aged Receivables as of)",
        },
        {
            content: "The aged balance by customer and age, with its total",
            trigger: ".o_pivot_view .o_pivot_header_cell_closed:contains(Cliente Navegador Tres)",
        },
        {
            trigger: ".o_pivot_view th:contains(Over 90 Days)",
        },
        {
            content: "Drill down from the total to the open items",
            trigger: ".o_pivot_view .o_pivot_cell_value:contains(7,000.00)",
            run: "click",
        },
        {
            content: "A row opens its invoice",
            trigger: ".o_list_view .o_data_row:contains(Cliente Navegador Tres) td[name=move_id]",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=partner_id]:contains(Cliente Navegador Tres)",
        },
        {
            content: "Reporting > Aging asks the date",
            trigger: ".o_main_navbar button:contains(Reporting)",
            run: "click",
        },
        {
            trigger: '.o-dropdown-item[data-menu-xmlid="collections_proactive.collection_kpi_report_menu_aging"]',
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=date] input",
        },
        {
            trigger: ".modal button[name=action_open]",
            run: "click",
        },
        {
            content: "The aged balance of that date, titled with it",
            trigger: ".o_breadcrumb .active:contains(Aged Receivables as of)",
        },
        {
            trigger: ".o_pivot_view .o_pivot_cell_value:contains(7,000.00)",
        },
    ],
});
