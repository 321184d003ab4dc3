"""Synthetic segments shaped like real ones, for the search benchmarks.

A few thousand generated sentences are embedded with the real model, and each segment mixes
two of them (text and vector, plus a little noise), so vectors lie where real MiniLM
embeddings lie and texts carry real words. Queries are held-out mixtures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from vystra.db import Database, store
from vystra.embed import Embedder
from vystra.segment import Chunk

SUBJECTS = (
    "engineer river volcano pianist octopus farmer satellite glacier surgeon market bakery"
    " election telescope vaccine battery forest startup museum harbour algorithm tournament"
    " storm reactor orchestra desert senator protein camera bridge language"
).split()
VERBS = (
    "explains measures builds repairs studies sells paints predicts tests designs warns"
    " describes protects launches teaches"
).split()
OBJECTS = (
    "solar-panels ancient-coins migrating-whales interest-rates jazz-records sourdough-loaves"
    " quantum-sensors coral-reefs marathon-shoes wind-turbines cloud-servers tax-reforms"
    " rare-minerals honey-bees chess-openings train-schedules ocean-currents"
).split()
PLACES = (
    "Lagos|the Alps|Mars|the harbour|a small village|winter|the flood|the final|the laboratory"
    "|live television|Kyoto|the desert|a submarine|the city council"
).split("|")

PER_VIDEO = 1000


def sentences(n: int, rng: np.random.Generator) -> list[str]:
    return [
        f"The {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS).replace('-', ' ')}"
        f" and {rng.choice(OBJECTS).replace('-', ' ')} in {rng.choice(PLACES)}, case {i}."
        for i in range(n)
    ]


def mix(base: np.ndarray, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    pairs = rng.integers(0, len(base), size=(n, 2))
    weights = rng.uniform(0.3, 0.7, size=(n, 1)).astype(np.float32)
    vectors = weights * base[pairs[:, 0]] + (1 - weights) * base[pairs[:, 1]]
    vectors += rng.normal(scale=0.02, size=vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), pairs


@dataclass
class Corpus:
    texts: list[str]  # the base sentences
    base: np.ndarray  # their embeddings
    vectors: np.ndarray  # one per segment
    pairs: np.ndarray  # the two base sentences each segment mixes
    load_seconds: float
    build_seconds: float


def load(
    db: Database,
    embedder: Embedder,
    *,
    tenant: str,
    segments: int,
    base_count: int,
    rng: np.random.Generator,
) -> Corpus:
    """COPY the segments in with the HNSW index dropped, then build it (as a bulk load would)."""
    texts = sentences(base_count, rng)
    base = embedder.embed(texts)
    vectors, pairs = mix(base, rng, segments)
    with db.connect() as conn:
        conn.execute("DROP INDEX segments_embedding_hnsw")
        conn.commit()
        t0 = time.perf_counter()
        for v in range(0, segments, PER_VIDEO):
            video_id = f"vbench{v // PER_VIDEO:06d}"
            store.begin_video(
                conn,
                video_id=video_id,
                tenant=tenant,
                title=f"Video {v // PER_VIDEO}",
                source=f"https://media.example/{video_id}.mp4",
                sha256=video_id,
                size_bytes=1,
                duration=PER_VIDEO * 10.0,
                options={},
            )
            rows = range(v, min(v + PER_VIDEO, segments))
            chunks = [
                Chunk(
                    i - v,
                    (i - v) * 10.0,
                    (i - v) * 10.0 + 9.5,
                    f"{texts[pairs[i, 0]]} {texts[pairs[i, 1]]}",
                )
                for i in rows
            ]
            store.write_segments(
                conn,
                video_id=video_id,
                tenant=tenant,
                chunks=chunks,
                vectors=vectors[v : v + len(chunks)],
                model=embedder.name,
                processed_seconds=0,
            )
            conn.commit()
        loaded = time.perf_counter() - t0
        conn.execute("SET maintenance_work_mem = '2GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        t0 = time.perf_counter()
        conn.execute(
            "CREATE INDEX segments_embedding_hnsw ON segments"
            " USING hnsw (embedding vector_cosine_ops)"
        )
        conn.commit()
        built = time.perf_counter() - t0
        conn.execute("ANALYZE segments")
        conn.commit()
    return Corpus(texts, base, vectors, pairs, loaded, built)


def segment_index(video_id: str, start: float) -> int:
    """The position in ``Corpus.vectors`` of the segment a hit points at."""
    return int(video_id[len("vbench") :]) * PER_VIDEO + int(start // 10)
