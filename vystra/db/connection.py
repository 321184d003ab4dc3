"""One :class:`Database` per process: a small connection pool with pgvector types registered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

from vystra.db.embedded import embedded_url
from vystra.db.migrate import migrate
from vystra.settings import Settings


def _configure(conn: psycopg.Connection) -> None:
    register_vector(conn)
    conn.commit()  # the type lookup opened a transaction; pooled connections must be idle


class Database:
    def __init__(self, url: str, *, max_size: int = 4, migrate_schema: bool = True) -> None:
        self.url = url
        if migrate_schema:  # a cluster worker's role may not: the operator has migrated
            with psycopg.connect(url, autocommit=True) as conn:
                migrate(conn)  # the vector type must exist before connections register it
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max_size, configure=_configure, open=True
        )

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        """Hold an advisory lock on ``key`` across processes, waiting while another holds it,
        on a connection of its own: a holder that dies releases it with its connection
        (keepalives notice a vanished peer within a minute and a half)."""
        with psycopg.connect(
            self.url,
            autocommit=True,  # no transaction stays open while the lock is held
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=6,
        ) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            yield

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; the block runs in one transaction, committed on success."""
        with self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_database(
    settings: Settings, *, max_size: int = 4, migrate_schema: bool = True
) -> Database:
    url = settings.database_url or embedded_url(settings.home_dir)
    return Database(url, max_size=max_size, migrate_schema=migrate_schema)
