"""Speech in other languages, end to end on the real stack, with the multilingual Whisper base
that PyPI packages ship (vystra/models.py): espeak-ng speaks Spanish and German, the pipeline
detects and stores each video's language, indexes it with that language's text-search
configuration, and keyword search finds its words through their stems. With the multilingual
e5 embedder a question in one language finds the talk in another."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vystra.demo import make_talk_video
from vystra.embed import get_embedder
from vystra.models import MULTILINGUAL_WHISPER_NAME, whisper_vocabulary
from vystra.pipeline import Pipeline
from vystra.search import Mode, search

SPANISH = (
    (
        "volcanes",
        "Los volcanes se forman cuando la roca fundida sube por las grietas de la corteza."
        " La presión del gas atrapado aumenta hasta que la montaña entra en erupción.",
    ),
)
GERMAN = (
    (
        "kaffee",
        "Kaffee wächst in tropischen Ländern auf kleinen Sträuchern. Die Bohnen werden"
        " geröstet, gemahlen und mit heißem Wasser aufgebrüht.",
    ),
)


@pytest.fixture(scope="module")
def multilingual(settings, db) -> Pipeline:
    return Pipeline(settings.model_copy(update={"whisper_model": MULTILINGUAL_WHISPER_NAME}), db)


@pytest.mark.parametrize(
    ("voice", "talk", "language", "config", "query", "stems"),
    [
        ("es", SPANISH, "es", "spanish", "montañas presiones", {"montaña", "presión"}),
        ("de", GERMAN, "de", "german", "Bohne Kaffees", {"Kaffee", "Bohnen"}),
    ],
)
def test_a_talk_in_another_language_is_detected_and_searched_by_its_stems(
    multilingual, db, tenant, media_dir: Path, voice, talk, language, config, query, stems
):
    path = media_dir / f"talk_{voice}.mp4"
    if not path.exists():
        make_talk_video(path, talk, voice=voice)
    result = multilingual.ingest(str(path), tenant=tenant)
    with db.connect() as conn:
        stored = conn.execute(
            "SELECT v.language, v.model, s.ts_config::text FROM videos v"
            " JOIN segments s ON s.video_id = v.id WHERE v.id = %s LIMIT 1",
            (result.video_id,),
        ).fetchone()
        # plural for singular and the other way round: found through the language's stemmer
        hits = search(conn, None, query, tenant=tenant, mode=Mode.keyword)
    assert stored[0] == language and stored[2] == config, stored
    assert stored[1].endswith(MULTILINGUAL_WHISPER_NAME), stored
    assert [h.video_id for h in hits] == [result.video_id]
    marked = {m.lower() for m in re.findall(r"<mark>(.*?)</mark>", hits[0].highlight)}
    assert marked & {s.lower() for s in stems}, hits[0].highlight


def test_the_whisper_vocabulary_gets_the_timestamp_tokens_its_tokenizer_leaves_out():
    tokenizer = {
        "model": {"vocab": {"a": 0, "b": 1}},
        "added_tokens": [{"content": "<|endoftext|>", "id": 2}],
    }
    vocabulary = whisper_vocabulary(tokenizer)
    assert vocabulary[:3] == ["a", "b", "<|endoftext|>"]
    assert vocabulary[3] == "<|0.00|>" and vocabulary[-1] == "<|30.00|>"
    assert len(vocabulary) == 3 + 1501
    with pytest.raises(Exception, match="not contiguous"):
        whisper_vocabulary({"model": {"vocab": {"a": 0, "b": 2}}})


def test_with_the_multilingual_embedder_a_question_finds_the_answer_in_another_language(
    settings, own_db, tenant, media_dir: Path
):
    """VYSTRA_EMBEDDING_MODEL=e5-multilingual on a fresh database: English questions find the
    Spanish and the German talk, and a Spanish question the German one; the unrelated talk
    ranks below."""
    db = own_db
    multi = settings.model_copy(
        update={"whisper_model": MULTILINGUAL_WHISPER_NAME, "embedding_model": "e5-multilingual"}
    )
    pipeline = Pipeline(multi, db)
    videos = {}
    for voice, talk in (("es", SPANISH), ("de", GERMAN)):
        path = media_dir / f"talk_{voice}.mp4"
        if not path.exists():
            make_talk_video(path, talk, voice=voice)
        videos[voice] = pipeline.ingest(str(path), tenant=tenant).video_id
    embedder = get_embedder(multi)
    assert embedder.name.startswith("intfloat/multilingual-e5-small")
    with db.connect() as conn:
        model = conn.execute(
            "SELECT DISTINCT embedding_model FROM videos WHERE tenant = %s", (tenant,)
        ).fetchall()

        def first(query: str) -> tuple[str, float, float]:
            hits = search(conn, embedder, query, tenant=tenant, mode=Mode.semantic)
            return hits[0].video_id, hits[0].relevance, hits[-1].relevance

    assert model == [(embedder.name,)]
    for query, voice in (
        ("How do volcanoes form?", "es"),
        ("How is coffee made?", "de"),
        ("¿Cómo se prepara el café?", "de"),
        ("Wie entsteht ein Vulkan?", "es"),
    ):
        video, best, worst = first(query)
        assert video == videos[voice], query
        assert best > 0.5 > worst, (query, best, worst)
