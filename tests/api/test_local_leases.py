"""Local mode's ingest leases: a worker that loses its lease stops and deletes nothing (the new
holder carries on); a worker whose ingest is deleted stops and deletes the video with it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from api_helpers import Caller
from billing_helpers import upload_file, wait_finished
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.demo import Section
from vystra.settings import Settings

# small units: several progress reports (lease checks) while the talk is transcribed
SPEC = {
    "language": "en",
    "insights": False,
    "segmenting": {"targetSeconds": 5, "overlapSeconds": 1},
}
DEADLINE = 600.0


def running_with_segments(client: TestClient, caller: Caller, talk: Path) -> dict[str, Any]:
    """Start an ingest of the talk and return it once its first segments are stored."""
    upload_id = upload_file(client, caller.headers, talk)
    body = {"upload_id": upload_id, **SPEC}
    created = client.post("/v1/ingests", headers=caller.headers, json=body)
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + DEADLINE
    while True:
        ingest = client.get(f"/v1/ingests/{created.json()['id']}", headers=caller.headers).json()
        assert ingest["phase"] in ("Queued", "Running"), ingest
        if ingest["progress"]["segments"] > 0:
            return dict(ingest)
        assert time.monotonic() < deadline, ingest
        time.sleep(0.1)


def wait_let_go(client: TestClient, ingest_id: str) -> None:
    """Until this process's worker no longer runs the ingest."""
    backend = client.app.state.vystra.backend  # type: ignore[attr-defined]
    deadline = time.monotonic() + DEADLINE
    while ingest_id in backend._running:  # the ids this process holds a lease on
        assert time.monotonic() < deadline, "the worker kept running the ingest"
        time.sleep(0.1)


def test_a_lost_lease_stops_the_work_and_deletes_nothing(
    client: TestClient,
    caller: Caller,
    db: Database,
    settings: Settings,
    talk: tuple[Path, list[Section]],
) -> None:
    ingest = running_with_segments(client, caller, talk[0])
    ingest_id, video_id = ingest["id"], ingest["video_id"]
    upload = client.get(f"/v1/uploads/{ingest['upload_id']}", headers=caller.headers).json()
    stored = settings.home_dir / "objects" / upload["key"]

    # its heartbeat is taken for lost: another process queues the row again and claims it
    with db.connect() as conn:
        taken = conn.execute(
            "UPDATE ingests SET attempts = attempts + 1, heartbeat_at = now()"
            " WHERE id = %s AND phase = 'Running' RETURNING attempts",
            (ingest_id,),
        ).fetchone()
    assert taken == (2,)
    wait_let_go(client, ingest_id)

    # the old holder stopped without finishing, failing or deleting anything
    now = client.get(f"/v1/ingests/{ingest_id}", headers=caller.headers).json()
    assert now["phase"] == "Running" and now["attempts"] == 2, now
    video = client.get(f"/v1/videos/{video_id}", headers=caller.headers)
    assert video.status_code == 200 and video.json()["status"] == "processing", video.text
    assert stored.is_file()

    # the new holder hands it back; a worker runs it to the end
    with db.connect() as conn:
        conn.execute("UPDATE ingests SET phase = 'Queued' WHERE id = %s", (ingest_id,))
    final = wait_finished(client, caller.headers, ingest_id, timeout=DEADLINE)
    assert final["phase"] == "Succeeded" and final["attempts"] == 3, final
    video = client.get(f"/v1/videos/{video_id}", headers=caller.headers).json()
    assert video["status"] == "ready" and video["segments"] == final["progress"]["segments"]
    assert stored.is_file()


def test_deleting_a_running_ingest_stops_it_deletes_its_video_and_meters_it(
    client: TestClient,
    caller: Caller,
    settings: Settings,
    db: Database,
    talk: tuple[Path, list[Section]],
) -> None:
    ingest = running_with_segments(client, caller, talk[0])
    upload = client.get(f"/v1/uploads/{ingest['upload_id']}", headers=caller.headers).json()
    stored = settings.home_dir / "objects" / upload["key"]
    assert client.delete(f"/v1/ingests/{ingest['id']}", headers=caller.headers).status_code == 204
    wait_let_go(client, ingest["id"])

    video = client.get(f"/v1/videos/{ingest['video_id']}", headers=caller.headers)
    assert video.status_code == 404, video.text
    assert not stored.exists()
    with db.connect() as conn:  # what it processed before the delete is metered, once
        metered = conn.execute(
            "SELECT video_id, seconds FROM usage_records WHERE tenant = %s AND ingest_id = %s",
            (caller.tenant, ingest["id"]),
        ).fetchall()
    [(video_id, seconds)] = metered
    assert video_id == ingest["video_id"]
    assert (
        ingest["progress"]["processed_seconds"] <= seconds < ingest["progress"]["duration_seconds"]
    )
