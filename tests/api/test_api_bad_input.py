"""Bad input gets a 4xx problem (RFC 9457) with a clear message, and changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
from api_helpers import Caller
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.settings import Settings
from vystra_api.main import create_app

MP4 = {"filename": "talk.mp4", "size_bytes": 8, "content_type": "video/mp4"}


def rows(db: Database, tenant: str) -> tuple[int, int, int]:
    with db.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT count(*) FROM {table} WHERE tenant = %s", (tenant,)).fetchone()[0]
            for table in ("uploads", "ingests", "videos")
        )


def error(response: httpx.Response, status: int, reason: str | None = None) -> str:
    assert response.status_code == status, response.text
    # an RFC 9457 problem, keeping the reason and message members clients read before it
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body = response.json()
    assert body["message"] and isinstance(body["message"], str)
    assert body["status"] == status and body["detail"] == body["message"], body
    assert body["type"] == f"urn:vystra:error:{body['error']}" and body["title"], body
    if reason:
        assert body["error"] == reason, body
    return body["message"]


@pytest.fixture
def unchanged(db: Database, caller: Caller) -> Iterator[None]:
    before = rows(db, caller.tenant)
    yield
    assert rows(db, caller.tenant) == before


@pytest.mark.usefixtures("unchanged")
def test_upload_limits(client: TestClient, caller: Caller, settings: Settings) -> None:
    h = caller.headers
    big = {**MP4, "size_bytes": settings.upload_max_bytes + 1}
    assert "limited to" in error(client.post("/v1/uploads", headers=h, json=big), 413)
    for bad_type in ("text/html", "application/x-sh", "image/png"):
        body = {**MP4, "content_type": bad_type}
        assert "video/mp4" in error(client.post("/v1/uploads", headers=h, json=body), 415)
    for bad in ({**MP4, "size_bytes": 0}, {**MP4, "filename": ""}, {"filename": "x.mp4"}):
        error(client.post("/v1/uploads", headers=h, json=bad), 422, "InvalidRequest")


def test_put_must_match_the_declared_upload(
    client: TestClient, caller: Caller, db: Database
) -> None:
    upload = client.post("/v1/uploads", headers=caller.headers, json=MP4).json()
    url, headers = upload["url"], upload["headers"]
    error(client.put(url, content=b"0123456789", headers=headers), 413)  # larger
    error(client.put(url, content=b"0123", headers=headers), 400)  # smaller
    error(client.put(url, content=b"01234567", headers={"Content-Type": "text/plain"}), 415)
    error(client.put(url + "0", content=b"01234567", headers=headers), 403, "SignatureMismatch")
    tampered = url.replace("expires=", "expires=9")
    error(client.put(tampered, content=b"01234567", headers=headers), 403)
    # nothing was stored by any of these: completing still finds no object
    done = client.post(f"/v1/uploads/{upload['id']}/complete", headers=caller.headers)
    error(done, 409, "NotUploaded")
    ingest = client.post("/v1/ingests", headers=caller.headers, json={"upload_id": upload["id"]})
    assert "not complete" in error(ingest, 409)
    assert rows(db, caller.tenant)[1] == 0


def test_expired_upload_url(settings: Settings, db: Database, caller: Caller) -> None:
    short = settings.model_copy(update={"upload_url_ttl_seconds": 1})
    with TestClient(create_app(short, db=db)) as quick:
        upload = quick.post("/v1/uploads", headers=caller.headers, json=MP4).json()
        time.sleep(2.1)
        late = quick.put(upload["url"], content=b"01234567", headers=upload["headers"])
        assert "expired" in error(late, 403, "URLExpired")
        done = quick.post(f"/v1/uploads/{upload['id']}/complete", headers=caller.headers)
        error(done, 409, "NotUploaded")


@pytest.mark.usefixtures("unchanged")
def test_unknown_ids(client: TestClient, caller: Caller) -> None:
    h = caller.headers
    for method, path in [
        ("GET", "/v1/videos/vdeadbeefdeadbee"),
        ("GET", "/v1/videos/v..%2F..%2Fetc"),
        ("GET", "/v1/videos/vdeadbeef/subtitles.srt"),
        ("GET", "/v1/videos/vdeadbeef/subtitles.vtt"),
        ("DELETE", "/v1/videos/vdeadbeef"),
        ("GET", "/v1/ingests/ing-000000000000"),
        ("GET", "/v1/ingests/ing-000000000000/events"),
        ("DELETE", "/v1/ingests/ing-000000000000"),
        ("GET", "/v1/uploads/up-000000000000"),
        ("POST", "/v1/uploads/up-000000000000/complete"),
        ("GET", "/v1/nothing-here"),
    ]:
        error(client.request(method, path, headers=h), 404, "NotFound")
    error(client.post("/v1/ingests", headers=h, json={"upload_id": "up-000000000000"}), 404)


@pytest.mark.usefixtures("unchanged")
def test_malformed_bodies(client: TestClient, caller: Caller) -> None:
    h = {**caller.headers, "Content-Type": "application/json"}
    for body in (b"{bad json", b"", b"[1, 2]", b'"text"'):
        status = client.post("/v1/ingests", headers=h, content=body).status_code
        assert status in (400, 422), body
    error(client.post("/v1/ingests", headers=h, content=b"{bad"), 400, "MalformedJSON")
    huge = b'{"url": "' + b"a" * 300_000 + b'"}'
    error(client.post("/v1/ingests", headers=h, content=huge), 413, "PayloadTooLarge")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "file:///etc/passwd"},
        {"url": "s3://vystra/uploads/other-tenant/x.mp4"},
        {"url": "/var/lib/vystra/objects/x.mp4"},
        {"url": "https://a.example/x.mp4", "upload_id": "up-1"},
        {"url": "https://a.example/x.mp4", "accelerator": "tpu"},
        {"url": "https://a.example/x.mp4", "priority": 10**9},
        {"url": "https://a.example/x.mp4", "language": "english"},
        {"url": "https://a.example/x.mp4", "model": "../../etc"},
        {"url": "https://a.example/x.mp4", "segmenting": {"targetSeconds": 5, "overlapSeconds": 5}},
        {"url": "https://a.example/x.mp4", "colour": "blue"},
        {"url": "https://a.example/x.mp4", "title": "a\u0000b"},
    ],
)
def test_bad_ingest_specs(client: TestClient, caller: Caller, body: dict) -> None:
    error(client.post("/v1/ingests", headers=caller.headers, json=body), 422, "InvalidRequest")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "params",
    [
        {"q": "x", "limit": 100_000},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": "ten"},
        {"q": "x" * 1001},
        {"q": ""},
        {},
        {"q": "x", "mode": "psychic"},
        {"q": "x", "video_id": [f"v{i}" for i in range(101)]},
    ],
)
def test_bad_searches(client: TestClient, caller: Caller, params: dict) -> None:
    error(client.get("/v1/search", headers=caller.headers, params=params), 422, "InvalidRequest")


def test_blank_query_and_absurd_pages(client: TestClient, caller: Caller) -> None:
    h = caller.headers
    assert "empty" in error(client.get("/v1/search", headers=h, params={"q": "   "}), 400)
    for path in ("/v1/videos", "/v1/ingests"):
        error(client.get(path, headers=h, params={"limit": 10**6}), 422)
        error(client.get(path, headers=h, params={"limit": -1}), 422)
    for path in ("/v1/videos", "/v1/ingests"):  # a cursor the list did not give
        assert "cursor" in error(
            client.get(path, headers=h, params={"cursor": "'; DROP TABLE videos"}), 400
        )


def test_queue_is_bounded(
    settings: Settings, db: Database, make_caller: Callable[[], Caller]
) -> None:
    """A full queue answers 503 with Retry-After and adds nothing."""
    caller = make_caller()
    full = settings.model_copy(update={"api_queue_size": 1})
    with psycopg.connect(db.url) as holder, TestClient(create_app(full, db=db)) as api:
        # one queued row, locked so that no worker of this session claims it meanwhile
        holder.execute(
            "INSERT INTO ingests (id, tenant, source, spec, phase) VALUES (%s, %s, 'x', '{}',"
            " 'Queued')",
            (f"ing-{caller.tenant}", caller.tenant),
        )
        holder.commit()
        holder.execute("SELECT id FROM ingests WHERE tenant = %s FOR UPDATE", (caller.tenant,))
        try:
            response = api.post(
                "/v1/ingests", headers=caller.headers, json={"url": "http://127.0.0.1:9/a.mp4"}
            )
            assert error(response, 503, "QueueFull") and response.headers["retry-after"]
        finally:
            holder.rollback()
            holder.execute("DELETE FROM ingests WHERE tenant = %s", (caller.tenant,))
            holder.commit()
        with db.connect() as conn:
            assert conn.execute(
                "SELECT count(*) FROM ingests WHERE tenant = %s", (caller.tenant,)
            ).fetchone() == (0,)
