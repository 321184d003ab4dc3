"""Every answer names its request id, and every record logged for it carries the id and the
tenant: JSON lines a log pipeline can join on."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from api_helpers import Caller
from fastapi.testclient import TestClient

from vystra.logs import JsonFormatter


@pytest.fixture
def records() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("vystra.api.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_each_request_has_an_id_in_its_answer_and_its_records(
    client: TestClient, caller: Caller, records: io.StringIO
) -> None:
    kept = client.get("/v1/videos", headers={**caller.headers, "X-Request-ID": "trace-7.a:b"})
    assert kept.status_code == 200 and kept.headers["x-request-id"] == "trace-7.a:b"
    # an id that could forge a log line or a header is replaced by one of ours
    forged = client.get("/v1/videos", headers={**caller.headers, "X-Request-ID": 'x" "level'})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
    anonymous = client.get("/v1/videos")
    assert anonymous.status_code == 401 and anonymous.headers["x-request-id"]

    logged = {r["request_id"]: r for r in map(json.loads, records.getvalue().splitlines())}
    first = logged["trace-7.a:b"]
    assert first["tenant"] == caller.tenant and first["logger"] == "vystra.api.access"
    assert (first["method"], first["route"], first["status"]) == ("GET", "/v1/videos", 200)
    assert first["level"] == "INFO" and first["duration_ms"] >= 0
    assert logged[forged.headers["x-request-id"]]["tenant"] == caller.tenant
    refused = logged[anonymous.headers["x-request-id"]]
    assert refused["status"] == 401 and "tenant" not in refused
