"""Two tenants with overlapping content: no route lets one read, search, stream or delete the
other's data, and another tenant's ids answer 404 exactly like unknown ones."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_helpers import Caller, seed_video
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.embed import get_embedder
from vystra.settings import Settings

SHARED = [
    "Sourdough starter is flour and water where wild yeast lives.",
    "Volcanoes form when magma rises through cracks in the crust.",
]


@pytest.fixture
def pair(
    client: TestClient, make_caller: Callable[[], Caller], db: Database, settings: Settings
) -> dict:
    """Tenants a and b, each with a video, an upload and an ingest of the same content."""
    embedder = get_embedder(settings)
    out = {}
    for name in ("a", "b"):
        caller = make_caller()
        video = seed_video(db, embedder, caller.tenant, f"Talk of {name}", [*SHARED, name * 3])
        upload = client.post(
            "/v1/uploads",
            headers=caller.headers,
            json={"filename": "x.mp4", "size_bytes": 4, "content_type": "video/mp4"},
        ).json()
        assert client.put(upload["url"], content=b"abcd", headers=upload["headers"]).is_success
        completed = client.post(f"/v1/uploads/{upload['id']}/complete", headers=caller.headers)
        assert completed.status_code == 200, completed.text
        ingest = client.post(
            "/v1/ingests",
            headers=caller.headers,
            json={"url": "http://127.0.0.1:9/none.mp4", "retain": True},
        ).json()
        out[name] = {"caller": caller, "video": video, "upload": upload, "ingest": ingest}
    return out


def test_lists_and_search_show_only_own_data(client: TestClient, pair: dict) -> None:
    for me, other in (("a", "b"), ("b", "a")):
        headers = pair[me]["caller"].headers
        videos = client.get("/v1/videos", headers=headers).json()["items"]
        assert [v["id"] for v in videos] == [pair[me]["video"]]
        ingests = client.get("/v1/ingests", headers=headers).json()["items"]
        assert [i["id"] for i in ingests] == [pair[me]["ingest"]["id"]]
        for mode in ("semantic", "keyword", "hybrid"):
            hits = client.get(
                "/v1/search", headers=headers, params={"q": "wild yeast sourdough", "mode": mode}
            ).json()["results"]
            assert hits and {h["video_id"] for h in hits} == {pair[me]["video"]}, mode
        # naming the other tenant's video as a filter finds nothing, rather than its content
        hits = client.get(
            "/v1/search",
            headers=headers,
            params={"q": "sourdough", "video_id": pair[other]["video"]},
        ).json()["results"]
        assert hits == []


def test_every_route_hides_other_tenants_objects(client: TestClient, pair: dict) -> None:
    intruder = pair["b"]["caller"].headers
    video, upload, ingest = pair["a"]["video"], pair["a"]["upload"]["id"], pair["a"]["ingest"]["id"]
    reads = [
        f"/v1/videos/{video}",
        f"/v1/videos/{video}/subtitles.srt",
        f"/v1/videos/{video}/subtitles.vtt",
        f"/v1/uploads/{upload}",
        f"/v1/ingests/{ingest}",
        f"/v1/ingests/{ingest}/events",
    ]
    for path in reads:
        theirs = client.get(path, headers=intruder)
        unknown = client.get(
            path.replace(video, "v000").replace(upload, "up-0").replace(ingest, "ing-0"),
            headers=intruder,
        )
        assert theirs.status_code == unknown.status_code == 404, path
        assert theirs.json()["error"] == "NotFound"
    writes = [
        ("POST", f"/v1/uploads/{upload}/complete", None),
        ("POST", "/v1/ingests", {"upload_id": upload}),
        ("DELETE", f"/v1/ingests/{ingest}", None),
        ("DELETE", f"/v1/videos/{video}", None),
    ]
    for method, path, body in writes:
        assert client.request(method, path, headers=intruder, json=body).status_code == 404, path

    owner = pair["a"]["caller"].headers
    assert client.get(f"/v1/videos/{video}", headers=owner).status_code == 200
    assert client.get(f"/v1/ingests/{ingest}", headers=owner).status_code == 200
    assert client.get(f"/v1/uploads/{upload}", headers=owner).json()["status"] == "complete"


def test_signed_urls_cover_one_object(client: TestClient, pair: dict) -> None:
    """A signed URL of tenant a cannot be bent to another object or method."""
    url_a = pair["a"]["upload"]["url"]
    id_a, id_b = pair["a"]["upload"]["id"], pair["b"]["upload"]["id"]
    moved = client.put(
        url_a.replace(id_a, id_b), content=b"abcd", headers={"Content-Type": "video/mp4"}
    )
    assert moved.status_code == 403 and moved.json()["error"] == "SignatureMismatch"
    media = client.get(
        url_a.replace(f"uploads/{id_a}/content", "media/" + pair["a"]["upload"]["key"])
    )
    assert media.status_code == 403


def test_requests_without_a_valid_key_are_refused(client: TestClient, pair: dict) -> None:
    video = pair["a"]["video"]
    for headers in ({}, {"Authorization": "Bearer vys_nope"}, {"Authorization": "Basic YTpi"}):
        for path in ("/v1/videos", f"/v1/videos/{video}", "/v1/search?q=yeast", "/v1/ingests"):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.json()["error"] == "Unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
