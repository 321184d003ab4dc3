from __future__ import annotations

import json

import numpy as np
import pytest
from groq_standin import GroqStandIn

from vystra.db import store
from vystra.errors import InsightsError
from vystra.insights import TimedText, groq_insights, keywords
from vystra.media import Audio
from vystra.pipeline import IngestOptions, Pipeline
from vystra.transcribe import transcribe_groq

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
