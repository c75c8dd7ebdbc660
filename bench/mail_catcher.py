"""The demo's mail catcher: every email and SMS the demo sends, kept to be read.

``./dev.sh run`` starts it beside Odoo and points the demo database at it (an
``ir.mail_server`` on its SMTP port, the ``sms.endpoint`` parameter on its web
port). Nothing leaves the machine::

    $VENV/bin/python bench/mail_catcher.py [--dir .demo-mail] [--smtp-port 2525]
                                            [--web-port 8025]

- SMTP on 127.0.0.1:``--smtp-port`` (``aiosmtpd``, no login, no TLS): each
  message is saved as ``NNNN.eml`` (the raw message, as a mail client opens it)
  and ``NNNN.html`` (its headers and HTML body, to read in a browser).
- SMS: Odoo's SMS API (``POST /api/sms/3/send``, what the ``sms`` module calls
  through IAP) on 127.0.0.1:``--web-port``: each text is saved as
  ``NNNN-sms.txt`` and answered as delivered.
- ``index.html`` lists everything newest first (served at
  http://localhost:``--web-port``/), ``index.txt`` has one line per message
  (``tail -f`` it).
"""

import argparse
import html
import json
import os
import re
import signal
import sys
import threading
import time
from email import message_from_bytes, policy
from email.utils import getaddresses
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

SMS_ROUTE = "/api/sms/3/send"
PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta http-equiv="refresh" content="10">
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4em; text-align: left; }}
tr:hover {{ background: #f5f5f5; }}
.kind {{ color: #666; font-size: smaller; }}
</style></head><body>
<h1>{title}</h1>
<p>{count} messages, newest first; the page refreshes every 10 seconds.</p>
<table><tr><th>#</th><th>Received</th><th></th><th>From</th><th>To</th>
<th>Subject / text</th><th></th></tr>
{rows}
</table></body></html>
"""


class Mailbox:
    """The folder the messages are kept in, numbered in arrival order."""

    def __init__(self, folder):
        self.folder = os.path.abspath(folder)
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(self.folder, ".gitignore"), "w") as file:
            file.write("*\n")
        self.lock = threading.Lock()
        self.entries = self._read_index()
        self.number = max((entry["number"] for entry in self.entries), default=0)

    def _read_index(self):
        path = os.path.join(self.folder, "index.json")
        if not os.path.exists(path):
            return []
        with open(path) as file:
            return json.load(file)

    def add(self, kind, sender, recipients, subject, files):
        """Record a message whose files ``{suffix: bytes}`` are written as
        ``NNNN<suffix>``; returns its number."""
        with self.lock:
            self.number += 1
            number = self.number
            names = {}
            for suffix, content in files.items():
                name = f"{number:04d}{suffix}"
                with open(os.path.join(self.folder, name), "wb") as file:
                    file.write(content)
                names[suffix] = name
            entry = {
                "number": number,
                "received": time.strftime("%Y-%m-%d %H:%M:%S"),
                "kind": kind,
                "from": sender,
                "to": ", ".join(recipients),
                "subject": subject,
                "files": names,
            }
            self.entries.append(entry)
            self._write_index(entry)
        print(
            f"{entry['received']} {kind} {number:04d} to {entry['to']}: {subject}",
            flush=True,
        )
        return number

    def _write_index(self, entry):
        with open(os.path.join(self.folder, "index.json"), "w") as file:
            json.dump(self.entries, file, indent=1, ensure_ascii=False)
        with open(os.path.join(self.folder, "index.txt"), "a") as file:
            file.write(
                "\t".join(
                    [
                        f"{entry['number']:04d}",
                        entry["received"],
                        entry["kind"],
                        entry["from"],
                        entry["to"],
                        entry["subject"],
                        " ".join(entry["files"].values()),
                    ]
                )
                + "\n"
            )
        rows = []
        for item in reversed(self.entries):
            links = " ".join(
                f'<a href="{html.escape(name)}">{html.escape(name.split(".")[-1])}</a>'
                for name in item["files"].values()
            )
            main = next(iter(item["files"].values()), "")
            rows.append(
                f"<tr><td>{item['number']:04d}</td><td>{item['received']}</td>"
                f'<td class="kind">{item["kind"]}</td>'
                f"<td>{html.escape(item['from'])}</td>"
                f"<td>{html.escape(item['to'])}</td>"
                f'<td><a href="{html.escape(main)}">{html.escape(item["subject"])}</a>'
                f"</td><td>{links}</td></tr>"
            )
        page = PAGE.format(
            title="Demo mail catcher",
            count=len(self.entries),
            rows="\n".join(rows),
        )
        path = os.path.join(self.folder, "index.html")
        with open(path + ".tmp", "w") as file:
            file.write(page)
        os.replace(path + ".tmp", path)


def email_page(message):
    """A page showing an email: its headers, its HTML body (else its text), its
    attachments' names."""
    body = message.get_body(preferencelist=("html", "plain"))
    content = body.get_content() if body else ""
    if body is not None and body.get_content_type() == "text/plain":
        content = f"<pre>{html.escape(content)}</pre>"
    else:
        # Only the body's content: the catcher's header goes above it.
        match = re.search(r"<body[^>]*>(.*)</body>", content, re.DOTALL | re.IGNORECASE)
        content = match.group(1) if match else content
    files = [part.get_filename() or "" for part in message.iter_attachments()]
    rows = "".join(
        f"<tr><th>{name}</th><td>{html.escape(str(message[name] or ''))}</td></tr>"
        for name in ("From", "To", "Cc", "Reply-To", "Date", "Subject")
        if message[name]
    )
    if files:
        rows += (
            f"<tr><th>Attachments</th><td>{html.escape(', '.join(files))}"
            " (open the .eml to see them)</td></tr>"
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(str(message['Subject'] or ''))}</title></head>"
        '<body style="margin:0"><table style="font-family:sans-serif;margin:1em;'
        f'border-collapse:collapse">{rows}</table><hr/>{content}</body></html>'
    ).encode()


class SmtpHandler:
    def __init__(self, mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=policy.default)
        self.mailbox.add(
            "email",
            str(message["From"] or envelope.mail_from),
            [address for _name, address in getaddresses(envelope.rcpt_tos)],
            str(message["Subject"] or ""),
            {".eml": raw, ".html": email_page(message)},
        )
        return "250 Message accepted for delivery"


class WebHandler(SimpleHTTPRequestHandler):
    """The folder, read-only, and Odoo's SMS API."""

    mailbox = None

    def do_POST(self):
        if self.path.split("?")[0] != SMS_ROUTE:
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
            messages = request["params"]["messages"]
        except (ValueError, KeyError, TypeError):
            self.send_error(400, "Not a JSON-RPC call of the SMS API")
            return
        results = []
        for message in messages:
            text = message.get("content") or ""
            for number in message.get("numbers") or ():
                self.mailbox.add(
                    "sms",
                    "SMS",
                    [number.get("number") or ""],
                    " ".join(text.split())[:120],
                    {"-sms.txt": (f"To: {number.get('number')}\n\n{text}\n".encode())},
                )
                results.append({"uuid": number.get("uuid"), "state": "success"})
        body = json.dumps(
            {"jsonrpc": "2.0", "id": request.get("id"), "result": results}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", default=".demo-mail", help="where messages are kept")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--web-port", type=int, default=8025)
    args = parser.parse_args()
    mailbox = Mailbox(args.dir)
    # The web port first: taken, the catcher stops before its SMTP port answers
    # (which ./dev.sh waits for).
    handler = type("Handler", (WebHandler,), {"mailbox": mailbox})
    web = ThreadingHTTPServer(
        (args.host, args.web_port), partial(handler, directory=mailbox.folder)
    )
    threading.Thread(target=web.serve_forever, daemon=True).start()
    controller = Controller(
        SmtpHandler(mailbox), hostname=args.host, port=args.smtp_port
    )
    controller.start()
    print(
        f"Mail catcher: SMTP {args.host}:{args.smtp_port}, SMS and messages at"
        f" http://localhost:{args.web_port}/ , kept in {mailbox.folder}",
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_args: stop.set())
    stop.wait()
    web.shutdown()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
