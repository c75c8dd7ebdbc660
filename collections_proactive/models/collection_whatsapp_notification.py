import hashlib
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# A signed notification is accepted only while its newest event is younger
# than this; its digest is kept longer, so that a replay inside the window
# meets its digest and one after it meets the age check.
REPLAY_WINDOW = timedelta(days=2)
KEEP_DIGESTS = REPLAY_WINDOW + timedelta(days=1)


class CollectionWhatsappNotification(models.Model):
    """The digest of each signed webhook notification accepted: Meta signs the
    body but puts no nonce in it, so a body seen before is a replay."""

    _name = "collection.whatsapp.notification"
    _description = "Collection WhatsApp Webhook Notification"
    _order = "id desc"

    digest = fields.Char(required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    received = fields.Datetime(required=True, readonly=True, index=True)

    _sql_constraints = [
        ("digest_unique", "UNIQUE(digest)", "A notification is accepted once."),
    ]

    @api.model
    def _accept(self, body, company):
        """Record the notification ``body`` (bytes); False when it was seen
        before. Atomic: two copies posted at once, one waits for the other's
        commit and is then refused by the unique index."""
        self.env.cr.execute(
            SQL(
                """INSERT INTO collection_whatsapp_notification
                          (digest, company_id, received, create_uid, create_date,
                           write_uid, write_date)
                   VALUES (%(digest)s, %(company)s, %(now)s, %(uid)s, %(now)s,
                           %(uid)s, %(now)s)
                   ON CONFLICT (digest) DO NOTHING
                   RETURNING id""",
                digest=hashlib.sha256(body).hexdigest(),
                company=company.id,
                now=fields.Datetime.now(),
                uid=self.env.uid,
            )
        )
        return bool(self.env.cr.fetchone())

    @api.model
    def _prune(self):
        self.env.cr.execute(
            SQL(
                "DELETE FROM collection_whatsapp_notification WHERE received < %s",
                fields.Datetime.now() - KEEP_DIGESTS,
            )
        )
