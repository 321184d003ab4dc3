"""How a browser authenticates: the API key once, then a signed HttpOnly SameSite=Strict cookie
that EventSource also sends; stream tokens for clients that cannot send the cookie; CORS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from api_helpers import Caller, sse_events
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.settings import Settings
from vystra.tenants import revoke_tenant
from vystra_api.main import create_app

CSRF = {"X-Vystra-CSRF": "1"}


@contextmanager
def signed_in(url: str, caller: Caller) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as client:
        answer = client.post("/v1/session", json={"api_key": caller.key})
        assert answer.status_code == 200, answer.text
        yield client


def test_sign_in_sets_a_session_cookie_not_the_key(app_url: str, caller: Caller) -> None:
    with httpx.Client(base_url=app_url, timeout=30) as client:
        wrong = client.post("/v1/session", json={"api_key": "vys_not-a-key"})
        assert wrong.status_code == 401 and "unknown or revoked" in wrong.json()["message"]
        assert "set-cookie" not in wrong.headers

        answer = client.post("/v1/session", json={"api_key": caller.key})
        assert answer.status_code == 200
        assert answer.json()["tenant"] == caller.tenant
        cookie = answer.headers["set-cookie"]
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "samesite", "path"} <= flags
        assert "samesite=strict" in cookie.lower() and "path=/v1" in cookie.lower()
        assert "max-age" not in flags and "expires" not in flags  # ends with the browser
        assert caller.key not in cookie and caller.key[4:] not in answer.text

        assert client.get("/v1/session").json()["tenant"] == caller.tenant
        assert client.get("/v1/videos").status_code == 200

        assert client.delete("/v1/session").status_code == 204
        assert client.get("/v1/session").status_code == 401

        # behind a TLS-terminating proxy the cookie is Secure too
        proxied = client.post(
            "/v1/session", json={"api_key": caller.key}, headers={"X-Forwarded-Proto": "https"}
        )
        assert "secure" in proxied.headers["set-cookie"].lower()
        assert "secure" not in cookie.lower()


def test_cookie_writes_need_the_csrf_header(app_url: str, caller: Caller) -> None:
    with signed_in(app_url, caller) as client:
        refused = client.delete("/v1/videos/v0000000000000000")
        assert refused.status_code == 403 and "X-Vystra-CSRF" in refused.json()["message"]
        assert client.delete("/v1/videos/v0000000000000000", headers=CSRF).status_code == 404
        # a bearer key needs no such header: it is never sent by a browser on its own
        assert (
            httpx.delete(
                f"{app_url}/v1/videos/v0000000000000000", headers=caller.headers
            ).status_code
            == 404
        )


def test_revoking_the_tenant_ends_its_sessions(app_url: str, caller: Caller, db: Database) -> None:
    with signed_in(app_url, caller) as client:
        assert client.get("/v1/session").status_code == 200
        with db.connect() as conn:
            revoke_tenant(conn, caller.tenant)
        gone = client.get("/v1/videos")
        assert gone.status_code == 401 and "sign in again" in gone.json()["message"]


def test_a_forged_or_tampered_cookie_is_refused(app_url: str, caller: Caller) -> None:
    with signed_in(app_url, caller) as client:
        token = client.cookies["vystra_session"]
        scope, tenant, kid, expires, signature = token.split(".")
        later = f"{scope}.{tenant}.{kid}.{int(expires) + 10**6}.{signature}"
        for bad in (later, "session.x.y.1.z", token[:-1] + ("0" if token[-1] != "0" else "1")):
            answer = httpx.get(f"{app_url}/v1/videos", cookies={"vystra_session": bad})
            assert answer.status_code == 401, bad


def _failed_ingest(client: httpx.Client) -> str:
    """An ingest that ends quickly: bytes that are not media, uploaded with the cookie."""
    data = b"this is not a video" * 50
    up = client.post(
        "/v1/uploads",
        json={"filename": "fake.mp4", "size_bytes": len(data), "content_type": "video/mp4"},
        headers=CSRF,
    ).json()
    assert httpx.put(up["url"], content=data, headers=up["headers"]).status_code == 200
    assert client.post(f"/v1/uploads/{up['id']}/complete", headers=CSRF).status_code == 200
    ingest = client.post("/v1/ingests", json={"upload_id": up["id"]}, headers=CSRF)
    assert ingest.status_code == 201, ingest.text
    return ingest.json()["id"]


def _events(client: httpx.Client, url: str) -> list[tuple[str, dict]]:
    with client.stream("GET", url, timeout=300) as response:
        assert response.status_code == 200, response.read()
        return list(sse_events(response.iter_lines()))


def test_events_stream_with_the_cookie_or_a_stream_token(app_url: str, caller: Caller) -> None:
    with signed_in(app_url, caller) as client:
        ingest_id = _failed_ingest(client)
        events_url = f"/v1/ingests/{ingest_id}/events"
        # EventSource sends the cookie, as here: no Authorization header
        events = _events(client, events_url)
        assert events[-1][0] == "end" and events[-1][1]["phase"] == "Failed"

        minted = client.post("/v1/session/stream-token", headers=CSRF).json()
        session_token = client.cookies["vystra_session"]
    with httpx.Client(base_url=app_url, timeout=60) as bare:
        assert bare.get(events_url).status_code == 401
        assert _events(bare, f"{events_url}?token={minted['token']}")[-1][0] == "end"
        # the session cookie's token is not a stream token, nor is anything else
        for bad in (session_token, minted["token"] + "0", "x"):
            assert bare.get(events_url, params={"token": bad}).status_code == 401
        # a stream token opens the events stream only
        assert bare.get("/v1/videos", params={"token": minted["token"]}).status_code == 401


def test_app_routes_serve_the_app_and_the_api_keeps_its_404(app_url: str) -> None:
    for path in ("/", "/search", "/v/v0123456789abcdef"):
        page = httpx.get(app_url + path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<div id="root">' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
    script = page.text.split('src="')[1].split('"')[0]
    asset = httpx.get(app_url + script)
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    missing = httpx.get(f"{app_url}/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    assert httpx.get(f"{app_url}/assets/nothing.js").status_code == 404


def test_cors_answers_only_the_configured_origins(settings: Settings, db: Database) -> None:
    allowed = "https://videos.example.org"
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-vystra-csrf",
    }
    configured = settings.model_copy(update={"cors_origins": f"{allowed}, https://b.example"})
    # preflights are answered by the middleware: the app's lifespan need not run
    client = TestClient(create_app(configured, db=db))
    ok = client.options("/v1/session", headers={"Origin": allowed, **preflight})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == allowed
    assert ok.headers["access-control-allow-credentials"] == "true"
    other = client.options("/v1/session", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers

    default = TestClient(create_app(settings, db=db))
    none = default.options("/v1/session", headers={"Origin": allowed, **preflight})
    assert "access-control-allow-origin" not in none.headers


def test_every_api_process_shares_the_signing_key(app_url: str, caller: Caller) -> None:
    """The key lives in the database: a cookie made by one replica works on another."""
    from vystra_api import session

    with signed_in(app_url, caller) as client:
        session._keys.clear()  # as a freshly started replica: nothing cached
        assert client.get("/v1/session").json()["tenant"] == caller.tenant


def test_without_a_build_the_root_says_how_to_make_one(
    settings: Settings, db: Database, tmp_path
) -> None:
    unbuilt = settings.model_copy(update={"web_dir": tmp_path})
    client = TestClient(create_app(unbuilt, db=db))  # no lifespan: these routes need no state
    answer = client.get("/v/v0123456789abcdef")
    assert answer.status_code == 503 and "make install" in answer.text
    assert client.get("/assets/index.js").status_code == 404


def test_serve_prints_where_a_browser_opens_the_app() -> None:
    from vystra_api.web import app_url

    assert app_url("127.0.0.1", 8000) == "http://127.0.0.1:8000/"
    assert app_url("0.0.0.0", 9000) == "http://127.0.0.1:9000/"
    assert app_url("::", 8000) == "http://[::1]:8000/"
    assert app_url("videos.internal", 80) == "http://videos.internal:80/"
