"""Search through the REST API against the search function called directly, in the same run.

Loads synthetic segments shaped like real ones (see search_bench.py) for one tenant, starts
``vystra serve`` in a subprocess on loopback, and runs the same queries twice with the same
concurrency: over HTTP (httpx, one client per thread, bearer key) and by calling
``vystra.search.search`` directly on a pooled connection. Both include the query embedding.
Prints p50/p99 latency and requests per second of each, and the HTTP overhead as ratios.

    python benchmarks/api_search_bench.py [--segments 200000] [--clients 16] [--queries 800]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from synthetic import load, mix

from vystra.db import open_database
from vystra.db.embedded import embedded_url
from vystra.embed import get_embedder
from vystra.search import search
from vystra.settings import Settings
from vystra.tenants import create_tenant

TENANT = "bench"


def load_corpus(settings: Settings, segments: int, base_count: int) -> list[str]:
    """Load the synthetic segments for TENANT and return held-out query texts."""
    rng = np.random.default_rng(7)
    with open_database(settings) as db:
        corpus = load(
            db,
            get_embedder(settings),
            tenant=TENANT,
            segments=segments,
            base_count=base_count,
            rng=rng,
        )
    print(
        f"loaded {segments} segments in {corpus.load_seconds:.1f} s, "
        f"HNSW built in {corpus.build_seconds:.1f} s"
    )
    _, qpairs = mix(corpus.base, rng, 400)
    return [corpus.texts[a].split(" in ")[0] for a, _ in qpairs]


def run_concurrently(
    clients: int, queries: list[str], call: Callable[[int, str], None]
) -> tuple[list[float], float]:
    """Each of ``clients`` threads takes every clients-th query; returns latencies, wall time."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        mine = []
        for q in queries[n::clients]:
            t = time.perf_counter()
            call(n, q)
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - t0


def report(label: str, latencies: list[float], wall: float) -> tuple[float, float, float]:
    ms = np.array(latencies) * 1000
    p50, p99, rps = float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(ms) / wall
    print(f"{label:<28} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {rps:7.1f} req/s")
    return p50, p99, rps


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200_000, help="e.g. 1000000 for 1M")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--queries", type=int, default=800)
    parser.add_argument("--mode", default="hybrid", choices=["semantic", "keyword", "hybrid"])
    parser.add_argument("--base", type=int, default=3000, help="embedded sentences to mix")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vystra-api-bench-"))
    # this process owns the embedded server and passes its URL on, so the server stops with
    # this process however the API subprocess ends
    url = embedded_url(home)
    settings = Settings(home=home, database_url=url, groq_api_key=None)
    texts = load_corpus(settings, args.segments, args.base)
    queries = [texts[i % len(texts)] for i in range(args.queries)]
    with open_database(settings) as db, db.connect() as conn:
        key = create_tenant(conn, TENANT)

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VYSTRA_")}
    # the server's pool as large as the direct calls' below: the same concurrency reaches Postgres
    env.update(VYSTRA_HOME=str(home), DATABASE_URL=url, VYSTRA_DB_POOL_SIZE=str(args.clients))
    server = subprocess.Popen(
        [sys.executable, "-m", "vystra.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the API server did not start")
            time.sleep(0.2)

        headers = {"Authorization": f"Bearer {key}"}
        sessions = [
            httpx.Client(base_url=base_url, headers=headers, timeout=60)
            for _ in range(args.clients)
        ]

        def over_http(n: int, q: str) -> None:
            r = sessions[n].get("/v1/search", params={"q": q, "mode": args.mode, "limit": 10})
            r.raise_for_status()

        embedder = get_embedder(settings)
        with open_database(settings, max_size=args.clients) as db:

            def direct(n: int, q: str) -> None:
                with db.connect() as conn:
                    search(conn, embedder, q, tenant=TENANT, mode=args.mode, limit=10)

            for call in (over_http, direct):  # warm up: models loaded, pools filled
                run_concurrently(args.clients, queries[: args.clients * 2], call)
            print(
                f"{args.segments} segments, {args.queries} {args.mode} queries,"
                f" {args.clients} concurrent clients, loopback"
            )
            http = report("HTTP /v1/search", *run_concurrently(args.clients, queries, over_http))
            base = report("search() direct", *run_concurrently(args.clients, queries, direct))
        print(
            f"HTTP overhead: p50 x{http[0] / base[0]:.2f}, p99 x{http[1] / base[1]:.2f},"
            f" throughput x{http[2] / base[2]:.2f} of direct"
        )
        for session in sessions:
            session.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
