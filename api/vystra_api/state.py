"""What one API process holds: settings, the database pool, the object store, the backend."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import stripe

from vystra.billing.plans import Catalog, load_catalog
from vystra.billing.reporter import Reporter
from vystra.billing.stripe_api import make_client
from vystra.db import Database, searchindex
from vystra.db.searchindex import IndexModel
from vystra.embed import Embedder, load_embedder
from vystra.errors import VystraError
from vystra.reindex import active_embedder
from vystra.settings import Settings
from vystra_api.backends import IngestBackend
from vystra_api.caps import StreamSlots
from vystra_api.metrics import Metrics
from vystra_api.objectstore import ObjectStore


@dataclass
class Billing:
    catalog: Catalog
    client: stripe.StripeClient | None  # None: STRIPE_API_KEY unset
    reporter: Reporter | None  # drains the usage outbox while billing is enabled

    def start(self) -> None:
        if self.reporter:
            self.reporter.start()

    def stop(self) -> None:
        if self.reporter:
            self.reporter.stop()


def open_billing(settings: Settings, db: Database) -> Billing:
    catalog = load_catalog(settings)  # a bad plans file stops start-up, not the first request
    client = make_client(settings) if settings.stripe_api_key else None
    if settings.billing_enabled and (client is None or settings.stripe_webhook_secret is None):
        raise VystraError(
            "VYSTRA_BILLING_ENABLED needs STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET to be set"
        )
    reporter = Reporter(settings, db, client) if settings.billing_enabled and client else None
    return Billing(catalog, client, reporter)


@dataclass
class AppState:
    settings: Settings
    db: Database
    objects: ObjectStore
    backend: IngestBackend
    metrics: Metrics
    billing: Billing
    read_db: Database  # searches: a hot standby when configured, else ``db``
    streams: StreamSlots = field(init=False)
    _embedder: Embedder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.streams = StreamSlots(self.settings, self.db)

    def embedder(self) -> Embedder:
        """The model the search index holds, loaded on first use (keyword-only use never pays
        for it) and again when a re-index switches it (:meth:`switched`)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = active_embedder(self.db, self.settings)
            return self._embedder

    def current_embedder(self) -> Embedder:
        """The index's model as of now (one query more): for rare work that reads stored
        vectors, such as writing insights."""
        with self.db.connect() as conn:
            active = searchindex.active(conn)
        return self.switched(active) if active else self.embedder()

    def switched(self, active: IndexModel) -> Embedder:
        with self._lock:
            if self._embedder is None or self._embedder.name != active.name:
                self._embedder = load_embedder(active.model, self.settings)
            return self._embedder
