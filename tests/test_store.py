"""Database plumbing: migrations, embedded server recovery, idempotent segment writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import psycopg

from vystra.db import store
from vystra.db.embedded import embedded_url
from vystra.db.migrate import migrate, migrations
from vystra.embed import get_embedder
from vystra.segment import Chunk


def test_migrations_are_applied_once(db):
    with psycopg.connect(db.url, autocommit=True) as conn:
        assert migrate(conn) == []
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        indexes = {
            r[0]
            for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'segments'")
        }
    assert versions == [v for v, _, _ in migrations()]
    assert any("USING hnsw (embedding vector_cosine_ops)" in i for i in indexes)
    assert any("USING gin (tsv)" in i for i in indexes)


def test_segment_writes_are_idempotent(db, settings, tenant):
    video_id = store.video_id_for(tenant, "0" * 64)
    chunks = [Chunk(i, i * 10.0, i * 10.0 + 9.0, f"unit {i}") for i in range(5)]
    vectors = np.random.default_rng(0).normal(size=(5, 384)).astype(np.float32)
    with db.connect() as conn:
        store.begin_video(
            conn,
            video_id=video_id,
            tenant=tenant,
            title="t",
            source="/x.mp4",
            sha256="0" * 64,
            size_bytes=1,
            duration=50.0,
            options={},
        )
        for _ in range(2):  # a retried batch replaces rows instead of adding them
            store.write_segments(
                conn,
                video_id=video_id,
                tenant=tenant,
                chunks=chunks,
                vectors=vectors,
                model=get_embedder(settings).name,
                processed_seconds=49.0,
            )
        # a shorter re-run drops the tail left by the longer earlier attempt
        store.finish_video(
            conn,
            video_id,
            segment_count=3,
            duration=50.0,
            transcript=[],
            insights=None,
            insights_status="disabled",
        )
        segments = store.get_segments(conn, tenant, video_id)
        assert [s.ordinal for s in segments] == [0, 1, 2]
        assert store.delete_video(conn, tenant, video_id)
        assert store.get_segments(conn, tenant, video_id) == []


def test_embedded_server_survives_a_killed_owner(tmp_path):
    """A process holding the embedded server is SIGKILLed: the next one adopts the server,
    prunes the dead handle, and stops the server when it is the last one out."""
    home = tmp_path / "home"
    script = textwrap.dedent(f"""
        import sys, time
        from vystra.db.embedded import embedded_url
        print(embedded_url(__import__('pathlib').Path({str(home)!r})), flush=True)
        time.sleep(600)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    url = owner.stdout.readline().strip()
    assert url.startswith("postgresql://")
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    handles = home / "pgdata" / ".handle_pids.json"
    assert owner.pid in json.loads(handles.read_text())  # the dead handle is left behind

    adopter = textwrap.dedent(f"""
        import json, pathlib
        from vystra.db import Database
        from vystra.db.embedded import embedded_url
        home = pathlib.Path({str(home)!r})
        with Database(embedded_url(home)) as db, db.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        print(json.loads((home / "pgdata" / ".handle_pids.json").read_text()))
    """)
    out = subprocess.run(
        [sys.executable, "-c", adopter], capture_output=True, text=True, check=True
    ).stdout
    assert str(owner.pid) not in out
    # the adopter was the last handle: it stopped the server on exit
    pid_file = home / "pgdata" / "postmaster.pid"
    assert not pid_file.exists() or not _running(int(pid_file.read_text().split()[0]))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_database_url_is_honoured(db, settings):
    """DATABASE_URL (here: the session's server) replaces the embedded default."""
    other = settings.model_copy(update={"database_url": db.url, "home": settings.home / "unused"})
    from vystra.db import open_database

    with open_database(other) as database:
        assert database.url == db.url
    assert not (settings.home / "unused" / "pgdata").exists()
    assert embedded_url(settings.home) == db.url  # attaching again reuses the running server
    with db.connect() as conn:  # the pool reaches the server the URL names
        assert conn.info.port == psycopg.conninfo.conninfo_to_dict(db.url).get("port", 5432)
