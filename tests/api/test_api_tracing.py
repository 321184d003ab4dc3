"""OpenTelemetry traces, on when an OTLP endpoint is configured: a served API (its own
process and database, so no other API process of the test session claims its ingests) sends
its request spans and its ingests' spans, stage by stage, to a collector on loopback, in the
trace of the caller's ``traceparent``."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import cli_env, free_port
from otlp_receiver import OtlpReceiver
from vystra_client import Client

from vystra.db import Database
from vystra.demo import make_talk_video
from vystra.settings import Settings
from vystra.tenants import create_tenant

SERVER_SPAN = 2  # SpanKind.SERVER in the protocol


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    collector = OtlpReceiver()
    yield collector
    collector.close()


@pytest.fixture
def traced_api(settings: Settings, own_db: Database, receiver: OtlpReceiver) -> Iterator[str]:
    port = free_port()
    env = {
        **cli_env(settings, "unused"),
        "DATABASE_URL": own_db.url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds between exports
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "vystra_api.server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the API did not get ready"
        time.sleep(0.3)
    yield url
    server.terminate()
    server.wait(30)


def test_an_ingest_is_traced_from_the_callers_request_through_its_stages(
    traced_api: str, own_db: Database, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    clip = tmp_path / "short_note.mp4"
    make_talk_video(clip, (("note", "Volcanoes form where magma reaches the surface."),))
    with own_db.connect() as conn:
        key = create_tenant(conn, "traced")
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    with Client(traced_api, key) as vystra:
        upload = vystra.upload_file(clip)
        made = httpx.post(
            f"{traced_api}/v1/ingests",
            json={"upload_id": upload.id, "insights": False, "visual": {"enabled": False}},
            headers={
                "Authorization": f"Bearer {key}",
                "traceparent": f"00-{caller_trace}-{caller_span}-01",
            },
        )
        assert made.status_code == 201, made.text
        assert vystra.wait(made.json()["id"]).phase == "Succeeded"
        # a malformed traceparent is ignored: the request starts a trace of its own
        bad = httpx.get(
            f"{traced_api}/v1/videos",
            headers={"Authorization": f"Bearer {key}", "traceparent": "00-zz-1-01"},
        )
        assert bad.status_code == 200

    stages = {"fetch", "probe", "audio", "transcribe"}
    spans = receiver.wait_for(caller_trace, {"POST /v1/ingests", "ingest", *stages})
    by_name = {s.name: s for s in spans}
    request = by_name["POST /v1/ingests"]
    assert (request.parent_id, request.kind, request.service) == (
        caller_span,
        SERVER_SPAN,
        "vystra-api",
    )
    assert request.attributes["vystra.tenant"] == "traced"
    assert request.attributes["http.response.status_code"] == 201
    assert request.attributes["http.route"] == "/v1/ingests"
    ingest = by_name["ingest"]  # run later, by the API's queue, in the request's trace
    assert ingest.parent_id == request.span_id and ingest.start_ns >= request.end_ns
    assert ingest.attributes["vystra.ingest"] == made.json()["id"]
    for stage in stages:
        assert by_name[stage].parent_id == ingest.span_id, stage
    ordered = sorted((by_name[s] for s in stages), key=lambda s: s.start_ns)
    assert [s.name for s in ordered] == ["fetch", "probe", "audio", "transcribe"]
    assert all(a.end_ns <= b.start_ns for a, b in zip(ordered, ordered[1:], strict=False))

    deadline = time.monotonic() + 30
    while not (others := [s for s in receiver.spans if s.name == "GET /v1/videos"]):
        assert time.monotonic() < deadline, "the malformed traceparent's request was not traced"
        time.sleep(0.2)
    assert all(s.parent_id == "" and s.trace_id != caller_trace for s in others)
    # probes and scrapes make no spans
    assert not [s for s in receiver.spans if s.name.startswith("GET /readyz")]
