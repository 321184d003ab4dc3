"""Which model the search index holds, and moving it to another without re-transcribing.

A re-index embeds every stored unit (and its sentences) with the new model into columns beside
the live ones (``embedding_next``, of the new model's dimension), builds their HNSW index
concurrently, then switches in one transaction: units written meanwhile are embedded under a
lock that holds writers (not searches), the columns and the index take the live names, and
``search_index`` names the new model. Searches run throughout: each one checks, under a lock
the switch must wait for, that it embedded its query with the model the index holds
(vystra.db.searchindex), and processes that find it changed load the new model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from vystra.db import Database
from vystra.db import searchindex as si
from vystra.embed import Embedder, embed_units, load_embedder, model_path, model_ref
from vystra.errors import VystraError
from vystra.segment import Chunk
from vystra.settings import Settings

log = logging.getLogger(__name__)

BATCH = 256  # units embedded and written per transaction
LOCK_TIMEOUT = "2s"  # how long a column change may queue searches behind it before retrying
LOCK_TRIES = 30


def active_embedder(db: Database, settings: Settings, *, register: bool = True) -> Embedder:
    """The embedder of the model the index holds. A fresh database's index is the configured
    model's, registered here when ``register`` (platform processes; cluster workers only read)."""
    with db.connect() as conn:
        found = si.active(conn)
    if found is None:
        embedder = load_embedder(model_ref(settings), settings)
        if not register:
            return embedder
        with db.connect() as conn:
            found = si.register(conn, embedder.index_model)
        if found.name == embedder.name:
            return embedder
    elif found.model != model_ref(settings):
        log.info("the search index holds %s (configured: %s)", found.model, model_ref(settings))
    return load_embedder(found.model, settings)


@dataclass(frozen=True)
class ReindexProgress:
    done: int
    total: int


@dataclass(frozen=True)
class ReindexResult:
    run_id: str
    model: si.IndexModel
    units: int
    seconds: float


def start_run(db: Database, settings: Settings, model: str | None) -> si.ReindexRun:
    """Record a pending re-index to ``model`` (default: the configured one), refused at once
    if it names no model this process can load."""
    ref = model or model_ref(settings)
    model_path(ref, settings)  # checked here; loaded where the run is carried out
    with db.connect() as conn:
        return si.create_run(conn, ref)


def reindex(
    db: Database,
    settings: Settings,
    model: str | None = None,
    *,
    run_id: str | None = None,
    on_progress: Callable[[ReindexProgress], None] | None = None,
) -> ReindexResult:
    """Re-embed every stored unit with ``model`` (default: the configured model) and switch
    search over to it; ``run_id``: a run from :func:`start_run` to carry out."""
    began = time.monotonic()
    if run_id is None:
        run_id = start_run(db, settings, model).id
    with db.connect() as conn:
        run = si.get_run(conn, run_id)
    if run is None:
        raise VystraError(f"no re-index run {run_id}")
    try:
        embedder = load_embedder(run.model, settings)
        # one re-index at a time: a second waits for the first to finish, then runs in full
        with db.exclusive("vystra-reindex"):
            with db.connect() as conn:
                (total,) = conn.execute("SELECT count(*) FROM segments").fetchone() or (0,)
                si.update_run(
                    conn,
                    run_id,
                    status="running",
                    name=embedder.name,
                    dim=embedder.dim,
                    total=total,
                    done=0,
                )
            _prepare(db, embedder.dim)
            done = _fill(db, embedder, run_id, total, on_progress)
            _build_index(db)
            done += _fill(db, embedder, run_id, total, on_progress, done)  # written meanwhile
            done += _switch(db, embedder)
            with db.connect() as conn:
                si.update_run(conn, run_id, status="done", done=done, total=max(total, done))
    except Exception as exc:
        with db.connect() as conn:
            si.update_run(conn, run_id, status="failed", error=str(exc) or type(exc).__name__)
        _discard(db)
        raise
    log.info("re-indexed %d units with %s", done, embedder.name)
    return ReindexResult(run_id, embedder.index_model, done, time.monotonic() - began)


def _altering(db: Database, statements: Callable[[psycopg.Connection], None]) -> None:
    """Run column changes in a transaction, retried while searches hold the table: waiting
    long for its lock would queue every new search behind it."""
    for _ in range(LOCK_TRIES):
        try:
            with db.connect() as conn, conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                statements(conn)
            return
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            log.info("re-index: the segments table is busy, trying again")
    raise VystraError("re-index: the segments table stayed busy; try again later")


def _prepare(db: Database, dim: int) -> None:
    """Fresh columns for the new vectors (dropping what an interrupted run left)."""

    def add(conn: psycopg.Connection) -> None:
        conn.execute("DROP TRIGGER IF EXISTS segments_reindex ON segments")
        conn.execute(
            "ALTER TABLE segments DROP COLUMN IF EXISTS embedding_next,"
            " DROP COLUMN IF EXISTS sentence_vectors_next,"
            f" ADD COLUMN embedding_next vector({int(dim)}), ADD COLUMN sentence_vectors_next bytea"
        )
        conn.execute(
            "CREATE TRIGGER segments_reindex BEFORE UPDATE ON segments"
            " FOR EACH ROW EXECUTE FUNCTION vystra_reindex_stale()"
        )

    _altering(db, add)


def _discard(db: Database) -> None:
    """Drop what a failed run added (best effort: the next run drops it anyway)."""

    def drop(conn: psycopg.Connection) -> None:
        conn.execute("DROP TRIGGER IF EXISTS segments_reindex ON segments")
        conn.execute(
            "ALTER TABLE segments DROP COLUMN IF EXISTS embedding_next,"
            " DROP COLUMN IF EXISTS sentence_vectors_next"
        )

    try:
        _altering(db, drop)
    except Exception:
        log.warning("re-index: could not drop the unfinished columns", exc_info=True)


def _pending(conn: psycopg.Connection, after: tuple[str, int], limit: int) -> list[tuple]:
    return conn.execute(
        "SELECT video_id, ordinal, start_s, end_s, text, word_starts, word_offsets"
        " FROM segments WHERE embedding_next IS NULL AND (video_id, ordinal) > (%s, %s)"
        " ORDER BY video_id, ordinal LIMIT %s",
        (*after, limit),
    ).fetchall()


def _embed_into(conn: psycopg.Connection, embedder: Embedder, rows: list) -> None:
    units = [Chunk(r[1], r[2], r[3], r[4], tuple(r[5] or ()), tuple(r[6] or ())) for r in rows]
    matrix, packed = embed_units(embedder, units)
    with conn.cursor() as cur:
        # the text must be what was embedded: a unit re-written since keeps NULL, for later
        cur.executemany(
            "UPDATE segments SET embedding_next = %s, sentence_vectors_next = %s"
            " WHERE video_id = %s AND ordinal = %s AND text = %s",
            [(v, p, r[0], r[1], r[4]) for v, p, r in zip(matrix, packed, rows, strict=True)],
        )


def _fill(db, embedder, run_id, total, on_progress, done: int = 0) -> int:
    """Embed every unit without new vectors, in key order, a batch per transaction."""
    after = ("", -1)
    count = 0
    while True:
        with db.connect() as conn:
            rows = _pending(conn, after, BATCH)
            if not rows:
                return count
            _embed_into(conn, embedder, rows)
            count += len(rows)
            si.update_run(conn, run_id, status="running", done=done + count)
        after = (rows[-1][0], rows[-1][1])
        if on_progress:
            on_progress(ReindexProgress(done + count, max(total, done + count)))


def _build_index(db: Database) -> None:
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(
            "CREATE INDEX CONCURRENTLY segments_embedding_next_hnsw"
            " ON segments USING hnsw (embedding_next vector_cosine_ops)"
        )


def _switch(db: Database, embedder: Embedder) -> int:
    """Embed what was written since the last pass, with writers held, and swap the columns."""
    count = 0

    def swap(conn: psycopg.Connection) -> None:
        nonlocal count
        count = 0
        conn.execute("LOCK TABLE segments IN SHARE ROW EXCLUSIVE MODE")  # searches go on
        after = ("", -1)
        while rows := _pending(conn, after, BATCH):
            _embed_into(conn, embedder, rows)
            count += len(rows)
            after = (rows[-1][0], rows[-1][1])
        conn.execute("DROP TRIGGER segments_reindex ON segments")
        conn.execute("ALTER TABLE segments DROP COLUMN embedding, DROP COLUMN sentence_vectors")
        conn.execute("ALTER TABLE segments RENAME COLUMN embedding_next TO embedding")
        conn.execute("ALTER TABLE segments RENAME COLUMN sentence_vectors_next TO sentence_vectors")
        conn.execute("ALTER INDEX segments_embedding_next_hnsw RENAME TO segments_embedding_hnsw")
        conn.execute(
            "INSERT INTO search_index (model, name, dim) VALUES (%s, %s, %s)"
            " ON CONFLICT (singleton) DO UPDATE SET model = EXCLUDED.model,"
            " name = EXCLUDED.name, dim = EXCLUDED.dim, switched_at = now()",
            (embedder.model, embedder.name, embedder.dim),
        )
        conn.execute(
            "UPDATE videos SET embedding_model = %s WHERE embedding_model IS DISTINCT FROM %s"
            " AND embedding_model IS NOT NULL",
            (embedder.name, embedder.name),
        )

    _altering(db, swap)
    return count
