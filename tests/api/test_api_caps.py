"""Fair-use caps per tenant: beyond one the answer is 429 naming the cap, with Retry-After,
and other tenants are unaffected."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest
from api_helpers import Caller, LiveServer, hold_running
from fastapi import FastAPI

from vystra.db import Database, store
from vystra.settings import Settings
from vystra_api.main import create_app

CAPS = {"active_ingests": 2, "streams": 2, "upload_bytes": 100}  # tenant_max_<name> here
UPLOAD = {"filename": "talk.mp4", "size_bytes": 60, "content_type": "video/mp4"}


@pytest.fixture(scope="module")
def capped_app(settings: Settings, db: Database) -> FastAPI:
    small = {f"tenant_max_{name}": allowed for name, allowed in CAPS.items()}
    return create_app(settings.model_copy(update=small), db=db)


@pytest.fixture(scope="module")
def capped(capped_app: FastAPI) -> Iterator[httpx.Client]:
    with LiveServer(capped_app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def refused(answer: httpx.Response, cap: str, allowed: int) -> str:
    assert answer.status_code == 429, answer.text
    body = answer.json()
    assert body["error"] == "CapExceeded" and body["details"] == [{"cap": cap, "allowed": allowed}]
    assert int(answer.headers["Retry-After"]) > 0
    return str(body["message"])


def test_unfinished_ingests_are_capped_per_tenant(
    capped: httpx.Client, db: Database, make_caller: Callable[[], Caller]
) -> None:
    busy, other = make_caller(), make_caller()
    hold_running(db, busy.tenant, 2)
    url = {"url": "https://media.example/talk.mp4"}
    message = refused(
        capped.post("/v1/ingests", headers=busy.headers, json=url), "active_ingests", 2
    )
    assert "2 of your ingests are not finished" in message
    assert capped.post("/v1/ingests", headers=other.headers, json=url).status_code == 201


def test_upload_storage_is_capped_and_deleting_an_upload_frees_it(
    capped: httpx.Client, db: Database, caller: Caller
) -> None:
    first = capped.post("/v1/uploads", headers=caller.headers, json=UPLOAD)
    assert first.status_code == 201, first.text
    message = refused(
        capped.post("/v1/uploads", headers=caller.headers, json=UPLOAD), "upload_bytes", 100
    )
    assert "hold 60 bytes and 100 may be stored" in message
    gone = capped.delete(f"/v1/uploads/{first.json()['id']}", headers=caller.headers)
    assert gone.status_code == 204, gone.text
    assert (
        capped.get(f"/v1/uploads/{first.json()['id']}", headers=caller.headers).status_code == 404
    )
    again = capped.post("/v1/uploads", headers=caller.headers, json=UPLOAD)
    assert again.status_code == 201, again.text


def test_an_upload_a_video_was_ingested_from_is_deleted_with_the_video(
    capped: httpx.Client, capped_app: FastAPI, db: Database, caller: Caller
) -> None:
    upload = capped.post("/v1/uploads", headers=caller.headers, json=UPLOAD).json()
    source = capped_app.state.vystra.objects.source_for(upload["key"])
    with db.connect() as conn:
        store.begin_video(
            conn,
            video_id="v-from-upload",
            tenant=caller.tenant,
            title="from upload",
            source=source,
            sha256="from-upload",
            size_bytes=60,
            duration=1.0,
            options={},
        )
    kept = capped.delete(f"/v1/uploads/{upload['id']}", headers=caller.headers)
    assert kept.status_code == 409 and kept.json()["error"] == "InUse", kept.text
    assert "video v-from-upload was ingested from" in kept.json()["message"]


def test_open_event_streams_are_capped_per_tenant(
    capped: httpx.Client, db: Database, make_caller: Callable[[], Caller]
) -> None:
    watcher, other = make_caller(), make_caller()
    running = hold_running(db, watcher.tenant, 1)[0]
    (other_running,) = hold_running(db, other.tenant, 1)
    path = f"/v1/ingests/{running}/events"
    with ExitStack() as streams:
        first = streams.enter_context(capped.stream("GET", path, headers=watcher.headers))
        streams.enter_context(capped.stream("GET", path, headers=watcher.headers))
        assert first.status_code == 200
        message = refused(capped.get(path, headers=watcher.headers), "event_streams", 2)
        assert "2 event streams open" in message
        theirs = f"/v1/ingests/{other_running}/events"
        with capped.stream("GET", theirs, headers=other.headers) as answer:
            assert answer.status_code == 200
        first.close()  # the server notices the client left within a poll
        deadline = time.monotonic() + 10
        while True:
            with capped.stream("GET", path, headers=watcher.headers) as answer:
                if answer.status_code == 200:
                    break
            assert time.monotonic() < deadline, "a closed stream's slot was never released"
            time.sleep(0.2)


def open_streams(db: Database, tenant: str) -> int:
    with db.connect() as conn:
        row = conn.execute("SELECT count(*) FROM event_streams WHERE tenant = %s", (tenant,))
        return int(row.fetchone()[0])


def test_the_stream_cap_holds_across_api_processes(
    capped: httpx.Client,
    capped_app: FastAPI,
    settings: Settings,
    db: Database,
    make_caller: Callable[[], Caller],
) -> None:
    """Two API processes share the tenant's cap; a slot a stopped process left expires."""
    small = {f"tenant_max_{name}": allowed for name, allowed in CAPS.items()}
    second = create_app(settings.model_copy(update=small), db=db)
    watcher = make_caller()
    path = f"/v1/ingests/{hold_running(db, watcher.tenant, 1)[0]}/events"
    with (
        LiveServer(second) as url,
        httpx.Client(base_url=url, timeout=30) as elsewhere,
        capped.stream("GET", path, headers=watcher.headers) as here,
        elsewhere.stream("GET", path, headers=watcher.headers) as there,
    ):
        assert here.status_code == 200 and there.status_code == 200
        for api in (capped, elsewhere):
            refused(api.get(path, headers=watcher.headers), "event_streams", 2)
    deadline = time.monotonic() + 10  # the servers notice the clients left within a poll
    while open_streams(db, watcher.tenant):
        assert time.monotonic() < deadline, "closed streams were never released"
        time.sleep(0.2)
    # a process that died holding streams: its rows stop counting once their lease ran out
    with db.connect() as conn:
        for expired in (True, False):
            conn.execute(
                "INSERT INTO event_streams (id, tenant, expires_at)"
                " VALUES (gen_random_uuid(), %s, now() + %s * interval '1 minute')",
                (watcher.tenant, -1 if expired else 1),
            )
    with capped.stream("GET", path, headers=watcher.headers) as answer:
        assert answer.status_code == 200
        refused(capped.get(path, headers=watcher.headers), "event_streams", 2)
