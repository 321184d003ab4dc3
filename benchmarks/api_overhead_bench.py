"""What the per-request machinery costs the API: the per-tenant rate limit (one small write per
authenticated request) and OpenTelemetry tracing (a span per request, exported over OTLP/HTTP
to a sink on loopback), against the same server with both off, in the same run.

Each variant is a fresh ``vystra-api`` process on one embedded Postgres, JSON logs with an
access record per request as the chart runs it, serving ``GET /v1/videos`` (authenticated,
one small query) to concurrent clients; the variants take turns for several rounds and each
reports its median throughput and p50/p99 latency, with ratios to the plain server.

    python benchmarks/api_overhead_bench.py [--clients 8] [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from api_search_bench import free_port, report, run_concurrently

from vystra.db import open_database
from vystra.db.embedded import embedded_url
from vystra.settings import Settings
from vystra.tenants import create_tenant


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that accepts every export and keeps nothing."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "vystra_api.server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("the API server did not start")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vystra-overhead-bench-"))
    url = embedded_url(home)  # this process owns the embedded server
    settings = Settings(home=home, database_url=url, groq_api_key=None)
    with open_database(settings) as db, db.connect() as conn:
        key = create_tenant(conn, "bench")
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    collector = f"http://127.0.0.1:{sink.server_address[1]}"

    base = {k: v for k, v in os.environ.items() if not k.startswith(("VYSTRA_", "OTEL_"))}
    base.update(
        VYSTRA_HOME=str(home),
        DATABASE_URL=url,
        VYSTRA_DB_POOL_SIZE=str(args.clients),
        VYSTRA_LOG_FORMAT="json",
        VYSTRA_TENANT_REQUESTS_PER_MINUTE="0",
    )
    limited = {"VYSTRA_TENANT_REQUESTS_PER_MINUTE": str(10**9)}  # counted, never reached
    traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector}
    variants = {
        "plain": base,
        "rate limit": {**base, **limited},
        "tracing": {**base, **traced},
        "rate limit + tracing": {**base, **limited, **traced},
    }
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    headers = {"Authorization": f"Bearer {key}"}
    for round_ in range(1, args.rounds + 1):
        print(f"round {round_} of {args.rounds}")
        for name, env in variants.items():
            server, api = serve(env)
            sessions = [
                httpx.Client(base_url=api, headers=headers, timeout=60) for _ in range(args.clients)
            ]

            def get(n: int, _: str, sessions: list[httpx.Client] = sessions) -> None:
                sessions[n].get("/v1/videos", params={"limit": 20}).raise_for_status()

            try:
                run_concurrently(args.clients, [""] * args.clients * 20, get)  # warm up
                measured = run_concurrently(args.clients, [""] * args.requests, get)
                results[name].append(report(f"  {name}", *measured))
            finally:
                for session in sessions:
                    session.close()
                server.terminate()
                server.wait(timeout=30)
    sink.shutdown()

    medians = {
        name: tuple(statistics.median(r[i] for r in runs) for i in range(3))
        for name, runs in results.items()
    }
    plain = medians["plain"]
    print(f"medians of {args.rounds} rounds, {args.clients} clients, GET /v1/videos on loopback")
    for name, (p50, p99, rps) in medians.items():
        print(
            f"{name:<22} {rps:7.1f} req/s (x{rps / plain[2]:.2f}),"
            f" p50 {p50:6.2f} ms (x{p50 / plain[0]:.2f}), p99 {p99:6.2f} ms (x{p99 / plain[1]:.2f})"
        )


if __name__ == "__main__":
    main()
