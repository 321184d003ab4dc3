"""`vystra reindex`: every stored unit re-embedded with another model (of any dimension), search
switched over in one transaction and answering throughout, nothing re-transcribed."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from api_helpers import seed_video
from onnx import helper, numpy_helper

from vystra import cli
from vystra.db import searchindex, store
from vystra.db.searchindex import IndexChanged
from vystra.demo import DEMO_QUERIES
from vystra.embed import load_embedder
from vystra.errors import VystraError
from vystra.models import MULTILINGUAL_EMBEDDER, default_embedding_model_dir
from vystra.pipeline import Pipeline
from vystra.reindex import ReindexProgress, active_embedder, reindex
from vystra.search import Mode, search
from vystra.segment import Chunk

TOPICS = [
    "Honey bees dance to tell the hive where the flowers are.",
    "The volcano erupted and lava flowed down to the sea.",
    "Sourdough bread needs a starter, flour, water and patience.",
    "The orchestra tuned to the oboe before the symphony began.",
    "Glaciers carve valleys as they slowly move downhill.",
    "A compiler turns source code into machine instructions.",
]
QUESTIONS = {  # paraphrases, not the stored words
    "how do bees communicate about food": 0,
    "hot lava reaching the ocean": 1,
    "baking a loaf with wild yeast": 2,
    "which instrument does an orchestra tune to": 3,
    "rivers of ice shaping the land": 4,
    "how programs become machine code": 5,
}


def filler(n: int) -> list[str]:
    """Units enough for several re-index batches, none about the topics above."""
    return [
        f"Item {i} of the inventory list was counted twice on shelf {i % 17}." for i in range(n)
    ]


def projected_model(source: Path, target: Path, dim: int) -> Path:
    """The packaged MiniLM with a fixed random projection to ``dim`` after its last layer: a real
    model of another dimension (projections keep neighbourhoods), loaded like any fastembed
    folder."""
    shutil.copytree(source, target)
    model = onnx.load(str(source / "model.onnx"))
    out = model.graph.output[0]
    rng = np.random.default_rng(7)
    basis, _ = np.linalg.qr(rng.normal(size=(384, dim)))
    model.graph.initializer.append(numpy_helper.from_array(basis.astype(np.float32), "vystra_p"))
    model.graph.node.append(helper.make_node("MatMul", [out.name, "vystra_p"], ["projected"]))
    del model.graph.output[:]
    model.graph.output.append(
        helper.make_tensor_value_info("projected", onnx.TensorProto.FLOAT, ["b", "s", dim])
    )
    onnx.save(model, str(target / "model.onnx"))
    return target


def top(db, embedder, tenant: str, query: str) -> tuple[str, float]:
    with db.connect() as conn:
        hit = search(conn, embedder, query, tenant=tenant, mode=Mode.semantic, limit=1)[0]
    return hit.text, hit.start


def column_type(db) -> str:
    with db.connect() as conn:
        row = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'segments'::regclass AND attname = 'embedding'"
        ).fetchone()
    assert row
    return row[0]


def test_reindex_to_another_model_keeps_search_answering_and_switches_at_once(
    own_db, settings, tenant
):
    db = own_db
    old = active_embedder(db, settings)  # registers the configured model
    seed_video(db, old, tenant, "topics", TOPICS)
    seed_video(db, old, tenant, "inventory", filler(600))
    new = load_embedder(MULTILINGUAL_EMBEDDER, settings)
    assert new.name != old.name

    # a searcher that holds one embedder and reloads it when told the index changed (the API)
    errors: list[BaseException] = []
    answers: list[tuple[str, str]] = []
    stop = threading.Event()

    def searcher() -> None:
        embedder = old
        while not stop.is_set():
            try:
                text, _ = top(db, embedder, tenant, "how do bees communicate about food")
                answers.append((embedder.name, text))
            except IndexChanged as exc:
                embedder = load_embedder(exc.active.model, settings)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    # units written while the re-index runs (a live ingest) are in the new index as well
    live = "Penguins huddle together to survive the antarctic winter."
    written = threading.Event()

    def during(p: ReindexProgress) -> None:
        if written.is_set():
            return
        written.set()
        seed_video(db, old, tenant, "live", [live])
        with db.connect() as conn:
            # and a unit re-written with other words is embedded again, not left stale
            store.write_segments(
                conn,
                video_id=store.video_id_for(tenant, "inventory"),
                tenant=tenant,
                chunks=[Chunk(3, 30.0, 39.5, "Compilers translate programs for processors.")],
                vectors=old.embed(["x"]),
                model=old.name,
                processed_seconds=60.0,
            )

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        result = reindex(db, settings, MULTILINGUAL_EMBEDDER, on_progress=during)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert result.units == 6 + 600 + 1 + 1  # the re-written unit twice
    assert result.model == searchindex.IndexModel(MULTILINGUAL_EMBEDDER, new.name, 384)
    names = [name for name, _ in answers]
    assert old.name in names and names[-1] == new.name, "searches ran before and after"
    assert all(text == TOPICS[0] for _, text in answers), set(answers)  # right throughout
    # once switched, nobody answered with the old model again
    assert names == sorted(names, key=lambda n: n == new.name)

    with db.connect() as conn:
        assert searchindex.active(conn) == result.model
        models = conn.execute(
            "SELECT DISTINCT embedding_model FROM videos WHERE tenant = %s", (tenant,)
        ).fetchall()
        (run,) = searchindex.list_runs(conn)
        with pytest.raises(IndexChanged):
            search(conn, old, "bees", tenant=tenant, mode=Mode.hybrid)
        rewritten = conn.execute(
            "SELECT embedding FROM segments WHERE video_id = %s AND ordinal = 3",
            (store.video_id_for(tenant, "inventory"),),
        ).fetchone()
    assert models == [(new.name,)]
    assert (run.status, run.done, run.name) == ("done", result.units, new.name)
    expected = new.embed(["Compilers translate programs for processors."])[0]
    assert float(rewritten[0].to_numpy() @ expected) > 0.999
    assert top(db, new, tenant, "birds that live on the ice in winter")[0] == live
    for question, n in QUESTIONS.items():
        assert top(db, new, tenant, question)[0] == TOPICS[n], question
    assert active_embedder(db, settings).name == new.name  # not the configured model


def test_reindex_changes_the_vector_dimension_and_ingests_follow(
    own_db, settings, tenant, talk, tmp_path
):
    db = own_db
    old = active_embedder(db, settings)
    seed_video(db, old, tenant, "topics", TOPICS)
    stale = Pipeline(settings, db)
    assert stale.embedder.name == old.name  # loaded before the switch, used after it
    folder = projected_model(
        default_embedding_model_dir(settings.models_path), tmp_path / "minilm-256", 256
    )
    result = reindex(db, settings, str(folder))
    assert result.model.dim == 256 and column_type(db) == "vector(256)"
    new = load_embedder(str(folder), settings)
    for question, n in QUESTIONS.items():
        assert top(db, new, tenant, question)[0] == TOPICS[n], question
    with db.connect() as conn:
        conn.execute("SET LOCAL enable_seqscan = off")  # six rows: the index only if it works
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT video_id FROM segments ORDER BY embedding <=> %s LIMIT 5",
                (new.embed_query("bees"),),
            )
        )
    assert "segments_embedding_hnsw" in plan

    # the stale pipeline finds the switch when it writes, and stores 256-d vectors
    path, sections = talk
    ingested = stale.ingest(str(path), tenant=tenant)
    assert stale.embedder.name == new.name
    with db.connect() as conn:
        dims = conn.execute(
            "SELECT DISTINCT vector_dims(embedding) FROM segments WHERE video_id = %s",
            (ingested.video_id,),
        ).fetchall()
        (model,) = conn.execute(
            "SELECT embedding_model FROM videos WHERE id = %s", (ingested.video_id,)
        ).fetchone()
    assert dims == [(256,)] and model == new.name
    octopus = next(s for s in sections if s.topic == "octopus")
    _, start = top(db, new, tenant, DEMO_QUERIES[3])
    assert octopus.start - 1 <= start <= octopus.end


def test_a_model_that_cannot_load_changes_nothing(own_db, settings, tenant, tmp_path):
    db = own_db
    old = active_embedder(db, settings)
    seed_video(db, old, tenant, "topics", TOPICS)
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad, message in (
        ("relative/folder", "absolute path"),
        (str(tmp_path / "missing"), "does not exist"),
        (str(empty), "no model.onnx"),
    ):
        with pytest.raises(VystraError, match=message):
            reindex(db, settings, bad)
    with db.connect() as conn:
        assert searchindex.active(conn) == old.index_model
        assert searchindex.list_runs(conn) == []
    assert column_type(db) == "vector(384)"
    assert top(db, old, tenant, "how do bees communicate about food")[0] == TOPICS[0]


def test_the_cli_reindexes_the_configured_database(own_db, settings, monkeypatch, capsys):
    """`vystra reindex`: a clear error for a bad model, else the switch on stdout."""
    monkeypatch.setenv("DATABASE_URL", own_db.url)
    monkeypatch.setenv("VYSTRA_HOME", str(settings.home_dir))
    monkeypatch.setenv("VYSTRA_MODELS_DIR", str(settings.models_path))
    assert cli.main(["reindex", "--model", "nowhere"]) == 1
    assert "absolute path" in capsys.readouterr().err
    assert cli.main(["reindex", "--model", MULTILINGUAL_EMBEDDER, "-q"]) == 0
    out = capsys.readouterr().out
    assert "multilingual-e5-small" in out and "384-d" in out
    with own_db.connect() as conn:
        assert searchindex.active(conn).model == MULTILINGUAL_EMBEDDER
