"""Take the README's screenshots from a running demo, in headless Chromium.

Start the demo first (``./dev.sh run``), then::

    python bench/screenshots.py --url http://localhost:8069 --out docs/screenshots

It logs in as the demo collector (the overview where Collections opens, the aged
balance), as the administrator for the back office (the follow-up board, a
customer's risk panel, a reminder email as the customer receives it, the early
warnings, the cash-in forecast, a customer statement), opens the signed link of
an overdue email as the customer would (no login), and logs in as the demo
portal customer for the portal (what it owes, automatic debit, its statement,
its payment plan), and writes one PNG each.
Uses only Chromium's DevTools protocol (``websocket-client``, a test dependency).
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

ADDON = "collections_proactive"
# A JSON-RPC call from the logged-in page: (model, method, args, kwargs) -> result.
RPC = (
    "(model, method, args, kwargs = {}) => fetch('/web/dataset/call_kw',"
    " {method: 'POST', headers: {'Content-Type': 'application/json'},"
    " body: JSON.stringify({jsonrpc: '2.0', method: 'call',"
    " params: {model, method, args, kwargs}})})"
    ".then(r => r.json()).then(r => r.result)"
)


class Browser:
    """A headless Chromium driven through its DevTools protocol."""

    def __init__(self, width=1440, height=900):
        binary = shutil.which("chromium") or shutil.which("google-chrome")
        if not binary:
            raise SystemExit("Chromium is needed (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="cp_shots_")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                "--remote-debugging-port=9333",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _attempt in range(100):
            try:
                with urllib.request.urlopen("http://127.0.0.1:9333/json") as reply:
                    page = next(t for t in json.load(reply) if t["type"] == "page")
                break
            except (OSError, StopIteration):
                time.sleep(0.1)
        else:
            raise SystemExit("Chromium did not start")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.call("Page.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        return result.get("result", {}).get("value")

    def open(self, url, ready, timeout=60):
        """Go to ``url`` and wait until the CSS selector ``ready`` shows."""
        self.call("Page.navigate", url=url)
        deadline = time.time() + timeout
        while time.time() < deadline:
            time.sleep(0.5)
            if self.evaluate(f"!!document.querySelector({json.dumps(ready)})"):
                # Let fonts, images and the last renders settle.
                time.sleep(1.5)
                return
        raise SystemExit(f"{url}: {ready} never showed")

    def login(self, base, login, password):
        self.open(f"{base}/web/login", "form.oe_login_form")
        self.evaluate(
            "(() => {"
            f"document.querySelector('#login').value = {json.dumps(login)};"
            f"document.querySelector('#password').value = {json.dumps(password)};"
            "document.querySelector('form.oe_login_form').submit();"
            "})()"
        )
        time.sleep(3)

    def logout(self, base):
        self.call("Network.enable")
        self.call("Network.clearBrowserCookies")

    def shot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as image:
            image.write(base64.b64decode(data))
        print("wrote", path)

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--admin", default="admin:admin")
    parser.add_argument("--collector", default="cobrador:cobrador")
    parser.add_argument("--portal", default="portal_cliente:portal_cliente")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    base = args.url.rstrip("/")
    browser = Browser()
    try:
        # Where the collector lands: the overview, with its figures.
        browser.login(base, *args.collector.split(":", 1))
        browser.open(
            f"{base}/odoo/action-{ADDON}.collection_overview_action",
            ".o_field_widget[name=open_cases] .o_stat_value",
        )
        time.sleep(1)
        browser.shot(os.path.join(args.out, "overview.png"))
        browser.open(
            f"{base}/odoo/action-{ADDON}.collection_aging_wizard_action",
            ".modal .o_form_view",
        )
        browser.evaluate("document.querySelector('.modal footer .btn-primary').click()")
        time.sleep(3)
        browser.shot(os.path.join(args.out, "aging.png"))
        browser.logout(base)
        browser.login(base, *args.admin.split(":", 1))
        browser.open(
            f"{base}/odoo/action-{ADDON}.collection_case_action",
            ".o_kanban_record",
        )
        browser.shot(os.path.join(args.out, "board.png"))
        # The riskiest demo customer, on its Collections tab.
        browser.open(
            f"{base}/odoo/action-{ADDON}.res_partner_action_customers",
            ".o_data_row, .o_kanban_record",
        )
        partner = browser.evaluate(
            "fetch('/web/dataset/call_kw', {method: 'POST',"
            " headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify({jsonrpc: '2.0', method: 'call', params: {"
            " model: 'res.partner', method: 'search', args: ["
            " [['collection_risk_score', '>', 0]]],"
            " kwargs: {order: 'collection_risk_score desc', limit: 1}}})})"
            ".then(r => r.json()).then(r => r.result[0])"
        )
        browser.open(
            f"{base}/odoo/action-{ADDON}.res_partner_action_customers/{partner}",
            ".o_form_view .o_notebook",
        )
        browser.evaluate(
            "[...document.querySelectorAll('.o_notebook .nav-link')]"
            ".find(a => a.textContent.includes('Collections'))?.click()"
        )
        browser.evaluate(
            "document.querySelector('.o_notebook').scrollIntoView({block: 'start'})"
        )
        time.sleep(1.5)
        browser.shot(os.path.join(args.out, "risk_panel.png"))
        # A reminder email as the customer receives it, rendered by its template
        # in the customer's language and layout (queued cancelled: never sent).
        body = browser.evaluate(
            "(async () => {"
            " const call = (model, method, args, kwargs = {}) =>"
            "  fetch('/web/dataset/call_kw', {method: 'POST',"
            "   headers: {'Content-Type': 'application/json'},"
            "   body: JSON.stringify({jsonrpc: '2.0', method: 'call',"
            "    params: {model, method, args, kwargs}})})"
            "  .then(r => r.json()).then(r => r.result);"
            " const [reminder] = await call('collection.reminder', 'search',"
            "  [[['channel', '=', 'email'], ['kind', '=', 'overdue']]], {limit: 1});"
            " if (!reminder) return null;"
            " const [template] = await call('ir.model.data', 'search_read',"
            "  [[['module', '=', 'collections_proactive'],"
            "    ['name', '=', 'mail_template_reminder_overdue']], ['res_id']]);"
            " const mail = await call('mail.template', 'send_mail',"
            "  [template.res_id, reminder], {email_values: {state: 'cancel'},"
            "   email_layout_xmlid: 'mail.mail_notification_light'});"
            " const [row] = await call('mail.mail', 'read', [[mail], ['body_html']]);"
            " return row.body_html; })()"
        )
        if body:
            browser.open("about:blank", "body")
            browser.evaluate(f"document.body.innerHTML = {json.dumps(body)}")
            time.sleep(1)
            browser.shot(os.path.join(args.out, "reminder_email.png"))
        # The early warnings and the cash-in forecast by week.
        browser.open(
            f"{base}/odoo/action-{ADDON}.collection_risk_alert_action",
            ".o_list_view, .o_kanban_view, .o_view_nocontent",
        )
        time.sleep(1)
        browser.shot(os.path.join(args.out, "risk_alerts.png"))
        browser.open(
            f"{base}/odoo/action-{ADDON}.account_move_action_forecast",
            ".o_graph_view, .o_pivot_view, .o_list_view",
        )
        time.sleep(1.5)
        browser.shot(os.path.join(args.out, "cash_forecast.png"))
        # The customer statement of the riskiest customer, as its PDF shows it.
        browser.open(
            f"{base}/report/html/{ADDON}.report_customer_statement/{partner}",
            ".page",
        )
        time.sleep(1)
        browser.shot(os.path.join(args.out, "statement.png"))
        # The signed link of an overdue email: what the customer sees, no login.
        offer_url = browser.evaluate(
            f"({RPC})('collection.reminder', 'search_read',"
            " [[['channel', '=', 'email'], ['kind', 'in', ['overdue', 'offer']],"
            "   ['installment_id', '=', false]], ['offer_url']],"
            " {limit: 1, order: 'id desc'}).then(rows => rows[0]?.offer_url)"
        )
        browser.logout(base)
        if offer_url:
            browser.open(offer_url, ".o_collections_offer")
            browser.shot(os.path.join(args.out, "offer_page.png"))
        browser.login(base, *args.portal.split(":", 1))
        for page, shot, ready in (
            ("/my/collections", "portal_summary.png", ".o_collections_summary"),
            ("/my/autopay", "portal_autopay.png", ".o_collections_autopay"),
            ("/my/statement", "portal_statement.png", "#wrap form, #wrap .o_portal"),
        ):
            browser.open(f"{base}{page}", ready)
            browser.shot(os.path.join(args.out, shot))
        browser.open(f"{base}/my/payment_plans", ".o_portal_my_doc_table a")
        link = browser.evaluate(
            "document.querySelector('.o_portal_my_doc_table a').href"
        )
        browser.open(link, ".o_collections_plan")
        browser.shot(os.path.join(args.out, "portal_plan.png"))
    finally:
        browser.close()


if __name__ == "__main__":
    main()
