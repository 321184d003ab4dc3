"""Lists page by keyset: videos or ingests that arrive while a client pages never shift a page,
so none is skipped or shown twice; a cursor the list did not give is a 400."""

from __future__ import annotations

from api_helpers import Caller, seed_video
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.embed import get_embedder
from vystra.settings import Settings


def test_videos_arriving_while_paging_shift_nothing(
    client: TestClient, caller: Caller, db: Database, settings: Settings
) -> None:
    embedder = get_embedder(settings)
    made = [seed_video(db, embedder, caller.tenant, f"talk {n}", [f"topic {n}"]) for n in range(5)]
    first = client.get("/v1/videos", params={"limit": 2}, headers=caller.headers).json()
    assert [v["id"] for v in first["items"]] == [made[4], made[3]]  # newest first

    newer = seed_video(db, embedder, caller.tenant, "arrived meanwhile", ["news"])
    seen = [v["id"] for v in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(
            "/v1/videos", params={"limit": 2, "cursor": cursor}, headers=caller.headers
        ).json()
        seen += [v["id"] for v in page["items"]]
        cursor = page["next_cursor"]
    assert seen == made[::-1]  # each once, in order; the new one is on a fresh first page
    fresh = client.get("/v1/videos", params={"limit": 1}, headers=caller.headers).json()
    assert fresh["items"][0]["id"] == newer

    for bad in ("3", "not-a-cursor", "eyJ4IjoxfQ"):
        refused = client.get("/v1/videos", params={"cursor": bad}, headers=caller.headers)
        assert refused.status_code == 400 and "cursor" in refused.json()["message"], bad


def test_ingests_page_by_keyset(client: TestClient, caller: Caller) -> None:
    made = []
    for n in range(3):  # connection refused at once (loopback): listed all the same
        created = client.post(
            "/v1/ingests",
            headers=caller.headers,
            json={"url": f"http://127.0.0.1:9/{n}.mp4", "insights": False},
        )
        assert created.status_code == 201, created.text
        made.append(created.json()["id"])
    first = client.get("/v1/ingests", params={"limit": 2}, headers=caller.headers).json()
    later = client.post(
        "/v1/ingests", headers=caller.headers, json={"url": "http://127.0.0.1:9/late.mp4"}
    ).json()["id"]
    rest = client.get(
        "/v1/ingests", params={"limit": 2, "cursor": first["next_cursor"]}, headers=caller.headers
    ).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == made[::-1]
    assert rest["next_cursor"] is None and later not in [i["id"] for i in rest["items"]]
    refused = client.get("/v1/ingests", params={"cursor": "12"}, headers=caller.headers)
    assert refused.status_code == 400
