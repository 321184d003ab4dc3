"""Processed seconds are recorded once per ingest and reach Stripe once, even across outages."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from pathlib import Path

from api_helpers import Caller
from billing_helpers import StripeMock, upload_file, wait_finished
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from vystra.billing import accounts
from vystra.billing.reporter import report_pending
from vystra.billing.stripe_api import make_client
from vystra.billing.usage import record_usage
from vystra.db import Database
from vystra.db.reports import Report
from vystra.demo import Section
from vystra.settings import Settings
from vystra_operator.transitions import Usage, observe_job
from vystra_operator.view import Ingest, Job


def usage_rows(db: Database, tenant: str) -> list[tuple]:
    with db.connect() as conn:
        return conn.execute(
            "SELECT ingest_id, seconds, status, attempts, last_error FROM usage_records"
            " WHERE tenant = %s ORDER BY id",
            (tenant,),
        ).fetchall()


def test_a_success_seen_twice_is_recorded_once(db: Database, tenant: str) -> None:
    with db.connect() as conn:
        assert record_usage(conn, tenant=tenant, ingest_id="ing-1", seconds=42.5, video_id="v1")
        # a retried ingest, a restarted process or a second replica seeing the same success
        assert not record_usage(conn, tenant=tenant, ingest_id="ing-1", seconds=42.5)
    with db.connect() as conn:
        assert not record_usage(conn, tenant=tenant, ingest_id="ing-1", seconds=99)
    assert usage_rows(db, tenant) == [("ing-1", 42.5, "pending", 0, None)]


def test_already_indexed_bytes_are_metered_only_if_never_metered(db: Database, tenant: str) -> None:
    with db.connect() as conn:
        # a crash between indexing and recording success: the re-run finds the bytes indexed
        assert record_usage(
            conn, tenant=tenant, ingest_id="ing-a", seconds=30, video_id="v9", reused=True
        )
        # a later ingest of the same bytes processes nothing: not metered again
        assert not record_usage(
            conn, tenant=tenant, ingest_id="ing-b", seconds=30, video_id="v9", reused=True
        )
    assert [r[0] for r in usage_rows(db, tenant)] == ["ing-a"]


def test_videoingest_success_is_metered_once_across_operator_restarts(
    db: Database, tenant: str
) -> None:
    """The operator's Succeeded transition hands billing plain facts (transitions.Usage), from
    the worker's final report."""

    def usage(uid: str) -> Usage:
        ingest = Ingest.from_object(
            {
                "metadata": {"name": "talk", "namespace": f"vystra-{tenant}", "uid": uid},
                "spec": {"source": "s3://b/talk.mp4"},
                "status": {"phase": "Running", "videoId": "vabc"},
            }
        )
        final = Report(uid, tenant, "vabc", processed=61.2, duration=61.2, segments=5, done=True)
        complete = Job.from_object(
            {
                "metadata": {"name": "j", "namespace": "n", "uid": "j" + uid},
                "status": {"conditions": [{"type": "Complete", "status": "True"}]},
            }
        )
        outcome = observe_job(ingest, complete, [], tenant, time.time(), final)
        assert outcome is not None and outcome.want.usage is not None
        return outcome.want.usage

    def meter(facts: Usage) -> bool:
        with db.connect() as conn:  # as the operator meters: the facts are the arguments
            return record_usage(conn, **asdict(facts))

    first = usage(str(uuid.uuid4()))
    # three passes (or three operator lives) see the same finished Job
    assert [meter(first) for _ in range(3)] == [True, False, False]
    # the same name reused by a new resource (deleted and applied again) is a new ingest
    assert meter(usage(str(uuid.uuid4())))
    assert [(r[0], r[1]) for r in usage_rows(db, tenant)] == [("talk", 61.2), ("talk", 61.2)]


def test_a_real_ingest_is_metered_once_and_shown_in_usage(
    billing_client: TestClient,
    caller: Caller,
    db: Database,
    talk: tuple[Path, list[Section]],
) -> None:
    upload = upload_file(billing_client, caller.headers, talk[0])
    created = billing_client.post(
        "/v1/ingests", headers=caller.headers, json={"upload_id": upload, "insights": False}
    )
    assert created.status_code == 201, created.text
    final = wait_finished(billing_client, caller.headers, created.json()["id"])
    assert final["phase"] == "Succeeded", final
    duration = final["progress"]["duration_seconds"]
    rows = usage_rows(db, caller.tenant)
    assert len(rows) == 1 and rows[0][0] == final["id"] and abs(rows[0][1] - duration) < 0.01
    with db.connect() as conn:  # the success seen again (a restart re-reading the queue row)
        assert not record_usage(conn, tenant=caller.tenant, ingest_id=final["id"], seconds=duration)
    assert len(usage_rows(db, caller.tenant)) == 1

    usage = billing_client.get("/v1/billing/usage", headers=caller.headers).json()
    assert usage["plan"]["name"] == "free" and usage["status"] == "none" and usage["enforced"]
    assert abs(usage["used_seconds"] - duration) < 0.01
    assert usage["included_minutes"] == 10
    assert abs(usage["remaining_minutes"] - (10 - duration / 60)) < 0.01
    assert usage["metered_ingests"] == 1 and usage["active_ingests"] == 0


def outbox_gauges(client: TestClient) -> tuple[float, float]:
    """The API's outbox gauges, read from its /metrics with prometheus-client's parser."""
    text = client.get("/metrics").text
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return values["vystra_billing_outbox_pending"], values["vystra_billing_outbox_oldest_seconds"]


def test_outbox_survives_a_stripe_outage_and_reports_once(
    db: Database,
    make_caller,
    stripe_mock: StripeMock,
    billing_settings: Settings,
    billing_client: TestClient,
) -> None:
    payer, free = make_caller(), make_caller()
    with db.connect() as conn:
        accounts.set_customer(conn, payer.tenant, f"cus_{payer.tenant.replace('-', '')}")
        for n in (1, 2):
            record_usage(conn, tenant=payer.tenant, ingest_id=f"ing-{n}", seconds=10.2 * n)
        record_usage(conn, tenant=free.tenant, ingest_id="ing-f", seconds=5)
    client = make_client(billing_settings)
    event_name = billing_settings.stripe_meter_event_name

    stripe_mock.stop()  # Stripe is down
    try:
        report_pending(db, client, event_name)
    finally:
        stripe_mock.start()  # back, on the same address
    rows = usage_rows(db, payer.tenant)
    assert [(r[2], r[3]) for r in rows] == [("pending", 1), ("pending", 1)]
    assert all("APIConnectionError" in r[4] for r in rows)
    assert usage_rows(db, free.tenant)[0][2] == "unbilled"  # no Stripe customer to bill
    backlog, oldest = outbox_gauges(billing_client)  # what an alert watches
    assert backlog >= 2 and oldest >= 0

    report_pending(db, client, event_name)  # not due yet: backoff holds them back
    assert {r[2] for r in usage_rows(db, payer.tenant)} == {"pending"}
    with db.connect() as conn:  # time passes
        conn.execute(
            "UPDATE usage_records SET next_report_at = now() WHERE tenant = %s", (payer.tenant,)
        )
    report_pending(db, client, event_name)
    rows = usage_rows(db, payer.tenant)
    assert [(r[2], r[3], r[4]) for r in rows] == [("reported", 2, None), ("reported", 2, None)]
    assert outbox_gauges(billing_client)[0] == backlog - 2
    report_pending(db, client, event_name)  # nothing left to send: no second meter event
    assert [r[3] for r in usage_rows(db, payer.tenant)] == [2, 2]
