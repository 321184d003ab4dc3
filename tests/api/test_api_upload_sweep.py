"""Uploads left incomplete past their URLs' expiry are removed: row, object and parts."""

from __future__ import annotations

from api_helpers import Caller
from fastapi.testclient import TestClient

from vystra.db import uploads as upload_rows
from vystra_api.state import AppState
from vystra_api.sweeper import GRACE, UploadSweeper

BODY = b"\x00\x00\x00\x18ftypmp42"


def begin(client: TestClient, caller: Caller) -> dict:
    meta = {"filename": "talk.mp4", "size_bytes": len(BODY), "content_type": "video/mp4"}
    created = client.post("/v1/uploads", headers=caller.headers, json=meta)
    assert created.status_code == 201, created.text
    return created.json()


def test_abandoned_uploads_are_swept_and_the_rest_kept(client: TestClient, caller: Caller):
    state: AppState = client.app.state.vystra  # type: ignore[attr-defined]
    never_sent, sent, completed, recent = (begin(client, caller) for _ in range(4))
    for upload in (sent, completed):
        put = client.put(upload["url"], content=BODY, headers=upload["headers"])
        assert put.is_success, put.text
    done = client.post(f"/v1/uploads/{completed['id']}/complete", headers=caller.headers)
    assert done.status_code == 200, done.text
    with state.db.connect() as conn:  # their URLs expired: three past the grace, one within
        for upload, ago in ((never_sent, 2 * GRACE), (sent, 2 * GRACE), (completed, 2 * GRACE)):
            conn.execute(
                "UPDATE uploads SET expires_at = now() - %s WHERE id = %s", (ago, upload["id"])
            )
        conn.execute(
            "UPDATE uploads SET expires_at = now() - %s WHERE id = %s", (GRACE / 2, recent["id"])
        )
    assert state.objects.object_size(sent["key"]) == len(BODY)

    assert UploadSweeper(state.db, state.objects, interval=60).sweep() >= 2

    with state.db.connect() as conn:
        left = {
            u["id"]: upload_rows.get_upload(conn, u["id"], caller.tenant)
            for u in (never_sent, sent, completed, recent)
        }
    assert left[never_sent["id"]] is None and left[sent["id"]] is None
    assert state.objects.object_size(sent["key"]) is None
    assert left[completed["id"]] is not None and left[completed["id"]].status == "complete"
    assert state.objects.object_size(completed["key"]) == len(BODY)
    assert left[recent["id"]] is not None  # a PUT begun before the expiry may still run
    gone = client.post(f"/v1/uploads/{sent['id']}/complete", headers=caller.headers)
    assert gone.status_code == 404, gone.text
