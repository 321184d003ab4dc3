"""The search API's reading aids (issue #14): relevance, highlights, cursor paging, filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from api_helpers import Caller, seed_video
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.embed import get_embedder
from vystra.settings import Settings

TEXTS = [
    "Bees make honey from the nectar of flowers.",
    "The queen bee lays eggs all summer.",
    "Smoke calms the bees before the hive is opened.",
    "Glaciers carve valleys into a U shape.",
    "Honey keeps for years in a sealed jar.",
]


def test_results_carry_relevance_highlights_and_pages(
    client: TestClient, caller: Caller, db: Database, settings: Settings
) -> None:
    video = seed_video(db, get_embedder(settings), caller.tenant, "bees", TEXTS)
    headers = caller.headers
    first = client.get(
        "/v1/search", headers=headers, params={"q": "honey bees", "mode": "hybrid", "limit": 2}
    ).json()
    assert len(first["results"]) == 2 and first["next_cursor"]
    top = first["results"][0]
    assert 0 < top["relevance"] <= 1 and top["video_id"] == video
    assert "<mark>" in top["highlight"] and re.sub(r"</?mark>", "", top["highlight"]) == top["text"]
    assert top["unit_start"] == top["start"]  # no word times stored: the unit's start

    seen = [(r["video_id"], r["start"]) for r in first["results"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(
            "/v1/search",
            headers=headers,
            params={"q": "honey bees", "mode": "hybrid", "limit": 2, "cursor": cursor},
        ).json()
        seen += [(r["video_id"], r["start"]) for r in page["results"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == len(TEXTS)

    other = client.get(
        "/v1/search", headers=headers, params={"q": "glaciers", "cursor": first["next_cursor"]}
    )
    assert other.status_code == 400 and "different search" in other.json()["message"]


def test_filters_by_language_and_date(
    client: TestClient, caller: Caller, db: Database, settings: Settings
) -> None:
    seed_video(db, get_embedder(settings), caller.tenant, "bees", TEXTS)
    with db.connect() as conn:  # seeded videos have no detected language: give them one
        conn.execute("UPDATE videos SET language = 'en' WHERE tenant = %s", (caller.tenant,))
    now = datetime.now(UTC)

    def count(**params: str) -> int:
        response = client.get("/v1/search", headers=caller.headers, params={"q": "bees", **params})
        assert response.status_code == 200, response.text
        return len(response.json()["results"])

    assert count(language="en") > 0
    assert count(language="fr") == 0
    assert count(created_after=(now - timedelta(hours=1)).isoformat()) > 0
    assert count(created_after=(now + timedelta(hours=1)).isoformat()) == 0
    assert count(created_before=(now - timedelta(hours=1)).isoformat()) == 0
