"""Reads the API needs beyond store: videos by source, and the sources of videos."""

from __future__ import annotations

import psycopg


def video_ids_with_source(conn: psycopg.Connection, tenant: str, *sources: str) -> list[str]:
    rows = conn.execute(
        "SELECT id FROM videos WHERE tenant = %s AND source = ANY(%s)", (tenant, list(sources))
    ).fetchall()
    return [r[0] for r in rows]


def video_sources(conn: psycopg.Connection, tenant: str, video_ids: list[str]) -> dict[str, str]:
    rows = conn.execute(
        "SELECT id, source FROM videos WHERE tenant = %s AND id = ANY(%s)", (tenant, video_ids)
    ).fetchall()
    return {video_id: source for video_id, source in rows}
