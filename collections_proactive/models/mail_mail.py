import logging

import psycopg2

from odoo import api, models
from odoo.tools import mute_logger

_logger = logging.getLogger(__name__)


class MailMail(models.Model):
    _inherit = "mail.mail"

    @api.model
    def process_email_queue(self, ids=None, batch_size=1000):
        """Once the queue has run, the collection reminders whose email it could
        not deliver are failed at once (retried by the next reminder run), not
        only when the reminder cron next runs. Also after a session cut mid-send,
        which skips ``_postprocess_sent_message``."""
        result = super().process_email_queue(ids=ids, batch_size=batch_size)
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self.env["collection.reminder"].sudo()._sync_delivery_failures(
                    retry=False
                )
        except psycopg2.errors.SerializationFailure:
            # The reminder cron is updating the same reminders: it brings the
            # failures back itself.
            _logger.info("Reminder cron running: delivery failures left to it")
        return result
