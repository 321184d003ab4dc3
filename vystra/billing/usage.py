"""Processed seconds, recorded exactly once per ingest, and the outbox that feeds Stripe.

Whoever first sees an ingest succeed calls :func:`record_usage` in the transaction that records
the success: the local backend as it marks its queue row Succeeded, the operator as it moves a
VideoIngest to Succeeded. A retried ingest, a restarted operator or a second replica calling it
again hits the unique (tenant, ingest_key) and changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import class_row

MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class UsageRecord:
    id: int
    tenant: str
    ingest_id: str
    video_id: str | None
    seconds: float
    recorded_at: datetime
    status: str
    attempts: int

    @property
    def billable_seconds(self) -> int:
        # Meter events carry whole numbers; each ingest is billed to the started second.
        return math.ceil(self.seconds)

    @property
    def identifier(self) -> str:
        """Stripe's dedup key for this row: a resend after a lost answer counts once."""
        return f"vystra-usage-{self.id}"


def record_usage(
    conn: psycopg.Connection,
    *,
    tenant: str,
    ingest_id: str,
    seconds: float,
    video_id: str | None = None,
    ingest_key: str | None = None,
    reused: bool = False,
) -> bool:
    """Record the processed seconds of a succeeded ingest; True if this call recorded them.

    ingest_key: the ingest's unique identity; defaults to ``ingest_id`` (local ids are unique).
        Pass a VideoIngest's ``metadata.uid``: a name can be reused after a delete.
    reused: the pipeline found these bytes already indexed and processed nothing. Such a
        success is metered only if no usage of ``video_id`` was ever recorded, which covers
        a retry after a crash between indexing and recording success.
    """
    key = ingest_key or ingest_id
    if reused:
        cur = conn.execute(
            "INSERT INTO usage_records (tenant, ingest_key, ingest_id, video_id, seconds)"
            " SELECT %s, %s, %s, %s, %s WHERE NOT EXISTS"
            "  (SELECT 1 FROM usage_records WHERE tenant = %s AND video_id = %s)"
            " ON CONFLICT (tenant, ingest_key) DO NOTHING",
            (tenant, key, ingest_id, video_id, max(0.0, seconds), tenant, video_id),
        )
    else:
        cur = conn.execute(
            "INSERT INTO usage_records (tenant, ingest_key, ingest_id, video_id, seconds)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant, ingest_key) DO NOTHING",
            (tenant, key, ingest_id, video_id, max(0.0, seconds)),
        )
    return cur.rowcount > 0


def seconds_between(conn: psycopg.Connection, tenant: str, start: datetime, end: datetime) -> float:
    row = conn.execute(
        "SELECT coalesce(sum(seconds), 0) FROM usage_records"
        " WHERE tenant = %s AND recorded_at >= %s AND recorded_at < %s",
        (tenant, start, end),
    ).fetchone()
    return float(row[0]) if row else 0.0


def counts(conn: psycopg.Connection, tenant: str, start: datetime, end: datetime) -> dict[str, int]:
    """Usage rows in the period by outbox status."""
    rows = conn.execute(
        "SELECT status, count(*) FROM usage_records"
        " WHERE tenant = %s AND recorded_at >= %s AND recorded_at < %s GROUP BY status",
        (tenant, start, end),
    ).fetchall()
    return {status: int(n) for status, n in rows}


def calendar_month(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The UTC month around ``now``: the period of tenants without a subscription period."""
    now = now or datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


# -- the outbox ---------------------------------------------------------------------------------


def outbox(conn: psycopg.Connection) -> tuple[int, float]:
    """Records not yet reported to Stripe, and the age in seconds of the oldest (0: none)."""
    row = conn.execute(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(recorded_at)), 0)::float8"
        " FROM usage_records WHERE status = 'pending'"
    ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


def claim_due(conn: psycopg.Connection, *, limit: int = 100) -> list[UsageRecord]:
    """Pending rows whose next attempt is due, locked so another reporter skips them.

    The caller keeps the transaction open while it reports them, then marks each one.
    """
    with conn.cursor(row_factory=class_row(UsageRecord)) as cur:
        cur.execute(
            "SELECT id, tenant, ingest_id, video_id, seconds, recorded_at, status, attempts"
            " FROM usage_records WHERE status = 'pending' AND next_report_at <= now()"
            " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            (limit,),
        )
        return cur.fetchall()


def mark_reported(conn: psycopg.Connection, record_id: int) -> None:
    conn.execute(
        "UPDATE usage_records SET status = 'reported', reported_at = now(),"
        " attempts = attempts + 1, last_error = NULL WHERE id = %s",
        (record_id,),
    )


def mark_unbilled(conn: psycopg.Connection, record_id: int, why: str) -> None:
    """The tenant has no Stripe customer (never subscribed): nothing to report it to."""
    conn.execute(
        "UPDATE usage_records SET status = 'unbilled', last_error = %s WHERE id = %s",
        (why, record_id),
    )


def mark_failed(conn: psycopg.Connection, record: UsageRecord, error: str) -> timedelta:
    """Keep the row pending and push its next attempt back (exponential, capped)."""
    delay = min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** min(record.attempts, 10)))
    conn.execute(
        "UPDATE usage_records SET attempts = attempts + 1, last_error = %s,"
        " next_report_at = now() + %s WHERE id = %s",
        (error[:500], delay, record.id),
    )
    return delay
