"""Time the customer statement of a customer with thousands of lines.

    $VENV/bin/python bench/statement_bench.py [--db cp_statement] [--invoices 2600]

Makes ``--db`` afresh from a template with the addon, fills it with
``generate_receivables.py`` for one customer (``--invoices`` invoices and the
payments its profile draws: about two statement lines per invoice), then
renders that customer's statement for its whole history, as *Print* and
``/my/statement`` do: the report's values (its queries), the HTML (QWeb) and the
PDF (wkhtmltopdf, its styles served by an Odoo started on ``--port``). Each is
timed ``--repeat`` times; the best and the median are printed with the number of
lines on the statement. Nothing is written by the renders (rolled back).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date

from odoo_env import (
    ADDON,
    OdooServer,
    add_odoo_path,
    copy_database,
    open_env,
    template_database,
)

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = f"{ADDON}.action_report_customer_statement"


def timed(function, repeat):
    times, result = [], None
    for _attempt in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def check_styles(Report, server, customer, data):
    """Stop if a style sheet of the PDF's pages does not load or does not
    compile: wkhtmltopdf would lay them out unstyled, fast and wrong."""
    report = Report._get_report(REPORT)
    html = Report._render_qweb_html(REPORT, customer.ids, data)[0]
    body = report._prepare_html(html, report_model=report.model)[0][0]
    for href in re.findall(r'<link[^>]*href="([^"]+\.css)"', body):
        css = urllib.request.urlopen(server.base + href, timeout=60).read()
        if b"css_error_message" in css:
            sys.exit(f"the style bundle {href} does not compile")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="cp_statement")
    parser.add_argument(
        "--template",
        default="cp_statement_tpl",
        help="the template database (made once per addon version) --db is copied from",
    )
    parser.add_argument("--invoices", type=int, default=2600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=8879)
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    add_odoo_path(parser)
    args = parser.parse_args()
    template = template_database(args.template, args.odoo_path)
    copy_database(template, args.db)
    subprocess.run(
        [
            sys.executable,
            os.path.join(HERE, "generate_receivables.py"),
            "--db",
            args.db,
            "--customers",
            "1",
            "--invoices",
            str(args.invoices),
            "--today",
            str(args.today),
            "--odoo-path",
            args.odoo_path,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    cr, env = open_env(args.db, args.odoo_path)
    try:
        company = env["res.company"].search([], order="id desc", limit=1)
        env = env(context=dict(env.context, allowed_company_ids=company.ids))
        # The generated customer (the generator's templates have a namesake
        # with a couple of invoices): the one with the most invoices.
        Move = env["account.move"]
        domain = [("move_type", "=", "out_invoice"), ("company_id", "=", company.id)]
        customer = max(
            Move._read_group(domain, ["commercial_partner_id"], ["__count"]),
            key=lambda group: group[1],
        )[0]
        invoice = Move.search(
            [*domain, ("commercial_partner_id", "=", customer.id)],
            order="invoice_date",
            limit=1,
        )
        data = {
            "date_from": str(invoice.invoice_date),
            "date_to": str(args.today),
            "company_id": company.id,
        }
        Report = env["ir.actions.report"]
        # wkhtmltopdf fetches the report's styles from a running server.
        server = OdooServer(
            args.odoo_path,
            args.db,
            port=args.port,
            workers=0,
            logfile=os.path.join(tempfile.gettempdir(), f"{args.db}_server.log"),
        )
        server.start()
        env["ir.config_parameter"].set_param("report.url", server.base)
        values = env["report.collections_proactive.report_customer_statement"]
        statement = values._get_report_values(customer.ids, data)["statements"][
            customer.id
        ]
        # One PDF untimed: the server makes the report's style bundles at the
        # first request, and a render before that has no styles at all (its
        # wkhtmltopdf took 4 s where a styled one took 45 s: a best of 3 that
        # counted it measured an unstyled PDF).
        Report._render_qweb_pdf(REPORT, customer.ids, data)
        check_styles(Report, server, customer, data)
        moves, items = len(statement["moves"]), len(statement["open_items"])
        print(
            f"{customer.name}: {moves + items} lines on the statement ({moves}"
            f" invoices, credit notes and payments from {invoice.invoice_date} to"
            f" {args.today}, {items} open items)"
        )
        for label, function in (
            (
                "report values (queries)",
                lambda: values._get_report_values(customer.ids, data),
            ),
            (
                "HTML (QWeb)",
                lambda: Report._render_qweb_html(REPORT, customer.ids, data),
            ),
            (
                "PDF (QWeb and wkhtmltopdf)",
                lambda: Report._render_qweb_pdf(REPORT, customer.ids, data),
            ),
        ):
            best, median, result = timed(function, args.repeat)
            print(f"  {label:<30} best {best:6.2f} s   median {median:6.2f} s")
        pdf = result[0]
        print(
            f"  the PDF: {pdf.count(b'/Type /Page') - pdf.count(b'/Type /Pages')}"
            f" pages, {len(pdf) / 1e6:.1f} MB"
        )
        server.stop()
    finally:
        cr.rollback()
        cr.close()


if __name__ == "__main__":
    main()
