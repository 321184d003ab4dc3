"""``Idempotency-Key``: a retried POST answers what the first one did and creates nothing
twice; the key with another body, or while the first request runs, is refused."""

from __future__ import annotations

import threading
from pathlib import Path

from api_helpers import Caller
from billing_helpers import upload_file
from fastapi.testclient import TestClient

from vystra.db import Database, idempotency
from vystra.demo import Section
from vystra_api.idempotency import fingerprint
from vystra_api.models import UploadCreate

MP4 = {"filename": "talk.mp4", "size_bytes": 8, "content_type": "video/mp4"}


def count(db: Database, table: str, tenant: str) -> int:
    with db.connect() as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE tenant = %s", (tenant,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_retried_upload_gets_the_first_answer(
    client: TestClient, caller: Caller, db: Database
) -> None:
    headers = {**caller.headers, "Idempotency-Key": "upload-7f3a"}
    first = client.post("/v1/uploads", headers=headers, json=MP4)
    again = client.post("/v1/uploads", headers=headers, json=MP4)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(db, "uploads", caller.tenant) == 1

    # another body with the same key is a client bug, not a retry
    other = client.post("/v1/uploads", headers=headers, json={**MP4, "size_bytes": 9})
    assert other.status_code == 422 and other.json()["error"] == "IdempotencyKeyReused"
    # without a key, or with a new one, each POST creates
    assert client.post("/v1/uploads", headers=caller.headers, json=MP4).status_code == 201
    fresh = {**caller.headers, "Idempotency-Key": "upload-8b1c"}
    assert client.post("/v1/uploads", headers=fresh, json=MP4).json()["id"] != first.json()["id"]
    assert count(db, "uploads", caller.tenant) == 3


def test_a_refused_request_leaves_its_key_free(
    client: TestClient, caller: Caller, db: Database
) -> None:
    headers = {**caller.headers, "Idempotency-Key": "ingest-0001"}
    refused = client.post("/v1/ingests", headers=headers, json={"upload_id": "up-000000000000"})
    assert refused.status_code == 404
    # the corrected request, with the same key, is a first request: it runs
    created = client.post("/v1/uploads", headers=headers, json=MP4)
    assert created.status_code == 201 and "Idempotent-Replayed" not in created.headers
    assert count(db, "uploads", caller.tenant) == 1


def test_bad_keys_are_refused(client: TestClient, caller: Caller, db: Database) -> None:
    for bad in (b"", b"with space", ("é" * 3).encode(), b"k" * 256):
        answer = client.post(
            "/v1/uploads", headers={**caller.headers, "Idempotency-Key": bad}, json=MP4
        )
        assert answer.status_code in (400, 422), (bad, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert count(db, "uploads", caller.tenant) == 0


def test_a_retry_while_the_first_runs_is_told_to_wait(
    client: TestClient, caller: Caller, db: Database
) -> None:
    with db.connect() as conn:  # as the first request holds it, before it answers
        claimed = idempotency.claim(conn, caller.tenant, "busy-1", fingerprint(UploadCreate(**MP4)))
    assert claimed is None
    headers = {**caller.headers, "Idempotency-Key": "busy-1"}
    answer = client.post("/v1/uploads", headers=headers, json=MP4)
    assert answer.status_code == 409 and answer.json()["error"] == "IdempotencyKeyInUse"
    assert answer.headers["Retry-After"] == "1"
    assert count(db, "uploads", caller.tenant) == 0
    with db.connect() as conn:
        idempotency.release(conn, caller.tenant, "busy-1")


def test_concurrent_retries_of_one_ingest_create_one(
    client: TestClient, caller: Caller, db: Database, talk: tuple[Path, list[Section]]
) -> None:
    upload_id = upload_file(client, caller.headers, talk[0])
    headers = {**caller.headers, "Idempotency-Key": "ingest-talk"}
    body = {"upload_id": upload_id, "insights": False}
    answers = []

    def post() -> None:
        answers.append(client.post("/v1/ingests", headers=headers, json=body))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [a for a in answers if a.status_code == 201]
    assert created and all(a.status_code in (201, 409) for a in answers), answers
    assert len({a.json()["id"] for a in created}) == 1  # replays name the same ingest
    assert count(db, "ingests", caller.tenant) == 1
    replay = client.post("/v1/ingests", headers=headers, json=body)
    assert replay.status_code == 201 and replay.json()["id"] == created[0].json()["id"]
