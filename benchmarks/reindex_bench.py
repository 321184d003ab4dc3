"""Re-index cost and search during a re-index, against baselines measured in the same run.

Loads synthetic segments (see synthetic.py), then re-indexes them with the packaged MiniLM,
first alone, then while one client searches without pause. Reported as ratios: the re-index's
wall time against embedding the same units and sentences alone (the model's share; the rest is
the database's), and search latency during the re-index against before it, with the longest
single search (the switch's pause, if any).

    python benchmarks/reindex_bench.py [--segments 3000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from synthetic import load

from vystra.db import open_database
from vystra.db.searchindex import IndexChanged
from vystra.embed import embed_units, load_embedder
from vystra.reindex import BATCH, active_embedder, reindex
from vystra.search import Mode, search
from vystra.segment import Chunk
from vystra.settings import Settings

TENANT = "bench"
QUERY = "the octopus studies coral reefs"


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=3000)
    parser.add_argument("--base", type=int, default=3000, help="embedded sentences to mix")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vystra-reindex-bench-"))
    settings = Settings(home=home, database_url=None, groq_api_key=None)
    with open_database(settings) as db:
        embedder = active_embedder(db, settings)
        load(
            db,
            embedder,
            tenant=TENANT,
            segments=args.segments,
            base_count=args.base,
            rng=np.random.default_rng(7),
        )
        with db.connect() as conn:
            rows = conn.execute(
                "SELECT ordinal, start_s, end_s, text FROM segments ORDER BY video_id, ordinal"
            ).fetchall()
        units = [Chunk(*r) for r in rows]

        # baseline 1: the model alone, on the same units in the same batches
        t0 = time.perf_counter()
        for i in range(0, len(units), BATCH):
            embed_units(embedder, units[i : i + BATCH])
        model_seconds = time.perf_counter() - t0

        def searches(stop: threading.Event, out: list[float]) -> None:
            current = embedder
            with db.connect() as conn:
                while not stop.is_set():
                    t = time.perf_counter()
                    try:
                        search(conn, current, QUERY, tenant=TENANT, mode=Mode.hybrid, limit=10)
                    except IndexChanged as exc:
                        conn.rollback()
                        current = load_embedder(exc.active.model, settings)
                        continue
                    out.append(time.perf_counter() - t)
                    conn.commit()

        # baseline 2: search latency with nothing else running, for as many searches
        quiet: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=searches, args=(stop, quiet))
        thread.start()
        time.sleep(min(20.0, model_seconds))
        stop.set()
        thread.join()

        alone = reindex(db, settings, "minilm")  # nothing else running
        busy: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=searches, args=(stop, busy))
        thread.start()
        result = reindex(db, settings, "minilm")
        stop.set()
        thread.join()

    n = result.units
    print(f"segments {args.segments}, re-embedded {n} (units and their sentences)")
    print(
        f"re-index alone {alone.seconds:.1f} s ({n / alone.seconds:,.0f} units/s);"
        f" the model alone {model_seconds:.1f} s:"
        f" re-index/model {alone.seconds / model_seconds:.2f}"
    )
    print(f"re-index beside a searcher {result.seconds:.1f} s ({n / result.seconds:,.0f} units/s)")
    print(
        f"hybrid search before: p50 {ms(quiet, 50):.1f} ms p99 {ms(quiet, 99):.1f} ms"
        f" ({len(quiet)} searches)"
    )
    print(
        f"hybrid search during: p50 {ms(busy, 50):.1f} ms p99 {ms(busy, 99):.1f} ms"
        f" max {max(busy) * 1000:.0f} ms ({len(busy)} searches, none failed);"
        f" p50 ratio {ms(busy, 50) / ms(quiet, 50):.2f}"
    )


if __name__ == "__main__":
    main()
