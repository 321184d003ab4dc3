"""Clients see what they gave (the upload's key, the URL), never where the server keeps files."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_helpers import Caller
from billing_helpers import upload_file, wait_finished
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.db import ingests as ingest_rows
from vystra.demo import make_talk_video
from vystra.settings import Settings


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A short spoken clip, and a damaged copy of it (the media library names the file)."""
    folder = tmp_path_factory.mktemp("path-clips")
    good = folder / "short_note.mp4"
    make_talk_video(good, (("note", "Volcanoes form where magma reaches the surface."),))
    damaged = folder / "damaged_note.mp4"
    damaged.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    return good, damaged


def test_no_response_shows_the_server_home(
    client: TestClient,
    caller: Caller,
    settings: Settings,
    db: Database,
    clips: tuple[Path, Path],
) -> None:
    homes = {str(settings.home), str(settings.home_dir)}
    headers = caller.headers
    bodies: list[str] = []

    def get(url: str) -> dict:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        bodies.append(response.text)
        return response.json()

    ingests = {}
    for clip in clips:
        upload_id = upload_file(client, headers, clip)
        created = client.post("/v1/ingests", headers=headers, json={"upload_id": upload_id})
        assert created.status_code == 201, created.text
        bodies.append(created.text)
        ingests[clip.name] = wait_finished(client, headers, created.json()["id"])

    good, damaged = ingests["short_note.mp4"], ingests["damaged_note.mp4"]
    assert good["phase"] == "Succeeded", good
    assert damaged["phase"] == "Failed" and damaged["reason"] == "CorruptMedia", damaged
    for ingest in (good, damaged):
        upload = get(f"/v1/uploads/{ingest['upload_id']}")
        # the source is the upload's key, under the tenant's own prefix
        assert ingest["source"] == upload["key"]
        assert upload["key"].startswith(f"uploads/{caller.tenant}/")
        get(f"/v1/ingests/{ingest['id']}")
        bodies.append(client.get(f"/v1/ingests/{ingest['id']}/events", headers=headers).text)
    assert "damaged_note.mp4" in damaged["message"]  # the message still names the file
    get("/v1/ingests")
    get("/v1/videos")
    video = get(f"/v1/videos/{good['video_id']}")
    assert video["source"] == good["source"]

    # the server itself records (and reads) the file under its home folder
    with db.connect() as conn:
        recorded = ingest_rows.get_ingest(conn, caller.tenant, good["id"])
    assert recorded is not None
    assert recorded.source == str(settings.home_dir / "objects" / good["source"])
    for body in bodies:
        for home in homes:
            assert home not in body, body
