"""Webhooks: signed event deliveries to a tenant's endpoints, from a durable outbox.

An event is written in the transaction that records its cause (an ingest's outcome, a video's
deletion), one row per endpoint that asked for its type; ``event_id`` is unique per endpoint, so
a cause recorded twice (a retried write, an operator restart) is delivered once. API processes
deliver due rows (``FOR UPDATE SKIP LOCKED``: each row by one process at a time); an answer that
is not 2xx, or none, is retried with exponential backoff (5 s doubling to an hour between
attempts) for ``GIVE_UP_AFTER`` (72 h), then marked failed.

Signatures follow Standard Webhooks (standardwebhooks.com): headers ``webhook-id``,
``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``"{id}.{timestamp}.{body}"`` with the endpoint's secret (``whsec_`` + base64 of its key bytes).
A receiver recomputes it, compares in constant time, and refuses timestamps more than 5 minutes
off (replays); README.md has the recipe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from vystra.errors import SourceError
from vystra.fetch import post_checked
from vystra.settings import Settings

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
GIVE_UP_AFTER = timedelta(hours=72)
FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 3600.0
DELIVERY_SECONDS = 10.0  # one attempt's whole budget: connect, send, answer
BATCH = 20


class EventType(StrEnum):
    ingest_succeeded = "ingest.succeeded"
    ingest_failed = "ingest.failed"
    video_deleted = "video.deleted"
    webhook_test = "webhook.test"  # sent on request to one endpoint, whatever it asked for


SUBSCRIBABLE = tuple(t for t in EventType if t is not EventType.webhook_test)


@dataclass(frozen=True)
class Endpoint:
    id: str
    tenant: str
    url: str
    secret: str
    events: list[str]
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: str
    event_id: str
    event_type: str
    status: str  # pending | delivered | failed
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value of one delivery."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# -- endpoints --------------------------------------------------------------------------------


def create_endpoint(
    conn: psycopg.Connection, tenant: str, endpoint_id: str, url: str, events: list[str]
) -> Endpoint:
    with conn.cursor(row_factory=class_row(Endpoint)) as cur:
        cur.execute(
            "INSERT INTO webhook_endpoints (id, tenant, url, secret, events)"
            " VALUES (%s, %s, %s, %s, %s)"
            " RETURNING id, tenant, url, secret, events, created_at",
            (endpoint_id, tenant, url, new_secret(), events),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def list_endpoints(conn: psycopg.Connection, tenant: str) -> list[Endpoint]:
    with conn.cursor(row_factory=class_row(Endpoint)) as cur:
        cur.execute(
            "SELECT id, tenant, url, secret, events, created_at FROM webhook_endpoints"
            " WHERE tenant = %s ORDER BY created_at, id",
            (tenant,),
        )
        return cur.fetchall()


def get_endpoint(conn: psycopg.Connection, tenant: str, endpoint_id: str) -> Endpoint | None:
    with conn.cursor(row_factory=class_row(Endpoint)) as cur:
        cur.execute(
            "SELECT id, tenant, url, secret, events, created_at FROM webhook_endpoints"
            " WHERE tenant = %s AND id = %s",
            (tenant, endpoint_id),
        )
        return cur.fetchone()


def delete_endpoint(conn: psycopg.Connection, tenant: str, endpoint_id: str) -> bool:
    """Its deliveries go with it."""
    gone = conn.execute(
        "DELETE FROM webhook_endpoints WHERE tenant = %s AND id = %s", (tenant, endpoint_id)
    )
    return gone.rowcount > 0


def deliveries(conn: psycopg.Connection, endpoint_id: str, limit: int = 50) -> list[Delivery]:
    """The endpoint's delivery log, newest first."""
    with conn.cursor(row_factory=class_row(Delivery)) as cur:
        cur.execute(
            "SELECT id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at,"
            " last_status, last_error, created_at, delivered_at FROM webhook_deliveries"
            " WHERE endpoint_id = %s ORDER BY id DESC LIMIT %s",
            (endpoint_id, limit),
        )
        return cur.fetchall()


# -- events -----------------------------------------------------------------------------------


def emit(
    conn: psycopg.Connection,
    tenant: str,
    event: EventType,
    cause: str,
    data: dict[str, Any],
    *,
    endpoint_id: str | None = None,
) -> int:
    """Queue ``event`` for the tenant's endpoints that asked for it (or for ``endpoint_id``
    alone), in the caller's transaction; ``cause`` names what happened once (an ingest's uid, a
    video's id), so the same cause recorded again queues nothing. The number queued."""
    event_id = f"evt_{hashlib.sha256(f'{event}:{cause}'.encode()).hexdigest()[:24]}"
    payload = {
        "id": event_id,
        "type": str(event),
        "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "data": data,
    }
    queued = conn.execute(
        "INSERT INTO webhook_deliveries (endpoint_id, tenant, event_id, event_type, payload)"
        " SELECT id, tenant, %s, %s, %s FROM webhook_endpoints"
        " WHERE tenant = %s AND (id = %s OR (%s::text IS NULL AND %s = ANY (events)))"
        " ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        (event_id, str(event), Jsonb(payload), tenant, endpoint_id, endpoint_id, str(event)),
    )
    return queued.rowcount


def video_deleted(conn: psycopg.Connection, tenant: str, video_id: str) -> None:
    """A video and its index are gone (a video id can come back: its bytes ingested again)."""
    emit(
        conn, tenant, EventType.video_deleted, f"{video_id}:{uuid.uuid4()}", {"video_id": video_id}
    )


# -- delivery ---------------------------------------------------------------------------------


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt, after ``attempts`` failed ones."""
    return min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))


def deliver_due(conn: psycopg.Connection, settings: Settings) -> int:
    """Attempt the due deliveries (a batch of at most ``BATCH``), in the caller's transaction,
    which holds their rows locked while they are sent; the number attempted."""
    rows = conn.execute(
        "SELECT d.id, d.event_id, d.payload, d.attempts, d.created_at, e.url, e.secret"
        " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= now()"
        " ORDER BY d.next_attempt_at, d.id LIMIT %s FOR UPDATE OF d SKIP LOCKED",
        (BATCH,),
    ).fetchall()
    for row_id, event_id, payload, attempts, created_at, url, secret in rows:
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = int(datetime.now(UTC).timestamp())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, event_id, timestamp, body),
        }
        status, error = None, None
        try:
            status = post_checked(url, body, headers, settings, DELIVERY_SECONDS)
        except SourceError as exc:
            error = str(exc)
        if status is not None and 200 <= status < 300:
            conn.execute(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1,"
                " last_status = %s, last_error = NULL, delivered_at = now() WHERE id = %s",
                (status, row_id),
            )
            continue
        tries = attempts + 1
        gave_up = datetime.now(UTC) - created_at > GIVE_UP_AFTER
        error = error or f"answered HTTP {status}"
        log.warning("webhook %s to %s: %s (attempt %d)", event_id, url, error, tries)
        conn.execute(
            "UPDATE webhook_deliveries SET status = %s, attempts = %s, last_status = %s,"
            " last_error = %s, next_attempt_at = now() + %s WHERE id = %s",
            (
                "failed" if gave_up else "pending",
                tries,
                status,
                error[:500],
                timedelta(seconds=retry_delay(tries)),
                row_id,
            ),
        )
    return len(rows)


def backlog(conn: psycopg.Connection) -> tuple[int, float]:
    """Deliveries pending, and the age in seconds of the oldest (0: none)."""
    row = conn.execute(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
        " FROM webhook_deliveries WHERE status = 'pending'"
    ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])
