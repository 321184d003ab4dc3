"""The visual index through the API: thumbnails, keyframes, modality filter, spec.visual."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from api_helpers import Caller
from fastapi.testclient import TestClient
from PIL import Image

from vystra.demo import TALK, Slide, make_slides_video
from vystra.pipeline import IngestOptions, Pipeline

SLIDES = (
    Slide(5.0, "Migrating the billing database", "navy"),
    Slide(5.0, "Incident review: cache stampede", "darkred", "LiberationSans-Bold.ttf", 40),
)


@pytest.fixture(scope="module")
def slides(media_dir: Path) -> Path:
    path = media_dir / "api_slides.mp4"
    make_slides_video(path, SLIDES, sections=TALK[:1])
    return path


def test_screen_moments_carry_thumbnails_only_for_their_tenant(
    client: TestClient, make_caller, pipeline: Pipeline, slides: Path
) -> None:
    owner: Caller = make_caller()
    other: Caller = make_caller()
    video = pipeline.ingest(
        str(slides), IngestOptions(insights=False), tenant=owner.tenant
    ).video_id

    detail = client.get(f"/v1/videos/{video}", headers=owner.headers).json()
    assert detail["visual"] == {
        "status": "ready",
        "error": None,
        "keyframes": 2,
        "screen_texts": 2,
    }
    keyframes = client.get(f"/v1/videos/{video}/keyframes", headers=owner.headers).json()
    assert [k["shot"] for k in keyframes["items"]] == [True, True]
    assert keyframes["items"][1]["t"] == pytest.approx(5.0, abs=0.5)

    found = client.get(
        "/v1/search",
        headers=owner.headers,
        params={"q": "cache stampede incident", "modality": "screen"},
    ).json()["results"]
    top = found[0]
    assert top["modality"] == "screen" and "stampede" in top["text"].lower()
    assert top["start"] == pytest.approx(5.0, abs=0.5)
    picture = client.get(top["thumbnail_url"], headers=owner.headers)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(picture.content)).format == "JPEG"
    # the same bytes as the keyframe listed at that time
    assert (
        picture.content == client.get(keyframes["items"][1]["url"], headers=owner.headers).content
    )

    spoken = client.get(
        "/v1/search",
        headers=owner.headers,
        params={"q": "cache stampede incident", "modality": "speech"},
    ).json()["results"]
    assert all(r["modality"] == "speech" for r in spoken)

    # another tenant sees neither the video's frames nor its keyframes
    assert client.get(top["thumbnail_url"], headers=other.headers).status_code == 404
    assert client.get(f"/v1/videos/{video}/keyframes", headers=other.headers).status_code == 404
    bad = client.get("/v1/search", headers=owner.headers, params={"q": "x", "modality": "smell"})
    assert bad.status_code == 422
    for seconds in ("-1", "nan", "inf", "1e9"):
        assert (
            client.get(f"/v1/videos/{video}/frames/{seconds}", headers=owner.headers).status_code
            == 422
        )


def test_spec_visual_is_checked_and_echoed(client: TestClient, caller: Caller) -> None:
    body = {"url": "http://127.0.0.1:9/a.mp4", "visual": {"intervalSeconds": 0.5}}
    refused = client.post("/v1/ingests", headers=caller.headers, json=body)
    assert refused.status_code == 422 and "intervalSeconds" in refused.text
    unknown = client.post(
        "/v1/ingests", headers=caller.headers, json={**body, "visual": {"colour": True}}
    )
    assert unknown.status_code == 422
    accepted = client.post(
        "/v1/ingests",
        headers=caller.headers,
        json={**body, "visual": {"intervalSeconds": 5, "ocr": False}},
    )
    assert accepted.status_code == 201, accepted.text
    spec = accepted.json()["spec"]["visual"]
    assert spec == {"enabled": True, "intervalSeconds": 5.0, "sceneThreshold": 0.3, "ocr": False}
    client.delete(f"/v1/ingests/{accepted.json()['id']}", headers=caller.headers)
