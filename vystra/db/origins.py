"""Which VideoIngest made which video (table ``cluster_origins``).

The worker records its origin when the video id is known; the operator removes the row, and
the video with it unless it is retained, was only reused, or another live ingest points at it.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from vystra.db import store


@dataclass(frozen=True)
class Origin:
    uid: str
    tenant: str
    namespace: str
    name: str
    video_id: str
    reused: bool
    retain: bool

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def record(conn: psycopg.Connection, origin: Origin) -> None:
    """Idempotent: a retried worker records the same row again."""
    conn.execute(
        "INSERT INTO cluster_origins (uid, tenant, namespace, name, video_id, reused, retain)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (uid) DO UPDATE SET video_id = EXCLUDED.video_id,"
        " reused = EXCLUDED.reused, retain = EXCLUDED.retain",
        (
            origin.uid,
            origin.tenant,
            origin.namespace,
            origin.name,
            origin.video_id,
            origin.reused,
            origin.retain,
        ),
    )


def orphans(conn: psycopg.Connection, live_uids: set[str]) -> list[Origin]:
    rows = conn.execute(
        "SELECT uid, tenant, namespace, name, video_id, reused, retain FROM cluster_origins"
    ).fetchall()
    return [Origin(*row) for row in rows if row[0] not in live_uids]


def remove(conn: psycopg.Connection, uid: str, *, retain: bool) -> str | None:
    """Forget ``uid``'s origin; delete its video unless kept. The video id deleted, or None."""
    with conn.transaction():
        row = conn.execute(
            "DELETE FROM cluster_origins WHERE uid = %s RETURNING tenant, video_id, reused, retain",
            (uid,),
        ).fetchone()
        if row is None:
            return None
        tenant, video_id, reused, stored_retain = row
        if retain or stored_retain or reused:
            return None
        # a later ingest that found the same bytes keeps the video, and now owns it: the last
        # one deleted removes it
        others = conn.execute(
            "UPDATE cluster_origins SET reused = false WHERE tenant = %s AND video_id = %s",
            (tenant, video_id),
        )
        if others.rowcount:
            return None
        return video_id if store.delete_video(conn, tenant, video_id) else None
