"""Plan limits: an ingest the plan does not allow is refused with 402, naming the limit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Caller, hold_running
from billing_helpers import upload_file, wait_finished
from fastapi.testclient import TestClient

from vystra.billing import accounts, quota
from vystra.billing.plans import Catalog
from vystra.billing.usage import record_usage
from vystra.db import Database
from vystra.demo import Section

URL = "http://127.0.0.1:9/none.mp4"  # refused at once: accepted ingests fail fast, offline


def ingest(client: TestClient, caller: Caller, **spec: Any):
    return client.post("/v1/ingests", headers=caller.headers, json={"url": URL, **spec})


def refused(answer, limit: str) -> str:
    assert answer.status_code == 402, answer.text
    body = answer.json()
    assert body["error"] == "QuotaExceeded" and body["details"][0]["limit"] == limit
    return str(body["message"])


def subscribe(db: Database, tenant: str, plan: str, status: str = "active") -> None:
    with db.connect() as conn:
        accounts.apply_state(conn, tenant, as_of=datetime.now(UTC), plan=plan, status=status)


def test_gpu_is_refused_on_a_plan_without_it_and_auto_runs_on_cpu(
    billing_client: TestClient, caller: Caller, db: Database
) -> None:
    message = refused(ingest(billing_client, caller, accelerator="gpu"), "gpu")
    assert "free plan does not include GPU" in message
    auto = ingest(billing_client, caller)
    assert auto.status_code == 201 and auto.json()["spec"]["accelerator"] == "cpu"
    subscribe(db, caller.tenant, "pro")
    gpu = ingest(billing_client, caller, accelerator="gpu")
    assert gpu.status_code == 201 and gpu.json()["spec"]["accelerator"] == "gpu"


def test_concurrent_ingests_are_bounded(
    billing_client: TestClient, caller: Caller, db: Database
) -> None:
    hold_running(db, caller.tenant, 2)
    message = refused(ingest(billing_client, caller), "max_concurrent_ingests")
    assert "at most 2 ingests at once" in message
    subscribe(db, caller.tenant, "pro")  # 5 at once
    assert ingest(billing_client, caller).status_code == 201


def test_video_length_is_checked_against_the_hint(
    billing_client: TestClient, caller: Caller
) -> None:
    message = refused(ingest(billing_client, caller, durationHintSeconds=601), "max_video_seconds")
    assert "up to 600 s" in message and "601 s" in message
    assert ingest(billing_client, caller, durationHintSeconds=599).status_code == 201


def test_video_length_is_checked_when_probed(
    billing_client: TestClient, caller: Caller, db: Database, talk: tuple[Path, list[Section]]
) -> None:
    subscribe(db, caller.tenant, "short")  # videos up to 60 s; the talk is about 90 s
    upload = upload_file(billing_client, caller.headers, talk[0])
    created = billing_client.post("/v1/ingests", headers=caller.headers, json={"upload_id": upload})
    assert created.status_code == 201, created.text  # no hint: the length is not known yet
    final = wait_finished(billing_client, caller.headers, created.json()["id"])
    assert final["phase"] == "Failed" and final["reason"] == "QuotaExceeded", final
    assert "up to 60 s" in final["message"] and final["video_id"] is None
    with db.connect() as conn:  # nothing was stored or metered
        videos = conn.execute("SELECT count(*) FROM videos WHERE tenant = %s", (caller.tenant,))
        assert videos.fetchone()[0] == 0
        used = conn.execute(
            "SELECT count(*) FROM usage_records WHERE tenant = %s", (caller.tenant,)
        )
        assert used.fetchone()[0] == 0


def test_included_minutes_bound_plans_without_overage(
    billing_client: TestClient, caller: Caller, db: Database
) -> None:
    with db.connect() as conn:
        record_usage(conn, tenant=caller.tenant, ingest_id="ing-earlier", seconds=9 * 60)
    # 1 minute left: a 2-minute video would pass the limit
    refused(ingest(billing_client, caller, durationHintSeconds=120), "included_minutes")
    assert ingest(billing_client, caller, durationHintSeconds=30).status_code == 201
    with db.connect() as conn:
        record_usage(conn, tenant=caller.tenant, ingest_id="ing-more", seconds=60)
    message = refused(ingest(billing_client, caller), "included_minutes")
    assert "10 processed minutes" in message and "10.0 are used" in message
    usage = billing_client.get("/v1/billing/usage", headers=caller.headers).json()
    assert usage["used_minutes"] == 10 and usage["remaining_minutes"] == 0


def test_overage_plans_keep_going_past_the_included_minutes(
    billing_client: TestClient, caller: Caller, db: Database
) -> None:
    subscribe(db, caller.tenant, "pro")
    with db.connect() as conn:
        record_usage(conn, tenant=caller.tenant, ingest_id="ing-big", seconds=601 * 60)
    assert ingest(billing_client, caller).status_code == 201  # billed through the meter


@pytest.mark.parametrize("status", ["past_due", "unpaid", "canceled", "incomplete_expired"])
def test_a_lapsed_subscription_is_refused(
    billing_client: TestClient, caller: Caller, db: Database, status: str
) -> None:
    subscribe(db, caller.tenant, "pro", status=status)
    message = refused(ingest(billing_client, caller), "subscription")
    assert status in message and "/v1/billing/checkout" in message
    usage = billing_client.get("/v1/billing/usage", headers=caller.headers).json()
    assert usage["status"] == status


def test_without_a_default_plan_a_tenant_must_subscribe(
    db: Database, caller: Caller, catalog: Catalog
) -> None:
    no_default = Catalog(catalog.plans, None)
    with db.connect() as conn:
        standing = quota.standing(conn, no_default, caller.tenant)
    with pytest.raises(quota.QuotaExceeded) as refusal:
        quota.check_ingest(standing, accelerator="cpu", duration_hint=None, active_ingests=0)
    assert refusal.value.limit == "subscription"


def test_usage_reports_the_plan_and_period(
    billing_client: TestClient, caller: Caller, db: Database
) -> None:
    with db.connect() as conn:
        record_usage(conn, tenant=caller.tenant, ingest_id="ing-x", seconds=90)
    hold_running(db, caller.tenant, 1)
    usage = billing_client.get("/v1/billing/usage", headers=caller.headers).json()
    assert usage["plan"] == {
        "name": "free",
        "included_minutes": 10.0,
        "overage": False,
        "max_video_seconds": 600.0,
        "max_concurrent_ingests": 2,
        "gpu_allowed": False,
        "purchasable": False,
    }
    assert usage["used_seconds"] == 90 and usage["used_minutes"] == 1.5
    assert usage["remaining_minutes"] == 8.5 and usage["active_ingests"] == 1
    assert usage["metered_ingests"] == 1 and usage["unreported_ingests"] == 1
    start = datetime.fromisoformat(usage["period_start"])
    assert start.day == 1 and start < datetime.now(UTC)  # no subscription: the calendar month
    assert billing_client.get("/v1/billing/usage").status_code == 401
