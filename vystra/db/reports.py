"""A cluster worker's report on its ingest (table ``ingest_reports``).

The worker writes its one row under its own login (progress, then the outcome or its reason
for bad input); the operator reads the rows changed since its last look and writes them into
the VideoIngest's status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

# a row committed late carries an earlier updated_at than one already read: look back this far
OVERLAP = timedelta(seconds=5)
COLUMNS = (
    "uid, tenant, video_id, reused, processed_seconds, duration_seconds, segments, done,"
    " reason, message, visual_seconds, stage_seconds"
)


# the stages a report may time (the pipeline's progress names them); anything else a worker's
# login wrote is dropped where the operator reads it, so metric labels stay few
STAGES = frozenset({"fetch", "probe", "audio", "transcribe", "visual", "insights"})


def _stages(value: object) -> dict[str, float] | None:
    if not isinstance(value, dict):
        return None
    return {
        stage: float(seconds)
        for stage, seconds in value.items()
        if stage in STAGES
        and isinstance(seconds, int | float)
        and math.isfinite(seconds)
        and 0 <= seconds < 1e7
    }


@dataclass(frozen=True)
class Report:
    uid: str
    tenant: str
    video_id: str | None = None
    reused: bool = False
    processed: float = 0.0
    duration: float = 0.0
    segments: int = 0
    done: bool = False  # the ingest succeeded: the figures are final
    reason: str | None = None  # bad input: the Job fails at once with this reason
    message: str | None = None
    visual: float | None = None  # seconds the visual stages have read; None: not running
    stages: dict[str, float] | None = None  # wall seconds per stage, with the outcome


def write(conn: psycopg.Connection, r: Report) -> None:
    conn.execute(
        f"INSERT INTO ingest_reports ({COLUMNS})"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (uid) DO UPDATE SET video_id = EXCLUDED.video_id,"
        " reused = EXCLUDED.reused, processed_seconds = EXCLUDED.processed_seconds,"
        " duration_seconds = EXCLUDED.duration_seconds, segments = EXCLUDED.segments,"
        " done = EXCLUDED.done, reason = EXCLUDED.reason, message = EXCLUDED.message,"
        " visual_seconds = EXCLUDED.visual_seconds, stage_seconds = EXCLUDED.stage_seconds,"
        " updated_at = clock_timestamp()",
        (
            r.uid,
            r.tenant,
            r.video_id,
            r.reused,
            r.processed,
            r.duration,
            r.segments,
            r.done,
            r.reason,
            r.message,
            r.visual,
            None if r.stages is None else Jsonb(r.stages),
        ),
    )


def changed_since(
    conn: psycopg.Connection, since: datetime | None
) -> tuple[list[Report], datetime | None]:
    """Reports changed after ``since`` (all if None), and the mark to pass next time."""
    if since is None:
        rows = conn.execute(f"SELECT {COLUMNS}, updated_at FROM ingest_reports").fetchall()
    else:
        rows = conn.execute(
            f"SELECT {COLUMNS}, updated_at FROM ingest_reports WHERE updated_at > %s",
            (since - OVERLAP,),
        ).fetchall()
    mark = max((row[-1] for row in rows), default=since)
    return [_report(row[:-1]) for row in rows], mark


def delete(conn: psycopg.Connection, uids: list[str]) -> None:
    conn.execute("DELETE FROM ingest_reports WHERE uid = ANY(%s)", (uids,))


def read(conn: psycopg.Connection, uid: str) -> Report | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM ingest_reports WHERE uid = %s", (uid,)).fetchone()
    return _report(row) if row is not None else None


def _report(row: tuple[Any, ...]) -> Report:
    *figures, stages = row
    return replace(Report(*figures), stages=_stages(stages))
