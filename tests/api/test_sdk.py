"""The Python SDK (sdk/python, vystra-client) drives the whole flow against a served API, sync
and async: upload, ingest, its events (resumed after a given one), search, delete; errors come
back as typed exceptions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from api_helpers import Caller
from vystra_client import AsyncClient, BadRequest, Client, NotFound, Unauthorized

from vystra.demo import Section


def test_the_sdk_runs_the_whole_flow(
    live_url: str, caller: Caller, talk: tuple[Path, list[Section]]
) -> None:
    path, sections = talk
    with Client(live_url, caller.key) as vystra:
        upload = vystra.upload_file(path)
        assert upload.status == "complete" and upload.size_bytes == path.stat().st_size
        ingest = vystra.create_ingest(upload_id=upload.id, insights=False, idempotency_key="k1")
        again = vystra.create_ingest(upload_id=upload.id, insights=False, idempotency_key="k1")
        assert again.id == ingest.id  # a retried create made nothing more

        events = list(vystra.events(ingest.id))
        assert events[-1].type == "end" and events[-1].ingest is not None
        final = events[-1].ingest
        assert final.phase == "Succeeded" and final.video_id
        segments = [e for e in events if e.type == "segment"]
        assert [e.data["ordinal"] for e in segments] == list(range(len(segments)))
        # resumed after the second segment: the rest, once
        resumed = [e for e in vystra.events(ingest.id, after=segments[1].id) if e.type == "segment"]
        assert [e.data["ordinal"] for e in resumed] == [e.data["ordinal"] for e in segments[2:]]
        assert vystra.wait(ingest.id).phase == "Succeeded"

        page = vystra.search("baking bread with wild yeast", limit=3)
        sourdough = next(s for s in sections if s.topic == "sourdough")
        top = page.results[0]
        assert top.video_id == final.video_id and 0 <= top.relevance <= 1
        assert top.start < sourdough.end and top.end > sourdough.start
        assert [v.id for v in vystra.videos()] == [final.video_id]
        assert vystra.get_video(final.video_id).status == "ready"
        assert "WEBVTT" in vystra.subtitles(final.video_id)

        with pytest.raises(BadRequest) as refused:
            vystra.create_ingest(upload_id=upload.id, segmenting={"targetSeconds": 0})
        assert refused.value.reason == "InvalidRequest" and refused.value.request_id
        vystra.delete_video(final.video_id)
        with pytest.raises(NotFound):
            vystra.get_video(final.video_id)
    with Client(live_url, "vk_not-a-key") as stranger, pytest.raises(Unauthorized):
        stranger.search("anything")


def test_the_async_client(live_url: str, caller: Caller, talk: tuple[Path, list[Section]]) -> None:
    async def run() -> tuple[str, str | None, int]:
        async with AsyncClient(live_url, caller.key) as vystra:
            upload = await vystra.upload_file(talk[0])
            ingest = await vystra.create_ingest(upload_id=upload.id, insights=False)
            final = await vystra.wait(ingest.id)
            page = await vystra.search("octopus arms", limit=1)
            return final.phase, final.video_id, len(page.results)

    phase, video_id, found = asyncio.run(run())
    assert phase == "Succeeded" and video_id and found == 1
