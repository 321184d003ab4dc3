"""Queries on videos and segments. Every read and delete is scoped to a tenant."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from vystra.db import searchindex
from vystra.db.paging import AFTER_SQL, ORDER_SQL, After
from vystra.segment import Chunk, Modality

VIDEO_COLUMNS = (
    "id, tenant, title, source, sha256, size_bytes, duration, language, model, embedding_model,"
    " options, status, error_reason, error, processed_seconds, segment_count, insights,"
    " insights_status, created_at, updated_at, visual_status, visual_error, keyframe_count,"
    " screen_count"
)


class VisualStatus(StrEnum):
    """``videos.visual_status``: how the visual stages (vystra.visual) went."""

    processing = "processing"
    ready = "ready"
    failed = "failed"  # the video stream could not be read; the speech is indexed
    disabled = "disabled"  # turned off for this ingest or the platform
    none = "none"  # the file has no video stream


@dataclass(frozen=True)
class Video:
    id: str
    tenant: str
    title: str
    source: str
    sha256: str
    size_bytes: int
    duration: float | None
    language: str | None
    model: str | None
    embedding_model: str | None
    options: dict[str, Any]
    status: str
    error_reason: str | None
    error: str | None
    processed_seconds: float
    segment_count: int
    insights: dict[str, Any] | None
    insights_status: str | None
    created_at: datetime
    updated_at: datetime
    visual_status: str | None = None
    visual_error: str | None = None
    keyframe_count: int = 0
    screen_count: int = 0


@dataclass(frozen=True)
class StoredSegment:
    """A search unit, or a transcript segment; ``words`` (start, end, word) only for the
    latter, when the transcriber timed words."""

    ordinal: int
    start: float
    end: float
    text: str
    words: tuple[tuple[float, float, str], ...] = ()


def video_id_for(tenant: str, sha256: str) -> str:
    """Deterministic, so a retried ingest of the same bytes lands on the same row."""
    return "v" + hashlib.sha256(f"{tenant}\0{sha256}".encode()).hexdigest()[:15]


def find_by_sha(conn: psycopg.Connection, tenant: str, sha256: str) -> Video | None:
    with conn.cursor(row_factory=class_row(Video)) as cur:
        cur.execute(
            f"SELECT {VIDEO_COLUMNS} FROM videos WHERE tenant = %s AND sha256 = %s",
            (tenant, sha256),
        )
        return cur.fetchone()


def get_video(conn: psycopg.Connection, tenant: str, video_id: str) -> Video | None:
    with conn.cursor(row_factory=class_row(Video)) as cur:
        cur.execute(
            f"SELECT {VIDEO_COLUMNS} FROM videos WHERE tenant = %s AND id = %s", (tenant, video_id)
        )
        return cur.fetchone()


def list_videos(
    conn: psycopg.Connection, tenant: str, *, limit: int = 1000, after: After | None = None
) -> list[Video]:
    """Newest first; ``after`` pages on (see vystra.db.paging)."""
    with conn.cursor(row_factory=class_row(Video)) as cur:
        cur.execute(
            f"SELECT {VIDEO_COLUMNS} FROM videos WHERE tenant = %s"
            + (AFTER_SQL if after else "")
            + ORDER_SQL
            + " LIMIT %s",
            (tenant, *(after.params() if after else ()), limit),
        )
        return cur.fetchall()


def begin_video(
    conn: psycopg.Connection,
    *,
    video_id: str,
    tenant: str,
    title: str,
    source: str,
    sha256: str,
    size_bytes: int,
    duration: float,
    options: dict[str, Any],
    resumed_transcript: Sequence[list] | None = None,
) -> None:
    """Create the row, or reset a failed/interrupted/forced one to ``processing``.

    Segments of an earlier attempt stay until the new attempt overwrites them, so a video
    being re-processed remains searchable. The transcript starts empty, or, for an attempt
    that resumes after the stored units (:func:`committed_units`), as ``resumed_transcript``
    with the stored progress kept; :func:`write_segments` appends to it.
    """
    resuming = resumed_transcript is not None
    start = Jsonb([list(t) for t in resumed_transcript or []])
    conn.execute(
        "INSERT INTO videos (id, tenant, title, source, sha256, size_bytes, duration, options,"
        " status, transcript) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'processing', %s)"
        " ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, source = EXCLUDED.source,"
        " duration = EXCLUDED.duration, options = EXCLUDED.options, status = 'processing',"
        " error_reason = NULL, error = NULL, transcript = EXCLUDED.transcript,"
        " processed_seconds = CASE WHEN %s THEN videos.processed_seconds ELSE 0 END,"
        " updated_at = now()",
        (video_id, tenant, title, source, sha256, size_bytes, duration, Jsonb(options), start)
        + (resuming,),
    )


def set_transcription(
    conn: psycopg.Connection,
    video_id: str,
    *,
    language: str | None,
    model: str | None,
    embedding_model: str,
) -> None:
    conn.execute(
        "UPDATE videos SET language = %s, model = %s, embedding_model = %s, updated_at = now()"
        " WHERE id = %s",
        (language, model, embedding_model, video_id),
    )


def write_segments(
    conn: psycopg.Connection,
    *,
    video_id: str,
    tenant: str,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    model: str,
    processed_seconds: float,
    sentence_vectors: Sequence[bytes | None] | None = None,
    transcript_tail: Sequence[list] = (),
) -> None:
    """COPY a batch in, upserting on (video, ordinal): a retried batch replaces, never doubles.

    ``model``: the name of the embedder that made ``vectors``; raises
    :class:`~vystra.db.searchindex.IndexChanged` if the index holds another model's now.

    ``sentence_vectors``: per chunk, its sentences' packed embeddings (vystra.moments).
    ``transcript_tail``: transcript entries heard since the last batch, appended with it so an
    interrupted ingest can resume after the batch (:func:`committed_units`)."""
    if not chunks:
        return
    with conn.transaction():
        _upsert_units(
            conn, video_id, tenant, chunks, vectors, model, sentence_vectors, Modality.speech
        )
        conn.execute(
            "UPDATE videos SET processed_seconds = %s, segment_count = %s,"
            " transcript = coalesce(transcript, '[]'::jsonb) || %s, embedding_model = %s,"
            " updated_at = now() WHERE id = %s",
            (
                processed_seconds,
                chunks[-1].ordinal + 1,
                Jsonb([list(t) for t in transcript_tail]),
                model,
                video_id,
            ),
        )


def _upsert_units(
    conn: psycopg.Connection,
    video_id: str,
    tenant: str,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    model: str,
    sentence_vectors: Sequence[bytes | None] | None,
    modality: Modality,
) -> None:
    """COPY units in and upsert them on (video, ordinal), in the caller's transaction, after
    checking that the index still holds ``model``'s vectors."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS segments_batch (video_id text, ordinal integer,"
        " tenant text, start_s float8, end_s float8, text text, embedding vector,"
        " word_starts real[], word_offsets integer[], sentence_vectors bytea)"
        " ON COMMIT DELETE ROWS"
    )
    conn.execute("TRUNCATE segments_batch")  # the caller's transaction may span batches
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY segments_batch (video_id, ordinal, tenant, start_s, end_s, text, embedding,"
            " word_starts, word_offsets, sentence_vectors) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(
            ["text", "int4", "text", "float8", "float8", "text", "vector", "float4[]", "int4[]"]
            + ["bytea"]
        )
        packed = sentence_vectors or [None] * len(chunks)
        for chunk, vector, sentences in zip(chunks, vectors, packed, strict=True):
            timed = bool(chunk.word_starts)
            copy.write_row(
                (
                    video_id,
                    chunk.ordinal,
                    tenant,
                    chunk.start,
                    chunk.end,
                    chunk.text,
                    vector,
                    list(chunk.word_starts) if timed else None,
                    list(chunk.word_offsets) if timed else None,
                    sentences,
                )
            )
    searchindex.check(conn, model, writing=True)
    conn.execute(
        "INSERT INTO segments (video_id, ordinal, tenant, start_s, end_s, text, embedding,"
        " word_starts, word_offsets, sentence_vectors, ts_config, modality) SELECT b.video_id,"
        " b.ordinal, b.tenant, b.start_s, b.end_s, b.text, b.embedding, b.word_starts,"
        " b.word_offsets, b.sentence_vectors, vystra_ts_config(v.language), %s"
        " FROM segments_batch b JOIN videos v ON v.id = b.video_id"
        " ON CONFLICT (video_id, ordinal) DO UPDATE SET start_s = EXCLUDED.start_s,"
        " end_s = EXCLUDED.end_s, text = EXCLUDED.text, embedding = EXCLUDED.embedding,"
        " word_starts = EXCLUDED.word_starts, word_offsets = EXCLUDED.word_offsets,"
        " sentence_vectors = EXCLUDED.sentence_vectors, ts_config = EXCLUDED.ts_config",
        (modality.value,),
    )


def finish_video(
    conn: psycopg.Connection,
    video_id: str,
    *,
    segment_count: int,
    duration: float,
    transcript: Sequence[Sequence],
    insights: dict[str, Any] | None,
    insights_status: str,
) -> None:
    with conn.transaction():
        # an earlier attempt may have produced more units than this one
        conn.execute(
            "DELETE FROM segments WHERE video_id = %s AND ordinal >= %s", (video_id, segment_count)
        )
        conn.execute(
            "UPDATE videos SET status = 'ready', segment_count = %s, processed_seconds = %s,"
            " duration = %s, transcript = %s, insights = %s, insights_status = %s,"
            " updated_at = now() WHERE id = %s",
            (
                segment_count,
                duration,
                duration,
                Jsonb([list(t) for t in transcript]),
                Jsonb(insights) if insights is not None else None,
                insights_status,
                video_id,
            ),
        )


def fail_video(conn: psycopg.Connection, video_id: str, *, reason: str, message: str) -> None:
    conn.execute(
        "UPDATE videos SET status = 'failed', error_reason = %s, error = %s, updated_at = now()"
        " WHERE id = %s",
        (reason, message, video_id),
    )


def get_segments(
    conn: psycopg.Connection,
    tenant: str,
    video_id: str,
    *,
    after: int = -1,
    limit: int | None = None,
) -> list[StoredSegment]:
    """Search units in order; ``after`` skips those up to that ordinal (what a live stream
    already sent), ``limit`` caps the answer (None: all)."""
    with conn.cursor(row_factory=class_row(StoredSegment)) as cur:
        cur.execute(
            "SELECT ordinal, start_s AS start, end_s AS end, text FROM segments"
            " WHERE tenant = %s AND video_id = %s AND ordinal > %s AND modality = 'speech'"
            " ORDER BY ordinal LIMIT %s",
            (tenant, video_id, after, limit),
        )
        return cur.fetchall()


def get_transcript_entries(conn: psycopg.Connection, tenant: str, video_id: str) -> list[list]:
    """The stored transcript as written: [start, end, text] or, since issue #14,
    [start, end, text, [[start, end, word], ...]]; so far, while the video is processing."""
    row = conn.execute(
        "SELECT transcript FROM videos WHERE tenant = %s AND id = %s", (tenant, video_id)
    ).fetchone()
    return list((row[0] if row else None) or [])


def get_transcript(conn: psycopg.Connection, tenant: str, video_id: str) -> list[StoredSegment]:
    """Whisper's own segments (no overlap), for reading and subtitles."""
    segments = []
    for i, (start, end, text, *rest) in enumerate(get_transcript_entries(conn, tenant, video_id)):
        words = tuple((w[0], w[1], w[2]) for w in (rest[0] if rest else ()))
        segments.append(StoredSegment(i, start, end, text, words))
    return segments


def committed_units(conn: psycopg.Connection, video: Video) -> tuple[list[Chunk], np.ndarray]:
    """The units an unfinished attempt stored and their embeddings, in order, ending where its
    progress ends; none when they do not form that whole prefix (nothing to resume from)."""
    none: tuple[list[Chunk], np.ndarray] = ([], np.zeros((0, 0), np.float32))
    if video.segment_count <= 0 or video.processed_seconds <= 0:
        return none
    units, vectors = stored_units(conn, video)
    whole = [u.ordinal for u in units] == list(range(video.segment_count))
    if not whole or abs(units[-1].end - video.processed_seconds) > 0.05:
        return none
    return units, vectors


def stored_units(conn: psycopg.Connection, video: Video) -> tuple[list[Chunk], np.ndarray]:
    """The video's units (up to its segment count) and their embeddings, in order."""
    rows = conn.execute(
        "SELECT ordinal, start_s, end_s, text, word_starts, word_offsets, embedding"
        " FROM segments WHERE video_id = %s AND ordinal >= 0 AND ordinal < %s ORDER BY ordinal",
        (video.id, video.segment_count),
    ).fetchall()
    units = [
        Chunk(ordinal, start, end, text, tuple(starts or ()), tuple(offsets or ()))
        for ordinal, start, end, text, starts, offsets, _ in rows
    ]
    vectors = np.array([row[-1].to_numpy() for row in rows], dtype=np.float32)
    return units, vectors.reshape(len(rows), -1 if rows else 0)


def claim_pending_insights(conn: psycopg.Connection, stale_after: timedelta) -> Video | None:
    """The oldest ready video, of any tenant, whose insights wait for the platform (or whose
    claim is older than ``stale_after``: its writer stopped), marked ``generating``."""
    with conn.cursor(row_factory=class_row(Video)) as cur:
        cur.execute(
            "UPDATE videos SET insights_status = 'generating', updated_at = now()"
            " WHERE id = (SELECT id FROM videos WHERE status = 'ready'"
            "  AND (insights_status = 'pending'"
            "   OR insights_status = 'generating' AND updated_at < now() - %s)"
            "  ORDER BY updated_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
            f" RETURNING {VIDEO_COLUMNS}",
            (stale_after,),
        )
        return cur.fetchone()


def set_insights(
    conn: psycopg.Connection, video_id: str, insights: dict[str, Any], status: str
) -> bool:
    """Store what a claim produced; False when the video went meanwhile."""
    cur = conn.execute(
        "UPDATE videos SET insights = %s, insights_status = %s, updated_at = now()"
        " WHERE id = %s AND insights_status = 'generating'",
        (Jsonb(insights), status, video_id),
    )
    return cur.rowcount > 0


def delete_video(conn: psycopg.Connection, tenant: str, video_id: str) -> bool:
    """Remove a video and (by cascade) its segments; False if the tenant has no such video."""
    cur = conn.execute("DELETE FROM videos WHERE tenant = %s AND id = %s", (tenant, video_id))
    return cur.rowcount > 0


@dataclass(frozen=True)
class StoredKeyframe:
    t: float
    shot: bool


def write_visual(
    conn: psycopg.Connection,
    *,
    video_id: str,
    tenant: str,
    keyframes: Sequence[tuple[float, bool, bytes]],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    model: str,
    sentence_vectors: Sequence[bytes | None] | None,
    seconds: float,
) -> None:
    """Replace the video's keyframes (time, starts a shot, JPEG) and screen-text units
    (ordinals -1, -2, ...) with one analysis's, in one transaction; raises
    :class:`~vystra.db.searchindex.IndexChanged` like :func:`write_segments`."""
    with conn.transaction():
        conn.execute("DELETE FROM keyframes WHERE video_id = %s", (video_id,))
        # INSERT, not COPY: row-level security (a worker's login) refuses COPY FROM
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO keyframes (video_id, tenant, t, shot, jpeg)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(video_id, tenant, t, shot, jpeg) for t, shot, jpeg in keyframes],
            )
        if chunks:
            _upsert_units(
                conn, video_id, tenant, chunks, vectors, model, sentence_vectors, Modality.screen
            )
        # an earlier analysis may have read more
        conn.execute(
            "DELETE FROM segments WHERE video_id = %s AND ordinal < %s", (video_id, -len(chunks))
        )
        conn.execute(
            "UPDATE videos SET visual_status = %s, visual_error = NULL, visual_seconds = %s,"
            " keyframe_count = %s, screen_count = %s, updated_at = now() WHERE id = %s",
            (VisualStatus.ready.value, seconds, len(keyframes), len(chunks), video_id),
        )


def set_visual(
    conn: psycopg.Connection,
    video_id: str,
    status: VisualStatus,
    *,
    error: str | None = None,
    seconds: float = 0.0,
) -> None:
    """Record the visual stages' progress or an outcome without an index (``disabled``,
    ``none``: no video stream, ``failed``); those drop an earlier attempt's keyframes and
    screen units, which no longer describe what this attempt saw."""
    with conn.transaction():
        if status is not VisualStatus.processing:
            conn.execute("DELETE FROM keyframes WHERE video_id = %s", (video_id,))
            conn.execute("DELETE FROM segments WHERE video_id = %s AND ordinal < 0", (video_id,))
        conn.execute(
            "UPDATE videos SET visual_status = %s, visual_error = %s, visual_seconds = %s,"
            " keyframe_count = CASE WHEN %s = 'processing' THEN keyframe_count ELSE 0 END,"
            " screen_count = CASE WHEN %s = 'processing' THEN screen_count ELSE 0 END,"
            " updated_at = now() WHERE id = %s",
            (status.value, error, seconds, status.value, status.value, video_id),
        )


def list_keyframes(conn: psycopg.Connection, tenant: str, video_id: str) -> list[StoredKeyframe]:
    with conn.cursor(row_factory=class_row(StoredKeyframe)) as cur:
        cur.execute(
            "SELECT t, shot FROM keyframes WHERE tenant = %s AND video_id = %s ORDER BY t",
            (tenant, video_id),
        )
        return cur.fetchall()


def visual_outline(
    conn: psycopg.Connection, video_id: str
) -> tuple[list[float], list[tuple[float, float, str]]]:
    """When the video's shots start, and its screen units (start, end, text) in order."""
    shots = conn.execute(
        "SELECT t FROM keyframes WHERE video_id = %s AND shot ORDER BY t", (video_id,)
    ).fetchall()
    texts = conn.execute(
        "SELECT start_s, end_s, text FROM segments WHERE video_id = %s AND ordinal < 0"
        " ORDER BY start_s",
        (video_id,),
    ).fetchall()
    return [r[0] for r in shots], [(r[0], r[1], r[2]) for r in texts]


def keyframe_jpeg(conn: psycopg.Connection, tenant: str, video_id: str, at: float) -> bytes | None:
    """The thumbnail of the keyframe shown at ``at`` seconds: the last one at or before it
    (the first one, before the first)."""
    row = conn.execute(
        "SELECT jpeg FROM keyframes WHERE tenant = %s AND video_id = %s"
        " ORDER BY t <= %s DESC, CASE WHEN t <= %s THEN -t ELSE t END LIMIT 1",
        (tenant, video_id, at, at),
    ).fetchone()
    return bytes(row[0]) if row else None
