"""The whole flow over HTTP against a real uvicorn server, as a browser or curl would do it.

create upload → PUT to the presigned URL (plain HTTP, no API key) → complete → ingest →
Server-Sent Events show progress and segments → search finds the moment → play it →
subtitles → delete.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from api_helpers import Caller, stream_events

from vystra.demo import Section
from vystra.settings import Settings


def test_upload_ingest_watch_search_play_subtitles_delete(
    live_url: str, caller: Caller, talk: tuple[Path, list[Section]], settings: Settings
) -> None:
    path, sections = talk
    data = path.read_bytes()
    with httpx.Client(base_url=live_url, headers=caller.headers, timeout=60) as api:
        created = api.post(
            "/v1/uploads",
            json={"filename": path.name, "size_bytes": len(data), "content_type": "video/mp4"},
        )
        assert created.status_code == 201, created.text
        upload = created.json()
        assert upload["status"] == "pending" and upload["url"].startswith(live_url)

        # the presigned PUT needs no API key: the signature is the authorisation
        put = httpx.put(upload["url"], content=data, headers=upload["headers"], timeout=60)
        assert put.status_code == 200, put.text

        done = api.post(f"/v1/uploads/{upload['id']}/complete")
        assert done.status_code == 200 and done.json()["status"] == "complete", done.text

        ingest = api.post(
            "/v1/ingests",
            json={"upload_id": upload["id"], "title": "Six topics", "language": "en"},
        ).json()
        assert ingest["phase"] == "Queued" and ingest["id"].startswith("ing-")

        events = stream_events(api, f"/v1/ingests/{ingest['id']}/events", caller.headers)
        names = [name for name, _ in events]
        assert names[-1] == "end" and names.count("end") == 1
        final = events[-1][1]
        assert final["phase"] == "Succeeded", final
        phases = [d["phase"] for n, d in events if n == "progress"]
        assert "Running" in phases and phases[-1] == "Succeeded"
        running = [d for n, d in events if n == "progress" and d["phase"] == "Running"]
        assert any(0 < d["progress"]["percent"] < 100 for d in running), "no live progress"
        segments = [d for n, d in events if n == "segment"]
        assert [s["ordinal"] for s in segments] == list(range(len(segments)))
        assert len(segments) == final["progress"]["segments"] > 0
        assert "sourdough" in " ".join(s["text"].lower() for s in segments)
        # segments arrive while the ingest runs, not only after it ended
        first_segment = names.index("segment")
        assert any(n == "progress" for n in names[first_segment:-1])

        # every event's id is the last segment's ordinal: a dropped stream, resumed with the
        # last id it saw as Last-Event-ID (as EventSource does), loses and repeats no segment
        events_url = f"/v1/ingests/{ingest['id']}/events"
        raw = api.get(events_url).text
        ids = re.findall(r"^id: (-?\d+)\nevent: segment$", raw, re.MULTILINE)
        assert [int(i) for i in ids] == [s["ordinal"] for s in segments]
        assert raw.startswith("retry: ")
        cut = segments[1]["ordinal"]
        resumed = stream_events(api, events_url, {**caller.headers, "Last-Event-ID": str(cut)})
        again = [d["ordinal"] for n, d in resumed if n == "segment"]
        assert again == [s["ordinal"] for s in segments[2:]] and resumed[-1][0] == "end"
        for bad in ("x", "-2", "01", "1" * 12):
            refused = api.get(events_url, headers={"Last-Event-ID": bad})
            assert refused.status_code in (400, 422), (bad, refused.text)

        video_id = final["video_id"]
        listed = api.get("/v1/ingests").json()["items"]
        assert [i["id"] for i in listed] == [ingest["id"]]

        found = api.get(
            "/v1/search", params={"q": "baking bread with wild yeast", "limit": 3}
        ).json()["results"]
        sourdough = next(s for s in sections if s.topic == "sourdough")
        top = found[0]
        assert top["video_id"] == video_id and top["title"] == "Six topics"
        assert top["start"] < sourdough.end and top["end"] > sourdough.start
        assert set(top) == {
            *("video_id", "title", "start", "end", "text", "score", "link"),
            *("relevance", "highlight", "unit_start", "language", "modality", "thumbnail_url"),
        }
        # the talk's plain video has a keyframe every 10 s: the moment shows the one before it
        assert top["modality"] == "speech"
        assert (
            top["thumbnail_url"] == f"/v1/videos/{video_id}/frames/{10 * (top['start'] // 10):.3f}"
        )
        picture = api.get(top["thumbnail_url"])
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"

        # the link plays the uploaded file from that second (Range requests work)
        media, fragment = top["link"].split("#")
        assert fragment == f"t={top['start']:.1f}" and media.startswith(f"{live_url}/v1/media/")
        head = httpx.get(media, headers={"Range": "bytes=0-99"})
        assert head.status_code == 206 and head.content == data[:100]

        srt = api.get(f"/v1/videos/{video_id}/subtitles.srt")
        vtt = api.get(f"/v1/videos/{video_id}/subtitles.vtt")
        assert srt.status_code == vtt.status_code == 200
        assert srt.text.startswith("1\n00:00:") and " --> " in srt.text
        assert vtt.text.startswith("WEBVTT\n") and "sourdough" in vtt.text.lower()

        detail = api.get(f"/v1/videos/{video_id}").json()
        assert detail["status"] == "ready" and detail["language"] == "en"
        assert detail["insights_status"] == "ready" and detail["insights"]["summary"]
        assert len(detail["transcript"]) > 3

        metrics = httpx.get(f"{live_url}/metrics").text
        assert 'vystra_search_duration_seconds_count{mode="hybrid"}' in metrics
        assert 'route="/v1/search"' in metrics and "vystra_ingests{" in metrics

        # delete: segments and the uploaded object go with the video
        stored = settings.home_dir / "objects" / upload["key"]
        assert stored.is_file()
        assert api.delete(f"/v1/videos/{video_id}").status_code == 204
        assert api.get(f"/v1/videos/{video_id}").status_code == 404
        assert not stored.exists()
        assert httpx.get(media).status_code == 404
        again = api.get("/v1/search", params={"q": "sourdough", "mode": "keyword"}).json()
        assert again["results"] == []
        assert api.delete(f"/v1/ingests/{ingest['id']}").status_code == 204
        assert api.get(f"/v1/ingests/{ingest['id']}").status_code == 404
