"""End to end on the real stack: espeak talk → ffmpeg → faster-whisper → fastembed → pgvector."""

from __future__ import annotations

import re

import pytest

from vystra.db import store
from vystra.demo import DEMO_QUERIES
from vystra.embed import get_embedder
from vystra.pipeline import IngestOptions, Pipeline
from vystra.search import search
from vystra.subtitles import cues, to_srt, to_vtt

# each demo query paraphrases one topic of the talk, in the talk's order
QUERIES = list(
    zip(
        DEMO_QUERIES,
        ("volcanoes", "sourdough", "jazz", "octopus", "solar", "marathon"),
        strict=True,
    )
)


def section(sections, topic):
    return next(s for s in sections if s.topic == topic)


def test_ingest_records_the_video(ingested_talk, db):
    tenant, result, sections = ingested_talk
    assert result.status == "ready" and result.segments >= len(sections)
    with db.connect() as conn:
        video = store.get_video(conn, tenant, result.video_id)
        segments = store.get_segments(conn, tenant, result.video_id)
    assert video is not None and video.status == "ready"
    assert video.language == "en" and video.model == "faster-whisper:tiny.en"
    assert video.embedding_model and "MiniLM" in video.embedding_model
    assert video.segment_count == len(segments) == result.segments
    assert [s.ordinal for s in segments] == list(range(len(segments)))
    assert all(0 <= s.start < s.end <= video.duration + 0.5 for s in segments)


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
@pytest.mark.parametrize(("query", "topic"), QUERIES)
def test_paraphrased_query_finds_the_moment(ingested_talk, db, settings, mode, query, topic):
    tenant, result, sections = ingested_talk
    spoken = section(sections, topic)
    with db.connect() as conn:
        hits = search(conn, get_embedder(settings), query, tenant=tenant, mode=mode, limit=3)
    top = hits[0]
    assert top.video_id == result.video_id
    # the moment starts inside the spoken passage (Whisper times may lead by a fraction)
    assert spoken.start - 1.0 <= top.start <= spoken.end, (top, spoken)
    assert top.link.endswith(f"#t={top.start:.1f}")


def test_keyword_mode_matches_words(ingested_talk, db, settings):
    tenant, _, sections = ingested_talk
    jazz = section(sections, "jazz")
    with db.connect() as conn:
        hits = search(
            conn, get_embedder(settings), "Armstrong jazz", tenant=tenant, mode="keyword", limit=5
        )
        none = search(
            conn,
            get_embedder(settings),
            "xylophone zeppelin",
            tenant=tenant,
            mode="keyword",
            limit=5,
        )
    assert hits and jazz.start - 1.0 <= hits[0].start <= jazz.end
    assert "jazz" in hits[0].text.lower()
    assert none == []


def test_search_filters_by_video_and_tenant(ingested_talk, db, settings, tenant):
    owner, result, _ = ingested_talk
    embedder = get_embedder(settings)
    with db.connect() as conn:
        assert search(conn, embedder, "volcano", tenant=tenant, limit=5) == []
        assert search(conn, embedder, "volcano", tenant=owner, video_ids=["vnothere"]) == []
        scoped = search(conn, embedder, "volcano", tenant=owner, video_ids=[result.video_id])
    assert scoped and {h.video_id for h in scoped} == {result.video_id}


def test_subtitles_are_valid_srt_and_vtt(ingested_talk, db):
    tenant, result, _ = ingested_talk
    with db.connect() as conn:
        transcript = store.get_transcript(conn, tenant, result.video_id)
    assert transcript
    srt = to_srt(transcript)
    blocks = srt.strip().split("\n\n")
    assert len(blocks) == len(cues(transcript)) >= len(transcript)
    stamp = r"\d{2}:\d{2}:\d{2}[,.]\d{3}"
    for n, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert lines[0] == str(n)
        assert re.fullmatch(f"{stamp} --> {stamp}", lines[1]) and "," in lines[1]
        assert lines[2].strip()
    vtt = to_vtt(transcript)
    assert vtt.startswith("WEBVTT\n\n")
    vtt_cues = vtt.split("\n\n")[1:]
    assert len([c for c in vtt_cues if c.strip()]) == len(blocks)
    assert all(
        re.match(f"{stamp} --> {stamp}\n", c) and "." in c.split("\n")[0]
        for c in vtt_cues
        if c.strip()
    )


def test_local_insights_describe_the_talk(ingested_talk, db):
    tenant, result, sections = ingested_talk
    with db.connect() as conn:
        video = store.get_video(conn, tenant, result.video_id)
    assert video.insights_status == "ready"
    insights = video.insights
    assert insights["generator"] == "local-extractive"
    assert len(insights["summary"].split()) > 10
    words = " ".join(insights["keywords"]).lower()
    assert (
        sum(
            topic[:5] in words
            for topic in ("volcano", "sourdough", "jazz", "octopus", "solar", "marathon")
        )
        >= 2
    )
    starts = [c["start"] for c in insights["chapters"]]
    assert starts == sorted(starts) and starts[0] <= sections[0].start + 1.0
    assert all(c["title"] for c in insights["chapters"])


def test_a_long_video_is_transcribed_window_by_window(ingested_talk, db, settings, tenant):
    """With 20 s windows the talk is decoded and transcribed in six parts; the seams fall in
    pauses, so the transcript and search match the whole-track ingest."""
    _, whole, sections = ingested_talk
    windowed = settings.model_copy(update={"decode_window_seconds": 20})
    result = Pipeline(windowed, db).ingest(whole.source, IngestOptions(), tenant=tenant)
    assert result.status == "ready" and result.duration_s == pytest.approx(whole.duration_s)
    with db.connect() as conn:
        words = {
            t: " ".join(s.text for s in store.get_transcript(conn, owner, vid)).lower().split()
            for t, owner, vid in (
                ("windowed", tenant, result.video_id),
                ("whole", ingested_talk[0], whole.video_id),
            )
        }
        starts = [s.start for s in store.get_transcript(conn, tenant, result.video_id)]
        for query, topic in QUERIES:
            top = search(conn, get_embedder(settings), query, tenant=tenant, limit=1)[0]
            spoken = section(sections, topic)
            assert spoken.start - 1.0 <= top.start <= spoken.end, (topic, top)
    assert starts == sorted(starts) and starts[-1] > 60
    # tiny.en words each window a little differently (measured: 91 % of the words in common);
    # a seam that cut words off would lose far more
    same = sum(1 for w in words["windowed"] if w in set(words["whole"]))
    assert same >= 0.85 * len(words["whole"]), words
    assert abs(len(words["windowed"]) - len(words["whole"])) <= 0.1 * len(words["whole"])
