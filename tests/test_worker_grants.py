"""A cluster worker's database login: its own tenant's rows only, for its deadline only."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest

from vystra.db import Database, grants, origins, reports, store
from vystra.pipeline import Pipeline, StageClock
from vystra_operator.access import LoginBatcher

HOUR = timedelta(hours=1)


def login_url(db: Database, login: grants.WorkerLogin, password: str | None = None) -> str:
    base = grants.without_credentials(db.url)
    return f"{base} user={login.user} password={password or login.password}"


@pytest.fixture
def issued(db: Database):
    """Issue logins for the test; every one is revoked afterwards."""
    uids: list[str] = []

    def issue(tenant: str, valid_for: timedelta = HOUR) -> tuple[str, grants.WorkerLogin]:
        uid = str(uuid.uuid4())
        uids.append(uid)
        with db.connect() as conn:
            return uid, grants.issue(conn, uid, tenant, valid_for)

    yield issue
    revoke_all(db, uids)


def revoke_all(db: Database, uids: list[str]) -> None:
    deadline = time.monotonic() + 10
    with db.connect() as conn:
        for uid in uids:  # a closed session's temporary table goes a moment after it
            while not grants.revoke(conn, uid):
                assert time.monotonic() < deadline, "a login stayed in use"
                time.sleep(0.1)


def test_the_platform_url_loses_its_credentials():
    url = grants.without_credentials(
        "postgresql://vystra:s3cret@db.internal:5432/vystra?sslmode=require"
    )
    assert "s3cret" not in url and "vystra:" not in url
    assert "host=db.internal" in url and "dbname=vystra" in url and "sslmode=require" in url


def test_a_login_is_issued_once_and_needs_its_password(db, issued, tenant):
    uid, login = issued(tenant)
    with db.connect() as conn:
        assert grants.issue(conn, uid, tenant, HOUR) == login  # a retried Job create
    with psycopg.connect(login_url(db, login)) as conn:
        assert conn.execute("SELECT session_user").fetchone()[0] == login.user
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(login_url(db, login, password="guessed"))


def test_an_expired_or_revoked_login_is_refused(db, issued, tenant):
    _, expired = issued(tenant, valid_for=timedelta(seconds=-1))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(login_url(db, expired))
    uid, login = issued(tenant)
    with db.connect() as conn:
        grants.revoke(conn, uid)
        grants.revoke(conn, uid)  # idempotent
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(login_url(db, login))


def test_an_expired_login_is_issued_again_with_a_new_password(db, issued, tenant):
    uid, expired = issued(tenant, valid_for=timedelta(seconds=-1))
    with db.connect() as conn:
        renewed = grants.issue(conn, uid, tenant, HOUR)
    assert renewed.user == expired.user and renewed.password != expired.password
    with psycopg.connect(login_url(db, renewed)) as conn:
        assert conn.execute("SELECT session_user").fetchone()[0] == renewed.user


def test_logins_asked_for_at_once_are_issued_in_one_transaction(db, tenant, monkeypatch):
    """The operator's Job threads ask together when a burst is admitted: the first asker's
    transaction is held here until 15 more have asked; they then share the next one."""
    batches: list[int] = []
    first_held = threading.Event()
    real = grants.issue_many

    def counted(conn, tenants, valid_for):
        batches.append(len(tenants))
        if len(batches) == 1:
            assert first_held.wait(30)
        return real(conn, tenants, valid_for)

    monkeypatch.setattr(grants, "issue_many", counted)
    batcher = LoginBatcher(db, HOUR)
    uids = [str(uuid.uuid4()) for _ in range(16)]
    asks = [uids[0], *uids[1:], uids[5]]  # one uid asked for twice meanwhile
    with ThreadPoolExecutor(len(asks)) as pool:
        first = pool.submit(batcher.issue, asks[0], tenant)
        while not batches:
            time.sleep(0.01)
        rest = [pool.submit(batcher.issue, uid, tenant) for uid in asks[1:]]
        while len(batcher._pending) < 15:
            time.sleep(0.01)
        first_held.set()
        logins = [first.result(), *(f.result() for f in rest)]
    try:
        assert batches == [1, 15]
        assert logins[-1] == logins[5]
        assert len({login.user for login in logins}) == 16
        for uid, login in zip(asks, logins, strict=True):
            assert login.user == grants.role_name(uid)
            with psycopg.connect(login_url(db, login)) as conn:
                assert conn.execute("SELECT session_user").fetchone()[0] == login.user
    finally:
        revoke_all(db, uids)


def test_a_worker_sees_and_writes_only_its_own_tenant(db, issued, ingested_talk, tenant):
    other_tenant, other, _ = ingested_talk
    uid, login = issued(tenant)
    with psycopg.connect(login_url(db, login), autocommit=True) as conn:
        # another tenant's rows are invisible, so neither readable nor changeable
        assert conn.execute("SELECT count(*) FROM videos").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM segments").fetchone()[0] == 0
        gone = conn.execute("UPDATE videos SET title = 'pwned' WHERE id = %s", (other.video_id,))
        assert gone.rowcount == 0
        assert (
            conn.execute("DELETE FROM segments WHERE video_id = %s", (other.video_id,)).rowcount
            == 0
        )
        # writing into another tenant is refused by the policy's check
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO videos (id, tenant, title, source, sha256, size_bytes, status)"
                " VALUES ('vx', %s, 't', 's', 'x', 1, 'processing')",
                (other_tenant,),
            )
        # and so is an origin record for another VideoIngest, even of its own tenant
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            origins.record(
                conn, origins.Origin(str(uuid.uuid4()), tenant, "ns", "n", "vx", False, False)
            )
        origins.record(conn, origins.Origin(uid, tenant, "ns", "n", "vx", False, False))
        # no other table, no deletes of videos, no grants, no DDL
        for statement in (
            "SELECT * FROM worker_grants",
            "SELECT * FROM tenants",
            "SELECT * FROM uploads",
            "DELETE FROM videos",
            "CREATE TABLE loot (x int)",
            "ALTER TABLE videos DISABLE ROW LEVEL SECURITY",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with db.connect() as conn:
        assert store.get_video(conn, other_tenant, other.video_id).title == other.title


def test_the_pipeline_runs_on_a_worker_login(db, settings, issued, talk, tenant):
    _, login = issued(tenant)
    clock = StageClock()
    with Database(login_url(db, login), max_size=2, migrate_schema=False) as worker_db:
        started = time.monotonic()
        result = Pipeline(settings, worker_db).ingest(
            str(talk[0]), tenant=tenant, on_progress=lambda p: clock.see(p.stage)
        )
        took = time.monotonic() - started
        # every stage it went through is timed, and the times add up to the ingest's
        assert {"fetch", "probe", "audio", "transcribe"} <= clock.seconds.keys() <= reports.STAGES
        assert 0.9 * took <= sum(clock.seconds.values()) <= took
        assert max(clock.seconds, key=clock.seconds.__getitem__) == "transcribe"
        # the same media again: found through the worker's own view of its tenant
        again = Pipeline(settings, worker_db).ingest(str(talk[0]), tenant=tenant)
    assert result.status == "ready" and result.segments > 0
    assert again.status == "exists" and again.video_id == result.video_id
    with db.connect() as conn:
        stored = store.get_segments(conn, tenant, result.video_id)
    assert len(stored) == result.segments


def test_what_a_worker_login_reports_is_checked_where_the_operator_reads_it(db, issued, tenant):
    uid, login = issued(tenant)
    timed = {"fetch": 0.5, "transcribe": 12.0}
    hostile = {**timed, "audio": -1, "probe": "soon", "visual": 1e12, "insights": [1], "x" * 300: 1}
    with psycopg.connect(login_url(db, login), autocommit=True) as conn:
        reports.write(conn, reports.Report(uid, tenant, "vx", done=True, stages=hostile))
    with db.connect() as conn:
        read = reports.read(conn, uid)
        changed, _ = reports.changed_since(conn, None)
    assert read is not None and read.done and read.stages == timed
    assert next(r for r in changed if r.uid == uid).stages == timed
    with db.connect() as conn:
        reports.delete(conn, [uid])


def test_stale_logins_are_found(db, issued, tenant):
    live, _ = issued(tenant)
    ended, _ = issued(tenant)
    expired, _ = issued(tenant, valid_for=timedelta(seconds=-1))
    with db.connect() as conn:
        found = set(grants.stale(conn, {live, expired}))
    assert {ended, expired} <= found and live not in found
