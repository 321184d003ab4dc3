"""Insights of videos that cluster workers indexed: they hold no LLM key, so they store a
finished video's insights as pending and an API process, which holds the platform's key,
writes them (Groq with a key, the local extractive version without one).

Every API process writes; videos are claimed with SKIP LOCKED, so replicas never write the same
video twice, and a claim left by a stopped process is taken again after ``CLAIM_SECONDS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from vystra.db import Database, store
from vystra.embed import Embedder
from vystra.insights import TimedText, Visuals, insights_or_failure
from vystra.settings import Settings
from vystra_api.periodic import Periodic

log = logging.getLogger(__name__)
# longer than a Groq answer with its retries takes
CLAIM_SECONDS = timedelta(minutes=10)


class InsightsWriter(Periodic):
    def __init__(self, db: Database, settings: Settings, embedder: Callable[[], Embedder]) -> None:
        super().__init__("insights-writer", settings.insights_poll_seconds)
        self.db, self.settings, self.embedder = db, settings, embedder

    def write_pending(self) -> int:
        """Write every waiting video's insights; how many were written."""
        written = 0
        while not self.stopping:
            with self.db.connect() as conn:
                video = store.claim_pending_insights(conn, CLAIM_SECONDS)
                if video is None:
                    return written
                units, vectors = store.stored_units(conn, video)
                shots, shown = store.visual_outline(conn, video.id)
            timed = [TimedText(u.start, u.end, u.text) for u in units]
            visuals = Visuals(shots, [TimedText(*t) for t in shown])
            insights, status = insights_or_failure(
                timed, vectors, self.embedder(), self.settings, visuals
            )
            if status == "failed":
                log.warning("insights for %s failed: %s", video.id, insights["error"])
            with self.db.connect() as conn:
                written += store.set_insights(conn, video.id, insights, status)
        return written

    def tick(self) -> None:
        self.write_pending()
