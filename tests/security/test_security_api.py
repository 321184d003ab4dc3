"""The API's side: bad URLs get a 4xx up front, bodies are counted while they stream in (and
not read at all without credentials), and uploaded media are served so they cannot run."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from api_helpers import Caller, LiveServer
from billing_helpers import wait_finished
from fastapi.testclient import TestClient
from security_standins import Recorder
from test_security_fetch import attacks

from vystra.db import Database
from vystra.settings import Settings
from vystra.urlguard import FORBIDDEN_MESSAGE
from vystra_api.limits import MAX_JSON_BYTES
from vystra_api.main import create_app


@pytest.fixture(scope="module")
def guarded_api(guarded: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(guarded, db=db)) as client:
        yield client


@pytest.fixture(scope="module")
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db=db)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live(settings: Settings, db: Database) -> Iterator[str]:
    with LiveServer(create_app(settings, db=db)) as url:
        yield url


def ingest_count(client: TestClient, caller: Caller) -> int:
    return len(client.get("/v1/ingests", headers=caller.headers).json()["items"])


def test_internal_urls_are_refused_at_post(
    guarded_api: TestClient, caller: Caller, metadata: Recorder
) -> None:
    tried = attacks(metadata.port)
    for url in tried:
        answer = guarded_api.post("/v1/ingests", headers=caller.headers, json={"url": url})
        assert answer.status_code == 400, (url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert (body["error"], body["status"]) == ("SourceForbidden", 400)
        assert body["message"] == body["detail"] == FORBIDDEN_MESSAGE.format(url=url)
    assert metadata.requests == [] and ingest_count(guarded_api, caller) == 0
    # a name that does not resolve now is left to the fetch (DNS may be down for a moment)
    later = guarded_api.post(
        "/v1/ingests", headers=caller.headers, json={"url": "https://media.example/a.mp4"}
    )
    assert later.status_code == 201, later.text


def test_a_redirect_to_an_internal_address_fails_the_ingest_with_the_reason(
    settings: Settings,
    db: Database,
    caller: Caller,
    metadata: Recorder,
    redirector: Recorder,
) -> None:
    """The URL passes the check at POST (its host is allowed); its redirect is refused when
    the worker fetches, and the ingest ends Failed with that reason."""
    only_it = settings.model_copy(update={"fetch_allow": "localhost"})
    url = f"http://localhost:{redirector.port}/to?u=http://169.254.169.254/latest/meta-data/"
    url_to_standin = f"http://localhost:{redirector.port}/to?u=http://0x7f.1:{metadata.port}/"
    with TestClient(create_app(only_it, db=db)) as api:
        for source in (url, url_to_standin):
            created = api.post("/v1/ingests", headers=caller.headers, json={"url": source})
            assert created.status_code == 201, created.text
            ingest = wait_finished(api, caller.headers, created.json()["id"], timeout=120)
            assert ingest["phase"] == "Failed" and ingest["reason"] == "SourceForbidden"
            assert ingest["message"] == FORBIDDEN_MESSAGE.format(url=source)
    assert metadata.requests == [] and len(redirector.requests) == 2


def raw_exchange(base: str, head: bytes, body_parts: list[bytes]) -> bytes:
    """Send a request as written (no client rewriting it) and return the answer's head."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=60) as conn:
        conn.sendall(head)
        for part in body_parts:
            conn.sendall(part)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_chunked_oversize_body_gets_413_before_it_ends(live: str, caller: Caller) -> None:
    """One byte over the limit, in chunks, with no end to the body: the answer is 413 while the
    body is still incomplete, so no handler can have parsed it."""
    head = (
        b"POST /v1/ingests HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n" + f"Authorization: Bearer {caller.key}\r\n\r\n".encode()
    )
    chunk = 64 * 1024
    parts = [b"%x\r\n%s\r\n" % (chunk, b" " * chunk) for _ in range(MAX_JSON_BYTES // chunk)]
    parts.append(b"1\r\n \r\n")  # byte MAX_JSON_BYTES + 1; no terminating 0-chunk follows
    answer = raw_exchange(live, head, parts)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_chunked_oversize_json_creates_nothing(client: TestClient, caller: Caller) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"url": "http://127.0.0.1:9/a.mp4", "title": "'
        for _ in range(MAX_JSON_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    answer = client.post(
        "/v1/ingests",
        headers={**caller.headers, "Content-Type": "application/json"},
        content=body(),
    )
    assert answer.status_code == 413 and answer.json()["error"] == "PayloadTooLarge"
    assert ingest_count(client, caller) == 0


def test_no_body_is_read_without_credentials(live: str) -> None:
    """The request announces a body and never sends it: the 401 comes without waiting."""
    head = (
        b"POST /v1/ingests HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    answer = raw_exchange(live, head, [])
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_media_carry_the_stored_type_nosniff_and_a_sandbox(
    client: TestClient, caller: Caller
) -> None:
    """An HTML page uploaded as video/mp4 under a .html name is served as video/mp4."""
    page = b"<html><script>fetch('/v1/videos').then(r => r.text()).then(alert)</script></html>"
    upload = client.post(
        "/v1/uploads",
        headers=caller.headers,
        json={"filename": "talk.html", "size_bytes": len(page), "content_type": "video/mp4"},
    ).json()
    assert client.put(upload["url"], content=page, headers=upload["headers"]).is_success
    assert client.post(f"/v1/uploads/{upload['id']}/complete", headers=caller.headers)
    objects = client.app.state.vystra.objects  # type: ignore[attr-defined]
    url = objects.media_url(upload["key"], base_url="http://testserver", ttl_seconds=60)
    served = client.get(url)
    assert served.status_code == 200 and served.content == page
    assert served.headers["content-type"] == "video/mp4"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"].startswith("sandbox")
    ranged = client.get(url, headers={"Range": "bytes=0-5"})
    assert ranged.status_code == 206 and ranged.headers["content-type"] == "video/mp4"
