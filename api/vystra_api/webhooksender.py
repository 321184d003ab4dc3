"""Each API process sends due webhook deliveries every ``VYSTRA_WEBHOOK_DELIVERY_SECONDS``
(rows locked while sent: processes never send the same one at once)."""

from __future__ import annotations

from vystra import webhooks
from vystra.db import Database
from vystra.settings import Settings
from vystra_api.periodic import Periodic


class WebhookSender(Periodic):
    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__("webhook-sender", settings.webhook_delivery_seconds)
        self.db, self.settings = db, settings

    def tick(self) -> None:
        while not self.stopping:
            with self.db.connect() as conn:
                attempted = webhooks.deliver_due(conn, self.settings)
            if attempted < webhooks.BATCH:
                return
