"""Load on the customer portal: concurrent customers against Odoo with workers.

Creates (once) a demo database, gives 20 demo customers a portal login and a
proposed payment plan, starts Odoo with ``--workers``, then lets each customer
browse its summary, its plan and its invoice list for the given time. Prints the
throughput, the p50/p95/max latency per page and the error responses::

    python bench/portal_load.py --db cp_load --customers 20 --seconds 60
"""

import argparse
import re
import statistics
import sys
import threading
from datetime import timedelta

import requests
from odoo_env import (
    ADDON,
    OdooServer,
    add_odoo_path,
    clock,
    copy_database,
    database_exists,
    demo_template,
    open_env,
)


def prepare(db, odoo_path, customers):
    """The demo database, and ``customers`` portal users with a proposed plan
    each: ``[(login, plan id)]``."""
    if not database_exists(db):
        print(f"creating {db} with the demo data (a few minutes the first time)")
        copy_database(demo_template(odoo_path), db)
    cr, env = open_env(db, odoo_path)
    from odoo import Command, fields

    company = env.ref(f"{ADDON}.demo_company")
    portal = env.ref("base.group_portal")
    users = []
    partners = env["res.partner"].search(
        [
            (
                "id",
                "in",
                env["account.move"]
                .search(
                    [
                        ("company_id", "=", company.id),
                        ("move_type", "=", "out_invoice"),
                        ("state", "=", "posted"),
                        ("payment_state", "=", "not_paid"),
                    ]
                )
                .commercial_partner_id.ids,
            )
        ],
        order="id",
        limit=customers,
    )
    for index, partner in enumerate(partners):
        login = f"load_customer_{index:02d}"
        user = env["res.users"].search([("login", "=", login)])
        if not user:
            user = (
                env["res.users"]
                .with_context(no_reset_password=True)
                .create(
                    {
                        "name": f"{partner.name} (load)",
                        "login": login,
                        "password": login,
                        "company_id": company.id,
                        "company_ids": [Command.set(company.ids)],
                        "groups_id": [Command.set(portal.ids)],
                    }
                )
            )
            user.partner_id.parent_id = partner
        invoices = env["account.move"].search(
            [
                ("commercial_partner_id", "=", partner.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("payment_state", "=", "not_paid"),
            ]
        )
        invoices.message_subscribe(partner.ids)
        Plan = env["collection.payment.plan"].with_company(company)
        plan = Plan.search(
            [("partner_id", "=", partner.id), ("state", "=", "proposed")], limit=1
        )
        if not plan:
            taken = Plan.search(
                [("state", "in", ("proposed", "accepted", "active"))]
            ).invoice_ids
            free = invoices - taken
            if free:
                plan = Plan.create(
                    {
                        "partner_id": partner.id,
                        "company_id": company.id,
                        "invoice_ids": [Command.set(free.ids)],
                        "installment_count": 3,
                        "first_date": fields.Date.today() + timedelta(days=7),
                    }
                )
                plan.action_propose()
        users.append((login, plan.id))
    cr.commit()
    cr.close()
    return users


def customer(base, login, plan_id, window, samples, errors, lock):
    session = requests.Session()
    page = session.get(f"{base}/web/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    session.post(
        f"{base}/web/login",
        data={"login": login, "password": login, "csrf_token": token},
        timeout=30,
    )
    pages = [("summary", "/my/collections"), ("invoices", "/my/invoices")]
    if plan_id:
        pages.append(("plan", f"/my/payment_plans/{plan_id}"))
    # One untimed round: each worker compiles the portal's templates once.
    for _name, path in pages:
        session.get(base + path, timeout=120, allow_redirects=False)
    # Everybody starts the measured time together.
    window["barrier"].wait()
    index = 0
    while clock() < window["until"]:
        name, path = pages[index % len(pages)]
        index += 1
        start = clock()
        try:
            response = session.get(base + path, timeout=60, allow_redirects=False)
            status = response.status_code
        except requests.RequestException as error:
            status = str(error)
        took = clock() - start
        with lock:
            if status == 200:
                samples.setdefault(name, []).append(took)
            else:
                errors.append((name, status))


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="cp_load")
    add_odoo_path(parser)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8969)
    args = parser.parse_args()
    users = prepare(args.db, args.odoo_path, args.customers)
    server = OdooServer(
        args.odoo_path,
        args.db,
        args.port,
        workers=args.workers,
        options=["--log-level=warn", "--limit-time-real=300"],
    ).start()
    base = server.base
    try:
        # Warm the workers up (assets, registry) before measuring.
        for _warm in range(2 * args.workers):
            requests.get(f"{base}/web/login", timeout=60)
        samples, errors, lock = {}, [], threading.Lock()
        window = {}
        window["barrier"] = threading.Barrier(
            len(users),
            action=lambda: window.update(until=clock() + args.seconds),
        )
        threads = [
            threading.Thread(
                target=customer,
                args=(base, login, plan_id, window, samples, errors, lock),
            )
            for login, plan_id in users
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = args.seconds
    finally:
        server.stop()
    total = sum(len(values) for values in samples.values())
    print(
        f"{len(users)} customers, {args.seconds} s, {args.workers} workers:"
        f" {total} pages in {elapsed:.0f} s = {total / elapsed:.1f} pages/s,"
        f" {len(errors)} error responses"
    )
    print("page       count    p50 ms   p95 ms   max ms")
    for name, values in sorted(samples.items()):
        print(
            f"{name:10} {len(values):5}  {statistics.median(values) * 1000:8.0f}"
            f" {percentile(values, 0.95) * 1000:8.0f}"
            f" {max(values) * 1000:8.0f}"
        )
    for name, status in errors[:20]:
        print("ERROR", name, status)
    sys.exit(1 if errors or not total else 0)


if __name__ == "__main__":
    main()
