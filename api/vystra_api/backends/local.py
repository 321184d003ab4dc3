"""Local mode: ingests queued in Postgres and run by a few threads of the API process.

The queue is bounded (``api_queue_size`` rows waiting), so a burst of requests gets a clear 503
instead of an unbounded backlog. Rows survive a restart: a stopping process hands its running
ingests back to the queue, and a Running row whose heartbeat stops (its process died) is
queued again; the pipeline's upserts make the re-run safe. A worker that finds its lease gone
(deleted row: cancel; row held by another worker: stop) only deletes data in the first case.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from vystra import logs, tracing, webhooks
from vystra.billing.quota import check_duration
from vystra.billing.usage import record_usage
from vystra.db import Database
from vystra.db import ingests as rows
from vystra.errors import VystraError
from vystra.pipeline import IngestOptions, Interrupted, Pipeline, Progress, StageClock
from vystra.reindex import reindex
from vystra.segment import SegmentOptions
from vystra.settings import Settings
from vystra.visual import VisualOptions
from vystra.webhooks import EventType
from vystra_api import cleanup
from vystra_api.backends import QueueFullError
from vystra_api.models import IngestProgress, IngestPublic, IngestSpec
from vystra_api.objectstore import ObjectStore
from vystra_api.paging import cursor_after, page_after
from vystra_api.redact import PathScrubber, client_source, scrubber

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
STALE_SECONDS = 90.0  # six missed heartbeats: the process that ran it is gone
STOP_GRACE_SECONDS = 10.0  # a stop waits this long for workers to reach a progress report
MAX_ATTEMPTS = 3
ALREADY_INGESTED = "AlreadyIngested"  # the video belongs to an earlier ingest: never delete it
_QUEUE_LOCK = 0x56797375  # serialises "count the queue, then add to it"


def to_public(row: rows.IngestRow, objects: ObjectStore, scrub: PathScrubber) -> IngestPublic:
    duration = row.duration_seconds
    percent = min(100.0, 100.0 * row.processed_seconds / duration) if duration else 0.0
    return IngestPublic(
        id=row.id,
        phase=row.phase,  # type: ignore[arg-type]
        reason=row.reason,
        message=scrub(row.message),
        source=client_source(objects, row.tenant, row.source),
        upload_id=row.upload_id,
        video_id=row.video_id,
        stage=row.stage if row.phase == "Running" else None,
        progress=IngestProgress(
            processed_seconds=row.processed_seconds,
            duration_seconds=duration,
            segments=row.segments,
            percent=round(percent, 1),
        ),
        attempts=row.attempts,
        spec=IngestSpec.model_validate(row.spec),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


class LocalBackend:
    kind = "local"

    def __init__(self, settings: Settings, db: Database, objects: ObjectStore) -> None:
        self.settings = settings
        self.db = db
        self.objects = objects
        self.pipeline = Pipeline(settings, db)
        self._scrub = scrubber(settings.home)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._running: dict[str, int] = {}  # ingest id -> the attempt this process holds
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # requests
    def create(
        self,
        tenant: str,
        ingest_id: str,
        source: str,
        upload_id: str | None,
        spec: IngestSpec,
        *,
        max_video_seconds: float | None = None,
    ) -> IngestPublic:
        with self.db.connect() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_QUEUE_LOCK,))
            if rows.queued_count(conn) >= self.settings.api_queue_size:
                raise QueueFullError(
                    f"{self.settings.api_queue_size} ingests are already queued; retry later"
                )
            row = rows.create_ingest(
                conn,
                ingest_id=ingest_id,
                tenant=tenant,
                source=source,
                upload_id=upload_id,
                spec=spec.model_dump(mode="json"),
                priority=spec.priority,
                max_video_seconds=max_video_seconds,
                request_id=logs.request_id(),
                traceparent=tracing.traceparent(),
            )
        self._wake.set()
        return to_public(row, self.objects, self._scrub)

    def get(self, tenant: str, ingest_id: str) -> IngestPublic | None:
        with self.db.connect() as conn:
            row = rows.get_ingest(conn, tenant, ingest_id)
        return to_public(row, self.objects, self._scrub) if row else None

    def list(
        self, tenant: str, *, limit: int, cursor: str | None
    ) -> tuple[list[IngestPublic], str | None]:
        after = page_after(cursor)
        with self.db.connect() as conn:
            found = rows.list_ingests(conn, tenant, limit=limit + 1, after=after)
        page = found[:limit]
        more = len(found) > limit
        next_cursor = cursor_after(page[-1].created_at, page[-1].id) if more else None
        return [to_public(r, self.objects, self._scrub) for r in page], next_cursor

    def delete(self, tenant: str, ingest_id: str) -> bool:
        with self.db.connect() as conn:
            row = rows.delete_ingest(conn, tenant, ingest_id)
            if row is None:
                return False
            # a Running ingest notices at its next progress report and cleans up itself
            if row.phase in rows.TERMINAL:
                self._discard_video(conn, row.tenant, row.spec, row.video_id, row.reason)
        return True

    def counts_by_phase(self) -> dict[str, int]:
        with self.db.connect() as conn:
            return rows.count_by_phase(conn)

    def active_count(self, tenant: str) -> int:
        with self.db.connect() as conn:
            return rows.active_count(conn, tenant)

    def check(self) -> None:
        with self.db.connect() as conn:
            conn.execute("SELECT 1")

    def reindex(self, run_id: str) -> None:
        def run() -> None:
            try:
                reindex(self.db, self.settings, run_id=run_id)
            except Exception:  # recorded on the run, which the admin routes show
                log.exception("re-index %s failed", run_id)

        threading.Thread(target=run, name=f"reindex-{run_id[:8]}", daemon=True).start()

    # workers
    def start(self) -> None:
        for n in range(self.settings.api_workers):
            thread = threading.Thread(target=self._work, name=f"ingest-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        beat = threading.Thread(target=self._heartbeat, name="ingest-heartbeat", daemon=True)
        beat.start()
        self._threads.append(beat)

    def stop(self) -> None:
        """Stop the workers; their running ingests go back to the queue, as they are.

        A worker stops at its ingest's next progress report and hands the row back itself.
        One still busy after ``STOP_GRACE_SECONDS`` (a long Whisper segment) has its row
        handed back from here: it no longer holds it and stores nothing more of its own.
        """
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            held = dict(self._running)
        if held:
            try:
                with self.db.connect() as conn:
                    for ingest_id, attempt in held.items():
                        rows.hand_back(conn, ingest_id, attempt)
            except Exception:  # the heartbeat lapses instead: queued again in STALE_SECONDS
                log.exception("could not hand back ingests %s", sorted(held))

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with self._lock:
                    held = dict(self._running)
                with self.db.connect() as conn:
                    rows.beat(conn, held)
                    if rows.requeue_orphans(
                        conn, stale_seconds=STALE_SECONDS, max_attempts=MAX_ATTEMPTS
                    ):
                        self._wake.set()
            except Exception:  # a database hiccup must not end the heartbeat
                log.exception("ingest heartbeat failed")

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                with self.db.connect() as conn:
                    row = rows.claim_next(conn)
            except Exception:
                log.exception("could not claim an ingest")
                row = None
            if row is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            with self._lock:
                self._running[row.id] = row.attempts
            try:
                # its records and spans belong to the request that made it
                with (
                    logs.bound(tenant=row.tenant, ingest=row.id, request_id=row.request_id),
                    tracing.span(
                        "ingest",
                        within=row.traceparent,
                        attributes={"vystra.tenant": row.tenant, "vystra.ingest": row.id},
                    ),
                ):
                    self._run(row)
            except Exception:  # the database went away; the row's lease lapses and it reruns
                log.exception("ingest %s: could not record its outcome", row.id)
            finally:
                with self._lock:
                    self._running.pop(row.id, None)

    def _run(self, row: rows.IngestRow) -> None:
        spec = IngestSpec.model_validate(row.spec)
        options = IngestOptions(
            title=spec.title,
            language=spec.language,
            model=spec.model,
            segmenting=SegmentOptions(
                spec.segmenting.targetSeconds,
                spec.segmenting.overlapSeconds,
                self.settings.segment_pause_seconds,
            ),
            insights=spec.insights,
            visual=VisualOptions(
                spec.visual.enabled,
                spec.visual.intervalSeconds,
                spec.visual.sceneThreshold,
                spec.visual.ocr,
            ),
        )
        seen_video: list[str] = []
        processed = [0.0]  # seconds, as last reported: metered if the ingest is deleted

        stages = StageClock()

        def on_progress(p: Progress) -> None:
            stages.see(p.stage)
            if p.video_id:
                seen_video[:] = [p.video_id]
            processed[0] = p.processed_seconds
            if self._stop.is_set() and p.stage != "done":  # done: stored, only to be recorded
                raise Interrupted("the server is stopping")
            if p.stage == "audio" and row.max_video_seconds is not None:
                # the probe has just measured the video; nothing is stored or transcribed yet
                check_duration(row.max_video_seconds, p.duration)
            with self.db.connect() as conn:
                held = rows.report_progress(
                    conn,
                    row.id,
                    row.attempts,
                    stage=p.stage,
                    processed_seconds=p.processed_seconds,
                    duration_seconds=p.duration,
                    segments=p.segments,
                    video_id=p.video_id,
                )
            if not held:
                raise Interrupted("deleted, or taken over after a lapsed heartbeat")

        outcome: dict[str, Any]
        try:
            try:
                result = self.pipeline.ingest(
                    row.source, options, tenant=row.tenant, on_progress=on_progress
                )
            finally:
                stages.stop()
            exists = result.status == "exists"
            outcome = {
                "phase": "Succeeded",
                "reason": ALREADY_INGESTED if exists else "Indexed",
                "message": (
                    f"these bytes were already ingested as video {result.video_id}"
                    if exists
                    else f"{result.segments} segments indexed"
                ),
                "video_id": result.video_id,
                "segments": result.segments,
                "duration_seconds": result.duration_s,
                "reused": exists,
            }
        except Interrupted:
            outcome = {"phase": None}
        except VystraError as exc:
            outcome = {"phase": "Failed", "reason": exc.reason, "message": str(exc)}
        except Exception as exc:
            if self._stop.is_set():  # most likely the stop itself (a closed pool): run again
                log.warning("ingest %s interrupted by the stop: %r", row.id, exc)
                outcome = {"phase": None}
            else:  # a bug; the row must still end, not stay Running
                log.exception("ingest %s failed", row.id)
                outcome = {
                    "phase": "Failed",
                    "reason": "InternalError",
                    "message": f"{type(exc).__name__}: {exc}",
                }
        with self.db.connect() as conn:
            finished = outcome["phase"] is not None and rows.finish(
                conn,
                row.id,
                row.attempts,
                phase=outcome["phase"],
                reason=outcome["reason"],
                message=outcome["message"],
                video_id=outcome.get("video_id"),
                segments=outcome.get("segments"),
                duration_seconds=outcome.get("duration_seconds"),
            )
            if finished and outcome["phase"] == "Succeeded":
                # metered in the transaction that marks it Succeeded: once, whatever retries
                record_usage(
                    conn,
                    tenant=row.tenant,
                    ingest_id=row.id,
                    seconds=outcome["duration_seconds"] or 0.0,
                    video_id=outcome["video_id"],
                    reused=outcome["reused"],
                )
            if finished:
                # the outcome's webhook event, in the transaction that records it
                webhooks.emit(
                    conn,
                    row.tenant,
                    EventType.ingest_succeeded
                    if outcome["phase"] == "Succeeded"
                    else EventType.ingest_failed,
                    row.id,
                    {
                        "ingest_id": row.id,
                        "phase": outcome["phase"],
                        "reason": outcome["reason"],
                        "message": outcome["message"],
                        "video_id": outcome.get("video_id"),
                    },
                )
                return
            if not rows.exists(conn, row.id):  # deleted while running: honour spec.retain now
                video_id = outcome.get("video_id") or (seen_video[0] if seen_video else None)
                if processed[0] > 0 and outcome.get("reason") != ALREADY_INGESTED:
                    # what it processed is metered, as the operator meters a deleted resource
                    record_usage(
                        conn,
                        tenant=row.tenant,
                        ingest_id=row.id,
                        seconds=processed[0],
                        video_id=video_id,
                    )
                self._discard_video(conn, row.tenant, row.spec, video_id, outcome.get("reason"))
            elif self._stop.is_set():
                rows.hand_back(conn, row.id, row.attempts)
            # else another worker holds it now (this one's heartbeat lapsed): it carries the
            # ingest on from here, so nothing of it is deleted

    def _discard_video(
        self, conn: Any, tenant: str, spec: dict, video_id: str | None, reason: str | None
    ) -> None:
        if video_id and not spec.get("retain") and reason != ALREADY_INGESTED:
            cleanup.delete_video(conn, self.objects, tenant, video_id)
