"""The search index's model (table ``search_index``) and re-index runs (``reindex_runs``).

Every process embeds queries and new units with the model the stored vectors come from; a
re-index switches that model in the same transaction that swaps the vector columns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg


class IndexChanged(Exception):
    """The index now holds another model's vectors than the caller embedded with."""

    def __init__(self, active: IndexModel) -> None:
        super().__init__(f"the search index switched to {active.name}")
        self.active = active


@dataclass(frozen=True)
class IndexModel:
    model: str  # what loads it (vystra.embed.load_embedder)
    name: str
    dim: int


def active(conn: psycopg.Connection) -> IndexModel | None:
    row = conn.execute("SELECT model, name, dim FROM search_index").fetchone()
    return IndexModel(*row) if row else None


def check(conn: psycopg.Connection, name: str, *, writing: bool) -> None:
    """Raise :class:`IndexChanged` unless the index holds ``name``'s vectors (or no model is
    registered yet). Locks ``segments`` first, in the connection's transaction (so not in
    autocommit), and the re-index's switch waits for that lock: it cannot switch between this
    check and the caller's reads (``writing``: and writes) of vectors. One round trip."""
    mode = "ROW EXCLUSIVE" if writing else "ACCESS SHARE"
    cur = conn.execute(
        f"LOCK TABLE segments IN {mode} MODE; SELECT model, name, dim FROM search_index"
    )
    cur.nextset()
    row = cur.fetchone()
    if row is not None and row[1] != name:
        raise IndexChanged(IndexModel(*row))


def register(conn: psycopg.Connection, model: IndexModel) -> IndexModel:
    """The active model, ``model`` if none was registered (a fresh database)."""
    conn.execute(
        "INSERT INTO search_index (model, name, dim) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        (model.model, model.name, model.dim),
    )
    found = active(conn)
    assert found is not None
    return found


@dataclass(frozen=True)
class ReindexRun:
    id: str
    model: str
    name: str | None
    dim: int | None
    status: str  # pending | running | done | failed
    total: int
    done: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


_RUN_COLUMNS = "id::text, model, name, dim, status, total, done, error, created_at, finished_at"


def create_run(conn: psycopg.Connection, model: str) -> ReindexRun:
    row = conn.execute(
        f"INSERT INTO reindex_runs (id, model, status) VALUES (%s, %s, 'pending')"
        f" RETURNING {_RUN_COLUMNS}",
        (str(uuid.uuid4()), model),
    ).fetchone()
    assert row is not None
    return ReindexRun(*row)


def get_run(conn: psycopg.Connection, run_id: str) -> ReindexRun | None:
    try:
        uuid.UUID(run_id)
    except ValueError:
        return None
    row = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM reindex_runs WHERE id = %s", (run_id,)
    ).fetchone()
    return ReindexRun(*row) if row else None


def list_runs(conn: psycopg.Connection, limit: int = 20) -> list[ReindexRun]:
    rows = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM reindex_runs ORDER BY created_at DESC LIMIT %s", (limit,)
    ).fetchall()
    return [ReindexRun(*r) for r in rows]


def update_run(
    conn: psycopg.Connection,
    run_id: str,
    *,
    status: str,
    name: str | None = None,
    dim: int | None = None,
    total: int | None = None,
    done: int | None = None,
    error: str | None = None,
) -> None:
    finished = status in ("done", "failed")
    conn.execute(
        "UPDATE reindex_runs SET status = %s, name = coalesce(%s, name),"
        " dim = coalesce(%s, dim), total = coalesce(%s, total), done = coalesce(%s, done),"
        " error = coalesce(%s, error), finished_at = CASE WHEN %s THEN now() END WHERE id = %s",
        (status, name, dim, total, done, error, finished, run_id),
    )
