"""Local mode's ingest queue: one row per requested ingest, claimed by worker threads.

Workers claim rows with ``FOR UPDATE SKIP LOCKED``, so several API processes on one database
share the queue without running an ingest twice. A Running row whose heartbeat stops (its
process died) goes back to the queue; the pipeline's upserts make the re-run safe.

A claim is a lease named by the row's ``attempts`` after the claim: progress, heartbeats,
finishing and handing back only apply while the row is Running under that attempt, so a
worker whose lease lapsed (its row was queued again and claimed by another) can tell that
from a deleted row, and never overwrites the new holder's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from vystra.db.paging import AFTER_SQL, ORDER_SQL, After

COLUMNS = (
    "id, tenant, source, upload_id, spec, phase, reason, message, video_id, stage,"
    " processed_seconds, duration_seconds, segments, attempts, priority, created_at,"
    " started_at, finished_at, max_video_seconds, request_id, traceparent"
)
TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True)
class IngestRow:
    id: str
    tenant: str
    source: str
    upload_id: str | None
    spec: dict[str, Any]
    phase: str
    reason: str | None
    message: str | None
    video_id: str | None
    stage: str | None
    processed_seconds: float
    duration_seconds: float
    segments: int
    attempts: int
    priority: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    max_video_seconds: float | None = None  # the plan's limit when it was accepted
    request_id: str | None = None  # the request that made it, for its run's log records
    traceparent: str | None = None  # that request's span, which its run's spans continue


def _one(conn: psycopg.Connection, sql: str, args: tuple) -> IngestRow | None:
    with conn.cursor(row_factory=class_row(IngestRow)) as cur:
        cur.execute(sql, args)
        return cur.fetchone()


def create_ingest(
    conn: psycopg.Connection,
    *,
    ingest_id: str,
    tenant: str,
    source: str,
    upload_id: str | None,
    spec: dict[str, Any],
    priority: int,
    max_video_seconds: float | None = None,
    request_id: str | None = None,
    traceparent: str | None = None,
) -> IngestRow:
    row = _one(
        conn,
        "INSERT INTO ingests (id, tenant, source, upload_id, spec, phase, priority,"
        " max_video_seconds, request_id, traceparent)"
        f" VALUES (%s, %s, %s, %s, %s, 'Queued', %s, %s, %s, %s) RETURNING {COLUMNS}",
        (
            ingest_id,
            tenant,
            source,
            upload_id,
            Jsonb(spec),
            priority,
            max_video_seconds,
            request_id,
            traceparent,
        ),
    )
    assert row is not None
    return row


def get_ingest(conn: psycopg.Connection, tenant: str, ingest_id: str) -> IngestRow | None:
    return _one(
        conn, f"SELECT {COLUMNS} FROM ingests WHERE tenant = %s AND id = %s", (tenant, ingest_id)
    )


def list_ingests(
    conn: psycopg.Connection, tenant: str, *, limit: int, after: After | None = None
) -> list[IngestRow]:
    """Newest first; ``after`` pages on (see vystra.db.paging)."""
    with conn.cursor(row_factory=class_row(IngestRow)) as cur:
        cur.execute(
            f"SELECT {COLUMNS} FROM ingests WHERE tenant = %s"
            + (AFTER_SQL if after else "")
            + ORDER_SQL
            + " LIMIT %s",
            (tenant, *(after.params() if after else ()), limit),
        )
        return cur.fetchall()


def delete_ingest(conn: psycopg.Connection, tenant: str, ingest_id: str) -> IngestRow | None:
    return _one(
        conn,
        f"DELETE FROM ingests WHERE tenant = %s AND id = %s RETURNING {COLUMNS}",
        (tenant, ingest_id),
    )


def queued_count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM ingests WHERE phase = 'Queued'").fetchone()
    return int(row[0]) if row else 0


def active_count(conn: psycopg.Connection, tenant: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM ingests WHERE tenant = %s AND phase NOT IN ('Succeeded', 'Failed')",
        (tenant,),
    ).fetchone()
    return int(row[0]) if row else 0


def count_by_phase(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT phase, count(*) FROM ingests GROUP BY phase").fetchall()
    return {phase: int(n) for phase, n in rows}


def claim_next(conn: psycopg.Connection) -> IngestRow | None:
    """Move the most urgent Queued row to Running and return it (None: queue empty)."""
    return _one(
        conn,
        "UPDATE ingests SET phase = 'Running', attempts = attempts + 1, heartbeat_at = now(),"
        " started_at = coalesce(started_at, now()), stage = 'fetch'"
        " WHERE id = (SELECT id FROM ingests WHERE phase = 'Queued'"
        "             ORDER BY priority DESC, created_at, id FOR UPDATE SKIP LOCKED LIMIT 1)"
        f" RETURNING {COLUMNS}",
        (),
    )


def report_progress(
    conn: psycopg.Connection,
    ingest_id: str,
    attempt: int,
    *,
    stage: str,
    processed_seconds: float,
    duration_seconds: float,
    segments: int,
    video_id: str | None,
) -> bool:
    """Record progress and beat the heartbeat; False when ``attempt`` no longer holds the row
    (deleted, or queued again after its heartbeat lapsed)."""
    cur = conn.execute(
        "UPDATE ingests SET stage = %s, processed_seconds = %s, duration_seconds = %s,"
        " segments = %s, video_id = coalesce(%s, video_id), heartbeat_at = now()"
        " WHERE id = %s AND phase = 'Running' AND attempts = %s",
        (stage, processed_seconds, duration_seconds, segments, video_id, ingest_id, attempt),
    )
    return cur.rowcount > 0


def beat(conn: psycopg.Connection, leases: dict[str, int]) -> None:
    """Keep the rows held under these leases (ingest id to attempt) from looking orphaned."""
    if leases:
        conn.execute(
            "UPDATE ingests SET heartbeat_at = now()"
            " FROM unnest(%s::text[], %s::integer[]) AS held(id, attempt)"
            " WHERE ingests.id = held.id AND ingests.attempts = held.attempt"
            " AND ingests.phase = 'Running'",
            (list(leases), list(leases.values())),
        )


def hand_back(conn: psycopg.Connection, ingest_id: str, attempt: int) -> bool:
    """Queue a row held under ``attempt`` again, as it is (its process is stopping): the next
    claim runs it from the start and its upserts overwrite what this attempt stored."""
    cur = conn.execute(
        "UPDATE ingests SET phase = 'Queued', stage = NULL, heartbeat_at = NULL"
        " WHERE id = %s AND phase = 'Running' AND attempts = %s",
        (ingest_id, attempt),
    )
    return cur.rowcount > 0


def exists(conn: psycopg.Connection, ingest_id: str) -> bool:
    return conn.execute("SELECT 1 FROM ingests WHERE id = %s", (ingest_id,)).fetchone() is not None


def finish(
    conn: psycopg.Connection,
    ingest_id: str,
    attempt: int,
    *,
    phase: str,
    reason: str | None,
    message: str | None,
    video_id: str | None,
    segments: int | None = None,
    duration_seconds: float | None = None,
) -> bool:
    """End a row held under ``attempt``; False when it no longer holds it."""
    assert phase in TERMINAL
    cur = conn.execute(
        "UPDATE ingests SET phase = %s, reason = %s, message = %s,"
        " video_id = coalesce(%s, video_id), segments = coalesce(%s, segments),"
        " duration_seconds = coalesce(%s, duration_seconds),"
        " processed_seconds = CASE WHEN %s = 'Succeeded'"
        "   THEN coalesce(%s, duration_seconds) ELSE processed_seconds END,"
        " stage = 'done', finished_at = now(), heartbeat_at = NULL"
        " WHERE id = %s AND phase = 'Running' AND attempts = %s",
        (
            phase,
            reason,
            message,
            video_id,
            segments,
            duration_seconds,
            phase,
            duration_seconds,
            ingest_id,
            attempt,
        ),
    )
    return cur.rowcount > 0


def requeue_orphans(conn: psycopg.Connection, *, stale_seconds: float, max_attempts: int) -> int:
    """Give Running rows without a recent heartbeat back to the queue, or fail them for good."""
    failed = conn.execute(
        "UPDATE ingests SET phase = 'Failed', reason = 'WorkerLost',"
        " message = 'the ingest was interrupted ' || attempts || ' times', finished_at = now()"
        " WHERE phase = 'Running' AND attempts >= %s"
        " AND heartbeat_at < now() - make_interval(secs => %s)",
        (max_attempts, stale_seconds),
    ).rowcount
    queued = conn.execute(
        "UPDATE ingests SET phase = 'Queued', stage = NULL"
        " WHERE phase = 'Running' AND heartbeat_at < now() - make_interval(secs => %s)",
        (stale_seconds,),
    ).rowcount
    return failed + queued
