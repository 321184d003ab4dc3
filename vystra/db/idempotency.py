"""Idempotency keys: the first request with a key claims it, records its answer, and every
retry with that key gets the recorded answer back (the API's ``Idempotency-Key`` header)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

KEEP = timedelta(hours=24)  # how long a key answers with its first response
# a claim whose request never recorded an answer (its process died) is free again after this
ABANDONED = timedelta(minutes=10)


@dataclass(frozen=True)
class Recorded:
    fingerprint: str
    status: int | None  # None: the first request is still running
    body: dict[str, Any] | None


def claim(conn: psycopg.Connection, tenant: str, key: str, fingerprint: str) -> Recorded | None:
    """None if this request is the first with ``key`` (it now holds it); else what was
    recorded for the key."""
    conn.execute(
        "DELETE FROM idempotency_keys WHERE tenant = %s AND (created_at < now() - %s"
        " OR (key = %s AND status IS NULL AND created_at < now() - %s))",
        (tenant, KEEP, key, ABANDONED),
    )
    claimed = conn.execute(
        "INSERT INTO idempotency_keys (tenant, key, fingerprint) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        (tenant, key, fingerprint),
    ).fetchone()
    if claimed is not None:
        return None
    row = conn.execute(
        "SELECT fingerprint, status, body FROM idempotency_keys WHERE tenant = %s AND key = %s",
        (tenant, key),
    ).fetchone()
    # gone between the two statements (released by a failed first request): still running
    return Recorded(*row) if row is not None else Recorded(fingerprint, None, None)


def record(
    conn: psycopg.Connection, tenant: str, key: str, status: int, body: dict[str, Any]
) -> None:
    conn.execute(
        "UPDATE idempotency_keys SET status = %s, body = %s WHERE tenant = %s AND key = %s",
        (status, Jsonb(body), tenant, key),
    )


def release(conn: psycopg.Connection, tenant: str, key: str) -> None:
    """The first request failed: nothing was created, and a retry may try again."""
    conn.execute(
        "DELETE FROM idempotency_keys WHERE tenant = %s AND key = %s AND status IS NULL",
        (tenant, key),
    )
