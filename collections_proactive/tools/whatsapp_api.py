"""The WhatsApp Business Cloud API as the channel uses it: the template
message request, Meta's answers and errors, the webhook signature. No ORM."""

import hashlib
import hmac
import json

import requests

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v21.0"
TIMEOUT = 20
# Meta's error codes after which trying the same message again may work: rate
# limits, temporary and unknown errors of the service.
TRANSIENT_CODES = {1, 2, 4, 17, 341, 80007, 130429, 131000, 131016, 131048, 131056}
# The number is not on WhatsApp (or cannot get this message): another channel.
NOT_ON_WHATSAPP_CODES = {131026}


class WhatsappError(Exception):
    """A send that failed: ``transient`` when trying again later may work.
    ``status`` is the HTTP status (None when Meta could not be reached),
    ``code`` Meta's error code and ``text`` its words (or the network error's
    name): the model writes them in the user's language."""

    def __init__(self, text, status=None, code=None, transient=False):
        super().__init__(text)
        self.text = text
        self.status = status
        self.code = code
        self.transient = transient

    @property
    def not_on_whatsapp(self):
        return self.code in NOT_ON_WHATSAPP_CODES


def template_payload(number, template_name, language_code, parameters):
    """The body of a template message, as Meta documents it."""
    template = {"name": template_name, "language": {"code": language_code}}
    if parameters:
        template["components"] = [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": text} for text in parameters],
            }
        ]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": number,
        "type": "template",
        "template": template,
    }


def send_template(base_url, version, phone_number_id, token, payload):
    """POST the message; Meta's message id (``wamid...``), or WhatsappError."""
    url = f"{base_url.rstrip('/')}/{version}/{phone_number_id}/messages"
    try:
        response = requests.post(
            url,
            json=payload,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
    except requests.RequestException as error:
        raise WhatsappError(error.__class__.__name__, transient=True) from error
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.ok and isinstance(answer, dict):
        messages = answer.get("messages")
        if (
            isinstance(messages, list)
            and messages
            and isinstance(messages[0], dict)
            and isinstance(messages[0].get("id"), str)
            and messages[0]["id"]
        ):
            return messages[0]["id"][:255]
    raise error_of(response.status_code, answer)


def error_of(status, answer):
    """The WhatsappError of a refused request: Meta's message and code in
    words, transient for rate limits and server errors."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return WhatsappError(
            "", status=status, transient=status >= 500 or status == 429
        )
    code = error.get("code")
    code = code if isinstance(code, int) else None
    details = error.get("error_data")
    details = details.get("details") if isinstance(details, dict) else None
    parts = [str(error.get("message") or "").strip()]
    if isinstance(details, str) and details.strip() not in parts:
        parts.append(details.strip())
    text = " ".join(" - ".join(p for p in parts if p).split())[:900]
    return WhatsappError(
        text,
        status=status,
        code=code,
        transient=status >= 500 or status == 429 or code in TRANSIENT_CODES,
    )


def signature(secret, body):
    """The ``X-Hub-Signature-256`` header Meta sends with ``body`` (bytes)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_ok(secret, body, header):
    if not (secret and isinstance(header, str) and header.isascii()):
        return False
    return hmac.compare_digest(signature(secret, body), header.strip())


def parse_notification(body):
    """The notification's JSON object, or None when it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def changes(data):
    """``[(phone number id, value)]`` of the notification's ``messages``
    changes, skipping anything malformed."""
    found = []
    if data.get("object") != "whatsapp_business_account":
        return found
    entries = data.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        items = entry.get("changes") if isinstance(entry, dict) else None
        for change in items if isinstance(items, list) else []:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata")
            number_id = (
                metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            )
            if isinstance(number_id, str) and number_id.isascii() and number_id:
                found.append((number_id, value))
    return found


def items(value, key):
    """The dicts of ``value[key]`` (statuses, messages)."""
    listed = value.get(key)
    return (
        [item for item in listed if isinstance(item, dict)]
        if isinstance(listed, list)
        else []
    )


def timestamp(item):
    """An event's unix time, or None when missing or malformed."""
    stamp = item.get("timestamp")
    if isinstance(stamp, str) and stamp.isascii() and stamp.isdigit():
        stamp = int(stamp[:12])
    return stamp if isinstance(stamp, int) and 0 < stamp < 10**11 else None
