"""Search latency and recall at scale: HNSW against an exact scan, in the same run.

Segments are synthetic but shaped like real ones: a few thousand generated sentences are
embedded with the real model, and each segment mixes two of them (text and vector, plus a
little noise), so vectors lie where real MiniLM embeddings lie and texts carry real words.
Queries are held-out mixtures. Recall@10 compares HNSW results with exact cosine ranking
(numpy over all vectors). Latencies are end to end through ``vystra.search.search`` (query
embedding included) and, separately, the SQL alone.

    python benchmarks/search_bench.py [--segments 200000] [--queries 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from vystra.db import open_database, store
from vystra.embed import get_embedder
from vystra.search import search, semantic
from vystra.segment import Chunk
from vystra.settings import Settings

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

TENANT = "bench"
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


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--base", type=int, default=3000, help="embedded sentences to mix")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    settings = Settings(
        home=Path(tempfile.mkdtemp(prefix="vystra-search-bench-")),
        database_url=None,
        groq_api_key=None,
    )
    embedder = get_embedder(settings)
    texts = sentences(args.base, rng)
    t0 = time.perf_counter()
    base = embedder.embed(texts)
    print(f"embedded {len(texts)} base sentences in {time.perf_counter() - t0:.1f} s")
    vectors, pairs = mix(base, rng, args.segments)

    with open_database(settings) as db, db.connect() as conn:
        conn.execute("DROP INDEX segments_embedding_hnsw")  # bulk load first, index after
        conn.commit()
        t0 = time.perf_counter()
        for v in range(0, args.segments, PER_VIDEO):
            video_id = f"vbench{v // PER_VIDEO:06d}"
            store.begin_video(
                conn,
                video_id=video_id,
                tenant=TENANT,
                title=f"Video {v}",
                source=f"s3://bench/{video_id}.mp4",
                sha256=video_id,
                size_bytes=1,
                duration=PER_VIDEO * 10.0,
                options={},
            )
            rows = range(v, min(v + PER_VIDEO, args.segments))
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
                tenant=TENANT,
                chunks=chunks,
                vectors=vectors[v : v + len(chunks)],
                processed_seconds=0,
            )
            conn.commit()
        load = time.perf_counter() - t0
        conn.execute("SET maintenance_work_mem = '2GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        t0 = time.perf_counter()
        conn.execute(
            "CREATE INDEX segments_embedding_hnsw ON segments"
            " USING hnsw (embedding vector_cosine_ops)"
        )
        conn.commit()
        conn.execute("ANALYZE segments")
        conn.commit()
        build = time.perf_counter() - t0
        print(
            f"loaded {args.segments} segments by COPY in {load:.1f} s "
            f"({args.segments / load:,.0f}/s); HNSW built in {build:.1f} s"
        )

        queries, qpairs = mix(base, rng, args.queries)
        query_texts = [f"{texts[a].split(' in ')[0]}" for a, _ in qpairs]
        exact = np.argsort(-(vectors @ queries.T), axis=0)[:10].T  # ground truth ids

        def recall(ef: int) -> tuple[float, list[float], list[float]]:
            found, hnsw_times, exact_times = 0, [], []
            for q, truth in zip(queries, exact, strict=True):
                t = time.perf_counter()
                hits = semantic(conn, q, tenant=TENANT, limit=10, ef_search=ef)
                hnsw_times.append(time.perf_counter() - t)
                ids = {int(h.video_id[6:]) * PER_VIDEO + int(h.start // 10) for h in hits}
                found += len(ids & set(truth.tolist()))
            return found / (10 * len(queries)), hnsw_times, exact_times

        for ef in (40, 100, 200):
            r, times, _ = recall(ef)
            print(
                f"semantic SQL  ef_search={ef:<4} recall@10 {r:.3f}  "
                f"p50 {pct(times, 50):6.2f} ms  p99 {pct(times, 99):6.2f} ms"
            )

        # exact scan baseline: the same query with the index disabled
        exact_times = []
        for q in queries[: min(20, len(queries))]:
            with conn.transaction():
                conn.execute("SET LOCAL enable_indexscan = off")
                t = time.perf_counter()
                semantic(conn, q, tenant=TENANT, limit=10)
                exact_times.append(time.perf_counter() - t)
        _, hnsw_times, _ = recall(settings.hnsw_ef_search)
        print(
            f"exact scan SQL               p50 {pct(exact_times, 50):6.2f} ms  "
            f"(HNSW speed-up x{statistics.median(exact_times) / statistics.median(hnsw_times):.0f})"
        )

        for mode in ("semantic", "keyword", "hybrid"):
            times = []
            for text in query_texts:
                t = time.perf_counter()
                search(
                    conn,
                    embedder,
                    text,
                    tenant=TENANT,
                    mode=mode,
                    limit=10,
                    ef_search=settings.hnsw_ef_search,
                )
                times.append(time.perf_counter() - t)
            print(
                f"search() {mode:<8} end to end   p50 {pct(times, 50):6.2f} ms  "
                f"p99 {pct(times, 99):6.2f} ms  (query embedding included)"
            )


if __name__ == "__main__":
    main()
