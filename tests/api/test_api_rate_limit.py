"""Requests per tenant and minute, counted across API processes: answers say where the tenant
stands, and one past the limit is a 429 problem with Retry-After; other tenants go on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from api_helpers import Caller
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.settings import Settings
from vystra_api.main import create_app

LIMIT = 5


@pytest.fixture
def processes(settings: Settings, db: Database) -> Iterator[tuple[TestClient, TestClient]]:
    """Two API processes of one platform (two apps on one database)."""
    limited = settings.model_copy(update={"tenant_requests_per_minute": LIMIT})
    if 60 - time.time() % 60 < 10:  # all of the test's requests within one window
        time.sleep(60 - time.time() % 60)
    with (
        TestClient(create_app(limited, db=db)) as one,
        TestClient(create_app(limited, db=db)) as two,
    ):
        yield one, two


def test_a_tenant_past_its_requests_per_minute_is_told_when_to_come_back(
    processes: tuple[TestClient, TestClient],
    make_caller: Callable[[], Caller],
    db: Database,
) -> None:
    one, two = processes
    caller, other = make_caller(), make_caller()
    remaining = []
    for n in range(LIMIT):  # spread over both processes: the count is shared
        answer = (one, two)[n % 2].get("/v1/videos", headers=caller.headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["RateLimit-Limit"] == str(LIMIT)
        remaining.append(int(answer.headers["RateLimit-Remaining"]))
        assert 0 < int(answer.headers["RateLimit-Reset"]) <= 60
    assert remaining == list(range(LIMIT - 1, -1, -1))

    refused = two.get("/v1/videos", headers=caller.headers)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["error"] == "RateLimited" and f"more than {LIMIT} requests" in body["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    # the stream route counts too; another tenant is not held back
    events = one.get("/v1/ingests/ing-000000000000/events", headers=caller.headers)
    assert events.status_code == 429
    assert one.get("/v1/videos", headers=other.headers).status_code == 200

    with db.connect() as conn:  # the minute passes
        conn.execute(
            "UPDATE rate_windows SET window_start = window_start - interval '1 minute'"
            " WHERE tenant = %s",
            (caller.tenant,),
        )
    again = one.get("/v1/videos", headers=caller.headers)
    assert again.status_code == 200 and again.headers["RateLimit-Remaining"] == str(LIMIT - 1)
    with db.connect() as conn:  # the finished window is gone
        row = conn.execute(
            "SELECT count(*) FROM rate_windows WHERE tenant = %s", (caller.tenant,)
        ).fetchone()
    assert row == (1,)
