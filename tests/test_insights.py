from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import numpy as np
import pytest
from groq_standin import GroqStandIn

from vystra.db import store
from vystra.demo import TALK
from vystra.embed import get_embedder
from vystra.errors import InsightsError
from vystra.insights import TimedText, Visuals, groq_insights, keywords, local_insights
from vystra.media import Audio
from vystra.pipeline import IngestOptions, Pipeline
from vystra.transcribe import transcribe_groq
from vystra_api.insightswriter import InsightsWriter

UNITS = [
    TimedText(0.0, 12.0, "Volcanoes form when magma rises."),
    TimedText(13.0, 25.0, "Sourdough needs a starter of wild yeast."),
]
VALID = {
    "summary": "A talk about volcanoes and bread.",
    "keywords": ["volcano", "sourdough"],
    "topics": ["geology", "baking"],
    "chapters": [
        {"start": 0.0, "end": 12.0, "title": "Volcanoes", "summary": "Magma rises."},
        {"start": 13.0, "end": 25.0, "title": "Bread", "summary": "Wild yeast."},
    ],
}


@pytest.fixture
def groq(settings):
    stand_in = GroqStandIn()
    yield (
        stand_in,
        settings.model_copy(update={"groq_api_key": "gsk-test", "groq_base_url": stand_in.url}),
    )
    stand_in.close()


def test_groq_json_is_validated_and_invalid_answers_retried(groq):
    stand_in, settings = groq
    stand_in.replies = ["this is not json", json.dumps({"summary": ""}), json.dumps(VALID)]
    insights = groq_insights(UNITS, settings)
    assert insights.summary == VALID["summary"]
    assert [c.start for c in insights.chapters] == [0.0, 13.0]
    assert insights.generator == f"groq:{settings.groq_chat_model}"
    assert len(stand_in.requests) == 3
    first = stand_in.requests[0]
    assert first["response_format"] == {"type": "json_object"}
    assert "[13.0-25.0] Sourdough" in first["messages"][1]["content"]


def test_groq_gives_up_with_a_clear_error(groq):
    stand_in, settings = groq
    stand_in.replies = ["[1, 2]"] * settings.insights_attempts
    with pytest.raises(InsightsError, match=r"invalid insights JSON.*after 3 attempts"):
        groq_insights(UNITS, settings)


def test_failed_insights_keep_the_transcript(groq, db, talk, tenant):
    stand_in, settings = groq
    stand_in.replies = ["nope"] * settings.insights_attempts
    result = Pipeline(settings, db).ingest(str(talk[0]), IngestOptions(), tenant=tenant)
    with db.connect() as conn:
        video = store.get_video(conn, tenant, result.video_id)
        segments = store.get_segments(conn, tenant, result.video_id)
    assert video.status == "ready" and video.insights_status == "failed"
    assert "invalid insights JSON" in video.insights["error"]
    assert len(segments) == result.segments > 0


def deferred_ingest(settings, db, talk, tenant) -> str:
    """Ingest as a cluster worker does: no LLM key, insights left to the platform."""
    worker = settings.model_copy(update={"insights_deferred": True})
    result = Pipeline(worker, db).ingest(str(talk[0]), IngestOptions(), tenant=tenant)
    with db.connect() as conn:
        video = store.get_video(conn, tenant, result.video_id)
    assert video.status == "ready" and video.insights_status == "pending", video
    assert video.insights is None
    return result.video_id


def test_insights_left_pending_are_written_once_with_the_platforms_key(groq, db, talk, tenant):
    stand_in, settings = groq
    video_id = deferred_ingest(settings.model_copy(update={"groq_api_key": None}), db, talk, tenant)
    stand_in.replies = [json.dumps(VALID)]
    writers = [InsightsWriter(db, settings, lambda: get_embedder(settings)) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        assert sum(pool.map(InsightsWriter.write_pending, writers)) == 1
    assert len(stand_in.requests) == 1  # claimed by one writer only
    prompt = stand_in.requests[0]["messages"][1]["content"]
    assert "sourdough" in prompt.lower()  # from the stored units
    with db.connect() as conn:
        video = store.get_video(conn, tenant, video_id)
    assert video.insights_status == "ready"
    assert video.insights["generator"] == f"groq:{settings.groq_chat_model}"
    assert video.insights["summary"] == VALID["summary"]


def test_a_claim_left_by_a_stopped_writer_is_taken_again(settings, db, talk, tenant):
    video_id = deferred_ingest(settings, db, talk, tenant)
    writer = InsightsWriter(db, settings, lambda: get_embedder(settings))
    with db.connect() as conn:  # a writer claims it, then stops before writing
        assert store.claim_pending_insights(conn, timedelta(minutes=10)).id == video_id
    assert writer.write_pending() == 0  # a fresh claim is left alone
    with db.connect() as conn:
        conn.execute(
            "UPDATE videos SET updated_at = now() - interval '11 minutes' WHERE id = %s",
            (video_id,),
        )
    assert writer.write_pending() == 1
    with db.connect() as conn:
        video = store.get_video(conn, tenant, video_id)
    # without a key: the local extractive version, from the stored units and embeddings
    assert video.insights_status == "ready", video.insights
    assert video.insights["generator"] == "local-extractive"
    assert len(video.insights["chapters"]) >= 2


def test_groq_transcriber_uploads_wav_chunks_with_offsets(groq):
    stand_in, settings = groq
    audio = Audio(np.zeros(16_000 * 70, dtype=np.float32))
    transcription = transcribe_groq(audio, settings, language="en", chunk_seconds=30)
    segments = list(transcription.segments)
    assert [(r, c) for r, c, _ in stand_in.uploads] == [(16_000, 1)] * 3
    assert [round(s) for _, _, s in stand_in.uploads] == [30, 30, 10]
    assert [s.start for s in segments] == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert segments[-1].end == 70.0 and transcription.info.backend == "groq"


def test_keywords_prefer_words_that_mark_a_passage():
    texts = [
        "the octopus hides; an octopus changes colour",
        "jazz and more jazz today",
        "today we talk",
        "today it rains",
    ]
    top = keywords(texts, limit=2)
    assert set(top) == {"octopus", "jazz"}


def test_keywords_are_found_in_any_script():
    texts = [
        "Вулкан извергается, когда магма поднимается. Магма становится лавой.",
        "Пчёлы собирают нектар. Нектар становится мёдом в улье.",
        "Ο φάρος οδηγεί τα πλοία. Ο φάρος ανάβει τη νύχτα.",
    ]
    found = keywords(texts, limit=6)
    assert {"магма", "нектар", "φάρος"} <= set(found), found


def test_groq_is_told_what_was_shown(groq):
    stand_in, settings = groq
    stand_in.replies = [json.dumps(VALID)]
    shown = Visuals((0.0, 13.0), [TimedText(2.0, 9.0, "Magma chamber\nCross-section")])
    groq_insights(UNITS, settings, visuals=shown)
    prompt = stand_in.requests[0]["messages"][1]["content"]
    assert "[13.0-25.0] Sourdough" in prompt
    assert "Text shown on screen:\n[2.0-9.0] Magma chamber / Cross-section" in prompt


def test_local_chapters_start_at_nearby_cuts_and_keywords_include_shown_terms(settings):
    topics = {topic: text for topic, text in TALK}
    units = [
        TimedText(40.0 * n + 10.0 * k, 40.0 * n + 10.0 * (k + 1), topics[topic])
        for n, topic in enumerate(("volcanoes", "jazz", "marathon"))
        for k in range(4)
    ]
    embedder = get_embedder(settings)
    vectors = embedder.embed([u.text for u in units])
    plain = local_insights(units, vectors, embedder)
    assert [c.start for c in plain.chapters] == [0.0, 40.0, 80.0]
    seen = Visuals(
        shots=(0.0, 21.0, 43.5, 77.0, 95.0),
        screen=[TimedText(1.0, 20.0, "Stratovolcano"), TimedText(44.0, 60.0, "Stratovolcano")],
    )
    shown = local_insights(units, vectors, embedder, seen)
    # each topic shift moves to the cut within 5 s of it; the first chapter starts the video
    assert [c.start for c in shown.chapters] == [0.0, 43.5, 77.0]
    assert "stratovolcano" in shown.keywords and "stratovolcano" not in plain.keywords
