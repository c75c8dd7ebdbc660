"""A local stand-in for Meta's WhatsApp Cloud API (the real one is not
reachable from the test machines): an HTTP server on 127.0.0.1 that checks
each request the way Meta documents it (endpoint, bearer token, JSON body of a
template message) and answers as Meta does, errors included.

Odoo's test framework lets requests to 127.0.0.1 through and blocks the others.
"""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = re.compile(r"^/(v\d+\.\d+)/(\d+)/messages$")
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def notification(phone_id, statuses=(), messages=()):
    """A webhook notification as Meta sends it: the statuses and the incoming
    messages of the phone number ``phone_id``."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": phone_id,
                            },
                            "statuses": list(statuses),
                            "messages": list(messages),
                        },
                    }
                ],
            }
        ],
    }


def meta_error(status, code, message, error_type="OAuthException", details=None):
    error = {
        "message": message,
        "type": error_type,
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return status, {"error": error}


class FakeMeta:
    """``approved``: ``{(name, language code): number of parameters}``.
    ``not_on_whatsapp``: numbers answered with error 131026. ``queue``: answers
    given, in order, before the checks (``(status, json)``), for transient
    errors. ``requests``: what was received, ``(path, headers, body)``."""

    def __init__(self, phone_number_id, token, approved):
        self.phone_number_id = phone_number_id
        self.token = token
        self.approved = dict(approved)
        self.not_on_whatsapp = set()
        self.queue = []
        self.requests = []
        self.sent = []
        self._count = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                fake.requests.append((self.path, dict(self.headers), body))
                status, answer = fake.answer(self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def answer(self, path, headers, body):
        """Meta's answer to one request: its checks in the order Meta makes
        them (authentication, the phone number, the body, the template, the
        recipient)."""
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return meta_error(
                401,
                2500,
                "An active access token must be used to query information "
                "about the current user.",
            )
        if auth[len("Bearer ") :] != self.token:
            return meta_error(
                401,
                190,
                "Error validating access token: The session has been invalidated.",
            )
        match = PATH.match(path)
        if not match or match.group(2) != self.phone_number_id:
            return meta_error(
                400,
                100,
                "Unsupported post request. Object with ID does not exist, cannot "
                "be loaded due to missing permissions, or does not support this "
                "operation.",
                error_type="GraphMethodException",
            )
        if "application/json" not in (headers.get("Content-Type") or ""):
            return meta_error(400, 100, "(#100) Invalid parameter")
        if self.queue:
            return self.queue.pop(0)
        try:
            payload = json.loads(body)
        except ValueError:
            return meta_error(400, 100, "(#100) Invalid parameter")
        problem = self._payload_problem(payload)
        if problem:
            return meta_error(400, 100, f"(#100) {problem}")
        template = payload["template"]
        key = (template["name"], template["language"]["code"])
        if key not in self.approved:
            return meta_error(
                404,
                132001,
                "(#132001) Template name does not exist in the translation",
                details=f"template name ({key[0]}) does not exist in {key[1]}",
            )
        parameters = [
            parameter
            for component in template.get("components", [])
            if component.get("type") == "body"
            for parameter in component.get("parameters", [])
        ]
        if len(parameters) != self.approved[key] or not all(
            parameter.get("type") == "text"
            and isinstance(parameter.get("text"), str)
            and parameter["text"].strip()
            and "\n" not in parameter["text"]
            for parameter in parameters
        ):
            return meta_error(
                400,
                132000,
                "(#132000) Number of parameters does not match the expected "
                "number of params",
                details=f"body: number of localizable_params "
                f"({len(parameters)}) does not match the expected number of "
                f"params ({self.approved[key]})",
            )
        if payload["to"] in self.not_on_whatsapp:
            return meta_error(
                400,
                131026,
                "(#131026) Message undeliverable",
                details="Message Undeliverable.",
            )
        self._count += 1
        wamid = f"wamid.HBgLNTY5NTU1NTExMTEVAgARGBI{self._count:06d}"
        self.sent.append((wamid, payload))
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
            "messages": [{"id": wamid}],
        }

    @staticmethod
    def _payload_problem(payload):
        if not isinstance(payload, dict):
            return "The parameter messaging_product is required."
        if payload.get("messaging_product") != "whatsapp":
            return "The parameter messaging_product is required."
        if payload.get("recipient_type", "individual") != "individual":
            return "Invalid parameter recipient_type"
        to = payload.get("to")
        if not (isinstance(to, str) and to.isdigit() and 8 <= len(to) <= 15):
            return "Invalid parameter to"
        if payload.get("type") != "template":
            return "Invalid parameter type"
        template = payload.get("template")
        if not (
            isinstance(template, dict)
            and isinstance(template.get("name"), str)
            and isinstance(template.get("language"), dict)
            and isinstance(template["language"].get("code"), str)
        ):
            return "The parameter template is required."
        return None
