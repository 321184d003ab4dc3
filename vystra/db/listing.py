"""Paged and incremental reads used by the API (the CLI reads whole lists through store)."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from vystra.db.store import VIDEO_COLUMNS, StoredSegment, Video


def list_videos_page(
    conn: psycopg.Connection, tenant: str, *, limit: int, offset: int
) -> list[Video]:
    with conn.cursor(row_factory=class_row(Video)) as cur:
        cur.execute(
            f"SELECT {VIDEO_COLUMNS} FROM videos WHERE tenant = %s"
            " ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
            (tenant, limit, offset),
        )
        return cur.fetchall()


def segments_after(
    conn: psycopg.Connection, tenant: str, video_id: str, ordinal: int, *, limit: int = 500
) -> list[StoredSegment]:
    """Segments with an ordinal above ``ordinal``, in order: what a live stream has not sent."""
    with conn.cursor(row_factory=class_row(StoredSegment)) as cur:
        cur.execute(
            "SELECT ordinal, start_s AS start, end_s AS end, text FROM segments"
            " WHERE tenant = %s AND video_id = %s AND ordinal > %s ORDER BY ordinal LIMIT %s",
            (tenant, video_id, ordinal, limit),
        )
        return cur.fetchall()


def video_ids_with_source(conn: psycopg.Connection, tenant: str, source: str) -> list[str]:
    rows = conn.execute(
        "SELECT id FROM videos WHERE tenant = %s AND source = %s", (tenant, source)
    ).fetchall()
    return [r[0] for r in rows]


def video_sources(conn: psycopg.Connection, tenant: str, video_ids: list[str]) -> dict[str, str]:
    rows = conn.execute(
        "SELECT id, source FROM videos WHERE tenant = %s AND id = ANY(%s)", (tenant, video_ids)
    ).fetchall()
    return {video_id: source for video_id, source in rows}
