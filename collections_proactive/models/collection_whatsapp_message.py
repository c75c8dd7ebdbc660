import logging
import threading
import unicodedata
from datetime import UTC, datetime, timedelta

import psycopg2
from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL, mute_logger

from ..tools import whatsapp_api

_logger = logging.getLogger(__name__)

BATCH_SIZE = 100
RETRY_DELAY = timedelta(minutes=30)
# A message left "sending" this long was interrupted (a crash between the
# request to Meta and the commit of its answer).
INTERRUPTED_AFTER = timedelta(minutes=15)
# What a customer replies to stop the reminders, once upper-cased and without
# accents or punctuation.
STOP_WORDS = {"STOP", "BAJA", "PARAR", "PARA", "DETENER", "CANCELAR", "UNSUBSCRIBE"}
STATUS_RANK = {"sending": 0, "sent": 1, "delivered": 2, "read": 3}


class CollectionWhatsappMessage(models.Model):
    """One WhatsApp template message of a reminder, from the moment the reminder
    goes out (in the same transaction: nothing is lost) to Meta's last status.

    Exactly once: a reminder has at most one message (unique key), and a message
    is handed to Meta only from ``outgoing``, after ``sending`` is committed: a
    crash or a re-run never sends it twice (an interrupted one is failed, not
    sent again). Meta's message id is unique: a status applies to one message.
    """

    _name = "collection.whatsapp.message"
    _description = "Collection WhatsApp Message"
    _order = "id desc"
    _rec_name = "number"
    _check_company_auto = True

    reminder_id = fields.Many2one(
        "collection.reminder", required=True, readonly=True, ondelete="cascade"
    )
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, readonly=True, index=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    template_id = fields.Many2one(
        "collection.whatsapp.template", required=True, readonly=True
    )
    number = fields.Char(
        required=True, readonly=True, help="The customer's number, E.164 digits."
    )
    parameters = fields.Json(readonly=True)
    body = fields.Text(readonly=True, help="The template with its values filled in.")
    state = fields.Selection(
        [
            ("outgoing", "Outgoing"),
            ("sending", "Sending"),
            ("sent", "Sent"),
            ("delivered", "Delivered"),
            ("read", "Read"),
            ("failed", "Failed"),
        ],
        required=True,
        default="outgoing",
        index=True,
        readonly=True,
    )
    wamid = fields.Char(
        string="Meta Message ID", readonly=True, copy=False, index="btree_not_null"
    )
    next_try = fields.Datetime(
        default=fields.Datetime.now, readonly=True, string="Next Attempt"
    )
    attempt_count = fields.Integer(readonly=True)
    sent_date = fields.Datetime(readonly=True)
    status_date = fields.Datetime(
        readonly=True, help="When Meta reported the last status."
    )
    error_code = fields.Integer(readonly=True, help="Meta's error code.")
    failure_reason = fields.Text(readonly=True)
    mail_message_id = fields.Many2one(
        "mail.message", readonly=True, ondelete="set null"
    )

    _sql_constraints = [
        (
            "reminder_unique",
            "UNIQUE(reminder_id)",
            "A reminder goes out on WhatsApp once.",
        ),
        ("wamid_unique", "UNIQUE(wamid)", "Meta's message ids are unique."),
    ]

    # ------------------------------------------------------------------
    # Sending (the queue's scheduled action)
    # ------------------------------------------------------------------

    @api.model
    def _api_endpoint(self):
        """Meta's Graph API address and version: system parameters, so that a
        test (or a proxy) can point them elsewhere."""
        params = self.env["ir.config_parameter"].sudo()
        return (
            params.get_param(
                "collections_proactive.whatsapp_base_url",
                whatsapp_api.DEFAULT_BASE_URL,
            ),
            params.get_param(
                "collections_proactive.whatsapp_api_version",
                whatsapp_api.DEFAULT_VERSION,
            ),
        )

    @api.model
    def _cron_send_whatsapp(self, batch_size=BATCH_SIZE):
        """Send the due outgoing messages, one transaction each: the state
        ``sending`` is committed before the request and its answer after it.
        A system job: it runs in sudo, as the scheduler does."""
        self = self.sudo()  # noqa: PLW0642
        auto_commit = not (
            getattr(threading.current_thread(), "testing", False)
            or self.env.registry.in_test_mode()
        )
        self._fail_interrupted()
        self.env["collection.whatsapp.notification"]._prune()
        now = fields.Datetime.now()
        domain = [("state", "=", "outgoing"), ("next_try", "<=", now)]
        done = 0
        for message in self.search(domain, order="next_try, id", limit=batch_size):
            done += bool(message._send_one(auto_commit))
        remaining = self.search_count(domain)
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return {"done": done, "remaining": remaining}

    def _send_one(self, auto_commit):
        """Hand this outgoing message to Meta once. Returns whether it was
        this worker's to send."""
        self.ensure_one()
        self.env.flush_all()
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        """SELECT id FROM collection_whatsapp_message
                            WHERE id = %s AND state = 'outgoing'
                              FOR UPDATE SKIP LOCKED""",
                        self.id,
                    )
                )
                mine = self.env.cr.fetchone()
        except psycopg2.errors.SerializationFailure:
            # Another worker committed it after this transaction began (it
            # holds "sending" or more by now): theirs.
            return False
        if not mine:
            return False
        self.invalidate_recordset()
        refusal = self._refusal()
        if refusal:
            self._fail(refusal)
            self._commit(auto_commit)
            return True
        company = self.company_id.sudo()
        self.write({"state": "sending", "attempt_count": self.attempt_count + 1})
        # From here on, a crash leaves it "sending": never sent again.
        self._commit(auto_commit)
        base_url, version = self._api_endpoint()
        payload = whatsapp_api.template_payload(
            self.number,
            self.template_id.name,
            self.template_id.language_code,
            self.parameters or [],
        )
        try:
            wamid = whatsapp_api.send_template(
                base_url,
                version,
                company.collection_whatsapp_phone_number_id,
                company.collection_whatsapp_token,
                payload,
            )
        except whatsapp_api.WhatsappError as error:
            self._failed_attempt(error)
        else:
            self.write(
                {
                    "state": "sent",
                    "wamid": wamid,
                    "sent_date": fields.Datetime.now(),
                    "failure_reason": False,
                    "error_code": False,
                }
            )
        self._commit(auto_commit)
        return True

    def _commit(self, auto_commit):
        """Commit the send so far, except under a test runner (see
        ``collection.debit.mixin._debit_commit``): a message reaches the outside
        world, its mark must be durable before Meta is asked, and Meta's
        answer right after."""
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _refusal(self):
        """Why this message may not go out now (the settings were removed, the
        customer opted out since it was queued), or False."""
        if not self.company_id._collection_whatsapp_configured():
            return self.env._("WhatsApp is not configured for the company")
        partner = self.partner_id
        if partner.collection_no_whatsapp or not partner.collection_whatsapp_optin:
            return self.env._("The customer does not accept WhatsApp reminders")
        return False

    def _failed_attempt(self, error):
        """An attempt refused or not answered: tried again later when it may
        work, while the company's attempts last; failed otherwise."""
        reason = self._error_words(error)
        _logger.info("WhatsApp message %s not sent: %s", self.id, reason)
        attempts = self.attempt_count
        if error.transient and attempts < self.company_id.collection_max_attempts:
            self.write(
                {
                    "state": "outgoing",
                    "next_try": fields.Datetime.now() + RETRY_DELAY * attempts,
                    "failure_reason": reason,
                    "error_code": error.code or False,
                }
            )
            return
        self._fail(reason, error.code)
        if error.not_on_whatsapp:
            self.partner_id.sudo().collection_whatsapp_unreachable = True

    def _error_words(self, error):
        if error.status is None:
            return self.env._(
                "WhatsApp could not be reached (%(error)s)", error=error.text
            )
        return self.env._(
            "WhatsApp refused the message (HTTP %(status)s, error %(code)s): %(text)s",
            status=error.status,
            code=error.code if error.code is not None else "-",
            text=error.text or self.env._("no explanation given"),
        )

    def _fail(self, reason, code=None):
        """Failed for good: the reminder falls back to SMS or email (once)."""
        self.write(
            {"state": "failed", "failure_reason": reason, "error_code": code or False}
        )
        self._fall_back()

    def _fall_back(self):
        """Plan the reminders of these failed messages again, for now: the
        reminder engine sends them on SMS or email (``_deliverable_channel``
        never picks WhatsApp again for them). Only from "sent on WhatsApp" and
        once: the update is conditional, so a second failure report finds
        nothing to do."""
        if not self:
            return
        self.env.flush_all()
        now = fields.Datetime.now()
        rows = SQL(", ").join(
            SQL(
                "(%s, %s)",
                message.reminder_id.id,
                self.env._(
                    "WhatsApp failed: %(reason)s",
                    reason=" ".join((message.failure_reason or "").split())[:400],
                ),
            )
            for message in self
        )
        self.env.cr.execute(
            SQL(
                """UPDATE collection_reminder r
                      SET state = 'planned', whatsapp_failed = TRUE,
                          planned_date = %(now)s, reason = v.reason,
                          write_uid = %(uid)s, write_date = %(now)s
                     FROM (VALUES %(rows)s) AS v(id, reason)
                    WHERE r.id = v.id AND r.state = 'sent'
                      AND r.channel = 'whatsapp' AND r.whatsapp_failed IS NOT TRUE
                RETURNING r.id""",
                rows=rows,
                now=now,
                uid=self.env.uid,
            )
        )
        if self.env.cr.fetchall():
            self.env["collection.reminder"].invalidate_model()
            self.env.ref("collections_proactive.ir_cron_send_reminders")._trigger()

    @api.model
    def _fail_interrupted(self):
        """Messages left ``sending`` by a crash: Meta may have them or not;
        they are failed with that reason and never sent again, and their
        reminder does not fall back (the customer may have it)."""
        stale = self.search(
            [
                ("state", "=", "sending"),
                ("write_date", "<", fields.Datetime.now() - INTERRUPTED_AFTER),
            ]
        )
        if stale:
            stale.write(
                {
                    "state": "failed",
                    "failure_reason": self.env._(
                        "Interrupted while sending: WhatsApp may or may not have "
                        "delivered it, so it is not sent again. Check with the "
                        "customer."
                    ),
                }
            )

    # ------------------------------------------------------------------
    # Webhook: statuses and replies (see controllers/whatsapp.py)
    # ------------------------------------------------------------------

    @api.model
    def _webhook_value(self, company, value, since):
        """Apply one ``messages`` change of ``company``'s number: statuses of
        its messages, STOP replies of its customers. Events older than
        ``since`` (a unix time) are ignored. Runs in sudo, on this company's
        records only."""
        for status in whatsapp_api.items(value, "statuses"):
            stamp = whatsapp_api.timestamp(status)
            if stamp and stamp >= since:
                self._webhook_status(company, status, stamp)
        for message in whatsapp_api.items(value, "messages"):
            stamp = whatsapp_api.timestamp(message)
            if stamp and stamp >= since:
                self._webhook_reply(company, message)

    @api.model
    def _webhook_status(self, company, status, stamp):
        wamid, state = status.get("id"), status.get("status")
        if not (
            isinstance(wamid, str)
            and wamid
            and len(wamid) <= 255
            and state in ("sent", "delivered", "read", "failed")
        ):
            return
        message = self.search(
            [("wamid", "=", wamid), ("company_id", "=", company.id)], limit=1
        )
        if not message:
            return
        self.env.cr.execute(
            SQL(
                "SELECT id FROM collection_whatsapp_message WHERE id = %s FOR UPDATE",
                message.id,
            )
        )
        message.invalidate_recordset()
        when = datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)
        if state == "failed":
            if message.state in ("sending", "sent"):
                errors = whatsapp_api.items(status, "errors")
                error = errors[0] if errors else {}
                code = error.get("code")
                code = code if isinstance(code, int) and abs(code) < 2**31 else None
                details = error.get("error_data")
                details = details.get("details") if isinstance(details, dict) else None
                text = details or error.get("message") or error.get("title") or ""
                message.write({"status_date": when})
                message._fail(
                    self.env._(
                        "WhatsApp could not deliver the message (error %(code)s): "
                        "%(text)s",
                        code=code if code is not None else "-",
                        text=" ".join(str(text).split())[:500]
                        or self.env._("no explanation given"),
                    ),
                    code,
                )
                if code in whatsapp_api.NOT_ON_WHATSAPP_CODES:
                    message.partner_id.collection_whatsapp_unreachable = True
            return
        if STATUS_RANK.get(message.state, -1) < STATUS_RANK[state]:
            message.write({"state": state, "status_date": when})

    @api.model
    def _webhook_reply(self, company, inbound):
        """A STOP (BAJA, PARAR...) reply opts its sender out of WhatsApp
        reminders: the customers this company messaged at that number."""
        sender = inbound.get("from")
        text = inbound.get("text")
        body = text.get("body") if isinstance(text, dict) else None
        if inbound.get("type") == "button":
            button = inbound.get("button")
            body = button.get("text") if isinstance(button, dict) else None
        if not (
            isinstance(sender, str)
            and sender.isascii()
            and sender.isdigit()
            and isinstance(body, str)
            and self._is_stop(body)
        ):
            return
        partners = self.search(
            [("number", "=", sender), ("company_id", "=", company.id)]
        ).partner_id.filtered(lambda partner: not partner.collection_no_whatsapp)
        for partner in partners:
            partner.collection_no_whatsapp = True
            partner.message_post(
                body=Markup("%s")
                % self.env._(
                    "The customer replied %(word)s on WhatsApp: no more payment "
                    "reminders by WhatsApp.",
                    word=body.strip()[:40],
                ),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )

    @api.model
    def _is_stop(self, body):
        letters = "".join(
            char for char in unicodedata.normalize("NFKD", body[:100]) if char.isalnum()
        )
        return letters.upper() in STOP_WORDS
