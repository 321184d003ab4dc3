"""Search latency and recall at scale: HNSW against an exact scan, in the same run.

Segments are synthetic but shaped like real ones (see synthetic.py). Recall@10 compares HNSW
results with the exact cosine ranking (numpy over all vectors). Latencies are end to end
through ``vystra.search.search`` (query embedding included) and, separately, the SQL alone.

    python benchmarks/search_bench.py [--segments 200000] [--queries 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from synthetic import load, mix, segment_index

from vystra.db import open_database
from vystra.embed import get_embedder
from vystra.search import nearest_units, search
from vystra.settings import Settings

TENANT = "bench"


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--base", type=int, default=3000, help="embedded sentences to mix")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    home = Path(tempfile.mkdtemp(prefix="vystra-search-bench-"))
    settings = Settings(home=home, database_url=None, groq_api_key=None)
    embedder = get_embedder(settings)
    with open_database(settings) as db:
        corpus = load(
            db, embedder, tenant=TENANT, segments=args.segments, base_count=args.base, rng=rng
        )
        print(
            f"loaded {args.segments} segments by COPY in {corpus.load_seconds:.1f} s "
            f"({args.segments / corpus.load_seconds:,.0f}/s); "
            f"HNSW built in {corpus.build_seconds:.1f} s"
        )
        queries, qpairs = mix(corpus.base, rng, args.queries)
        query_texts = [corpus.texts[a].split(" in ")[0] for a, _ in qpairs]
        exact = np.argsort(-(corpus.vectors @ queries.T), axis=0)[:10].T  # ground truth

        with db.connect() as conn:

            def hnsw(ef: int) -> tuple[float, list[float]]:
                found, times = 0, []
                for q, truth in zip(queries, exact, strict=True):
                    t = time.perf_counter()
                    hits = nearest_units(conn, q, tenant=TENANT, limit=10, ef_search=ef)
                    times.append(time.perf_counter() - t)
                    ids = {segment_index(video, ordinal * 10.0) for video, ordinal in hits}
                    found += len(ids & set(truth.tolist()))
                return found / (10 * len(queries)), times

            for ef in (40, 100, 200):
                r, times = hnsw(ef)
                print(
                    f"semantic SQL  ef_search={ef:<4} recall@10 {r:.3f}  "
                    f"p50 {ms(times, 50):6.2f} ms  p99 {ms(times, 99):6.2f} ms"
                )

            # baseline: the same query with the index disabled, i.e. an exact scan
            exact_times = []
            for q in queries[:20]:
                with conn.transaction():
                    conn.execute("SET LOCAL enable_indexscan = off")
                    t = time.perf_counter()
                    nearest_units(conn, q, tenant=TENANT, limit=10)
                    exact_times.append(time.perf_counter() - t)
            _, hnsw_times = hnsw(settings.hnsw_ef_search)
            speedup = statistics.median(exact_times) / statistics.median(hnsw_times)
            print(
                f"exact scan SQL               p50 {ms(exact_times, 50):6.2f} ms  "
                f"(HNSW at ef_search={settings.hnsw_ef_search} is x{speedup:.0f} faster)"
            )

            runs = [("semantic", False), ("keyword", False), ("hybrid", False), ("hybrid", True)]
            for mode, cached in runs:
                if not cached:
                    fresh = dataclasses.replace(embedder)  # an empty query cache
                times = []
                for text in query_texts:
                    t = time.perf_counter()
                    search(
                        conn,
                        fresh,
                        text,
                        tenant=TENANT,
                        mode=mode,
                        limit=10,
                        ef_search=settings.hnsw_ef_search,
                    )
                    times.append(time.perf_counter() - t)
                note = "" if mode == "keyword" else "  (query embedding included)"
                if cached:
                    note = "  (the same queries again: their vectors cached)"
                print(
                    f"search() {mode:<8} end to end   p50 {ms(times, 50):6.2f} ms  "
                    f"p99 {ms(times, 99):6.2f} ms{note}"
                )


if __name__ == "__main__":
    main()
