"""What one API process holds: settings, the database pool, the object store, the backend."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from vystra.db import Database
from vystra.embed import Embedder, get_embedder
from vystra.settings import Settings
from vystra_api.backends import IngestBackend
from vystra_api.metrics import Metrics
from vystra_api.objectstore import ObjectStore


@dataclass
class AppState:
    settings: Settings
    db: Database
    objects: ObjectStore
    backend: IngestBackend
    metrics: Metrics
    _embedder: Embedder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def embedder(self) -> Embedder:
        """Loaded on first search, not at start-up: keyword-only use never pays for it."""
        with self._lock:
            if self._embedder is None:
                self._embedder = get_embedder(self.settings)
            return self._embedder
