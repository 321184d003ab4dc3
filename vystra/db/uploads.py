"""Queries on uploads: objects a tenant puts into the store through presigned URLs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

COLUMNS = (
    "id, tenant, object_key, filename, content_type, size_bytes, multipart_id, status,"
    " expires_at, created_at, completed_at"
)


@dataclass(frozen=True)
class Upload:
    id: str
    tenant: str
    object_key: str
    filename: str
    content_type: str
    size_bytes: int
    multipart_id: str | None
    status: str  # pending | complete
    expires_at: datetime
    created_at: datetime
    completed_at: datetime | None


def create_upload(
    conn: psycopg.Connection,
    *,
    upload_id: str,
    tenant: str,
    object_key: str,
    filename: str,
    content_type: str,
    size_bytes: int,
    multipart_id: str | None,
    expires_at: datetime,
) -> Upload:
    with conn.cursor(row_factory=class_row(Upload)) as cur:
        cur.execute(
            "INSERT INTO uploads (id, tenant, object_key, filename, content_type, size_bytes,"
            " multipart_id, status, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', %s)"
            f" RETURNING {COLUMNS}",
            (
                upload_id,
                tenant,
                object_key,
                filename,
                content_type,
                size_bytes,
                multipart_id,
                expires_at,
            ),
        )
        row = cur.fetchone()
        assert row is not None
        return row


def get_upload(conn: psycopg.Connection, upload_id: str, tenant: str | None) -> Upload | None:
    """An upload by id; ``tenant=None`` only for callers holding a signed URL for it."""
    with conn.cursor(row_factory=class_row(Upload)) as cur:
        if tenant is None:
            cur.execute(f"SELECT {COLUMNS} FROM uploads WHERE id = %s", (upload_id,))
        else:
            cur.execute(
                f"SELECT {COLUMNS} FROM uploads WHERE id = %s AND tenant = %s", (upload_id, tenant)
            )
        return cur.fetchone()


def mark_complete(conn: psycopg.Connection, upload_id: str) -> None:
    conn.execute(
        "UPDATE uploads SET status = 'complete', completed_at = now(), multipart_id = NULL"
        " WHERE id = %s",
        (upload_id,),
    )


def claim_abandoned(conn: psycopg.Connection, expired_before: datetime, limit: int) -> list[Upload]:
    """Pending uploads whose URLs expired before ``expired_before``, locked for this
    transaction; another process sweeping at the same time skips them."""
    with conn.cursor(row_factory=class_row(Upload)) as cur:
        cur.execute(
            f"SELECT {COLUMNS} FROM uploads WHERE status = 'pending' AND expires_at < %s"
            " ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (expired_before, limit),
        )
        return cur.fetchall()


def delete_upload(conn: psycopg.Connection, upload_id: str) -> None:
    conn.execute("DELETE FROM uploads WHERE id = %s", (upload_id,))
