"""Webhooks end to end on loopback: a receiver verifies each delivery with the README's recipe,
gets every event once, and gets them after it was down (the outbox retries with backoff)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Caller
from billing_helpers import upload_file, wait_finished
from fastapi.testclient import TestClient

from vystra import webhooks
from vystra.db import Database
from vystra.demo import Section
from vystra.settings import Settings
from vystra_api.main import create_app


def verify(secret: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The README's recipe, as a receiver writes it: recompute, compare, check the time."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s[:3] == "v1,"]
    assert any(hmac.compare_digest(expected, g) for g in given), "bad signature"
    assert abs(time.time() - int(headers["webhook-timestamp"])) < 300, "stale"
    return json.loads(body)


@dataclass
class Receiver:
    """An HTTP endpoint on loopback; ``up`` False answers 503 (a receiver that is down)."""

    secret: str = ""
    up: bool = True
    events: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not receiver.up:
                    receiver.refused += 1
                    self.send_response(503)
                else:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.events.append(verify(receiver.secret, headers, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), state.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/vystra"
    server.shutdown()


def deliver(db: Database, settings: Settings) -> None:
    with db.connect() as conn:
        webhooks.deliver_due(conn, settings)


def time_passes(db: Database, tenant: str) -> None:
    with db.connect() as conn:
        conn.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = now() WHERE tenant = %s", (tenant,)
        )


def test_events_arrive_signed_once_and_after_downtime(
    client: TestClient,
    caller: Caller,
    db: Database,
    settings: Settings,
    receiver: tuple[Receiver, str],
    talk: tuple[Path, list[Section]],
) -> None:
    state, url = receiver
    h = caller.headers
    made = client.post(
        "/v1/webhooks",
        headers=h,
        json={"url": url, "events": ["ingest.succeeded", "video.deleted"]},
    )
    assert made.status_code == 201, made.text
    endpoint = made.json()
    state.secret = endpoint["secret"]
    assert endpoint["secret"].startswith("whsec_")
    listed = client.get("/v1/webhooks", headers=h).json()
    assert [w["id"] for w in listed] == [endpoint["id"]] and "secret" not in listed[0]

    assert client.post(f"/v1/webhooks/{endpoint['id']}/test", headers=h).status_code == 202
    deliver(db, settings)
    assert [e["type"] for e in state.events] == ["webhook.test"]

    # the receiver goes down; an ingest succeeds and its video is deleted meanwhile
    state.up = False
    upload_id = upload_file(client, h, talk[0])
    ingest = client.post("/v1/ingests", headers=h, json={"upload_id": upload_id, "insights": False})
    final = wait_finished(client, h, ingest.json()["id"])
    assert final["phase"] == "Succeeded", final
    assert client.delete(f"/v1/videos/{final['video_id']}", headers=h).status_code == 204
    delays = []
    for _ in range(4):  # attempts during the downtime, each after its backoff
        time_passes(db, caller.tenant)
        deliver(db, settings)
        with db.connect() as conn:
            row = conn.execute(
                "SELECT max(attempts), min(next_attempt_at) FROM webhook_deliveries"
                " WHERE tenant = %s AND status = 'pending'",
                (caller.tenant,),
            ).fetchone()
        assert row is not None and row[0] is not None
        delays.append((row[1] - datetime.now(UTC)).total_seconds())
    assert state.refused >= 8 and state.events[1:] == []
    assert delays == sorted(delays) and delays[-1] > 30  # 5 s doubling: 10, 20, 40 s ...
    log = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries", headers=h).json()
    assert {d["status"] for d in log if d["event_type"] != "webhook.test"} == {"pending"}
    assert all(d["last_status"] == 503 for d in log if d["status"] == "pending")

    state.up = True  # back: everything queued arrives, once
    time_passes(db, caller.tenant)
    deliver(db, settings)
    deliver(db, settings)
    got = {e["type"]: e for e in state.events[1:]}
    assert sorted(got) == ["ingest.succeeded", "video.deleted"] and len(state.events) == 3
    assert got["ingest.succeeded"]["data"]["video_id"] == final["video_id"]
    assert got["ingest.succeeded"]["data"]["ingest_id"] == final["id"]
    assert got["video.deleted"]["data"] == {"video_id": final["video_id"]}
    log = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries", headers=h).json()
    assert {d["status"] for d in log} == {"delivered"}

    assert client.delete(f"/v1/webhooks/{endpoint['id']}", headers=h).status_code == 204
    assert client.get(f"/v1/webhooks/{endpoint['id']}", headers=h).status_code == 404


def test_the_api_process_sends_on_its_own(
    settings: Settings, db: Database, caller: Caller, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    sending = settings.model_copy(update={"webhook_delivery_seconds": 0.2})
    with TestClient(create_app(sending, db=db)) as api:
        made = api.post(
            "/v1/webhooks", headers=caller.headers, json={"url": url, "events": ["ingest.failed"]}
        ).json()
        state.secret = made["secret"]
        api.post(f"/v1/webhooks/{made['id']}/test", headers=caller.headers)
        deadline = time.monotonic() + 30
        while not state.events and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [e["type"] for e in state.events] == ["webhook.test"]


def test_endpoints_are_checked_where_they_enter(client: TestClient, caller: Caller) -> None:
    h = caller.headers
    for body, status in (
        ({"url": "http://169.254.169.254/latest", "events": ["ingest.failed"]}, 400),
        ({"url": "http://10.0.0.5/hook", "events": ["ingest.failed"]}, 400),
        ({"url": "file:///etc/passwd", "events": ["ingest.failed"]}, 422),
        ({"url": "https://hooks.example.org/x", "events": []}, 422),
        ({"url": "https://hooks.example.org/x", "events": ["everything"]}, 422),
    ):
        answer = client.post("/v1/webhooks", headers=h, json=body)
        assert answer.status_code == status, (body, answer.text)
    assert client.get("/v1/webhooks", headers=h).json() == []
    other = client.get("/v1/webhooks/wh-000000000000", headers=h)
    assert other.status_code == 404
