"""Operator throughput: N VideoIngests created at once, time until each one's Job exists.

Runs on a fresh dev cluster (hack/devcluster). The worker pool's node selector matches no
node, so Jobs are created but their pods never run: this measures the operator, not the
pipeline. Baseline, in the same run: the same number of Jobs created directly through the
API with the same client concurrency, i.e. the floor the API server sets.

    python benchmarks/operator_bench.py [--count 500] [--clients 16]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from kubernetes import client, watch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack"))
sys.path.insert(0, str(REPO / "tests" / "cluster"))

from devcluster import ClusterConfig, Ports, down, free_port_base, up  # noqa: E402
from operator_env import free_port, install_crd  # noqa: E402

from vystra.k8s import GROUP, PLURAL, VERSION  # noqa: E402

POOLS = """pools:
  - name: cpu
    node_selector: {vystra.io/pool: benchmark-no-such-node}
    max_concurrent: 100000
"""


def watch_jobs(batch: client.BatchV1Api, namespace: str, seen: dict[str, float], stop) -> None:
    """Record when each Job is first seen (the watch ends with the cluster; that is fine)."""
    w = watch.Watch()
    try:
        for event in w.stream(batch.list_namespaced_job, namespace, timeout_seconds=600):
            if event["type"] == "ADDED":
                labels = event["object"].metadata.labels or {}
                seen.setdefault(labels.get("vystra.io/ingest", ""), time.monotonic())
            if stop.is_set():
                w.stop()
    except Exception:
        if not stop.is_set():
            raise


def run(api: client.ApiClient, namespace: str, count: int, clients: int, create) -> dict:
    batch = client.BatchV1Api(api)
    client.CoreV1Api(api).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
    )
    seen: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_jobs, args=(batch, namespace, seen, stop), daemon=True)
    watcher.start()
    time.sleep(1)
    created: dict[str, float] = {}
    started = time.monotonic()

    def one(i: int) -> None:
        name = f"bench-{i:04d}"
        create(namespace, name)
        created[name] = time.monotonic()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(count)))
    deadline = time.monotonic() + 600
    while len(seen) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    latencies = [seen[n] - created[n] for n in created if n in seen]
    jobs = batch.list_namespaced_job(namespace).items
    names = [j.metadata.labels.get("vystra.io/ingest", j.metadata.name) for j in jobs]
    return {
        "latencies": latencies,
        "jobs": len(jobs),
        "duplicates": len(names) - len(set(names)),
        "wall": max(seen.values(), default=started) - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--operator-log", type=Path, help="keep the operator's log here")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="vystra-opbench-"))
    cfg = ClusterConfig.from_env(state_dir=state, ports=Ports(free_port_base(16700)))
    cluster = up(cfg)
    operator = None
    try:
        install_crd(cluster)
        api = cluster.api_client
        batch = client.BatchV1Api(api)
        custom = client.CustomObjectsApi(api)

        def direct_job(namespace: str, name: str) -> None:
            batch.create_namespaced_job(
                namespace,
                {
                    "metadata": {"name": name, "labels": {"vystra.io/ingest": name}},
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "nodeSelector": {"vystra.io/pool": "benchmark-no-such-node"},
                                "containers": [
                                    {"name": "c", "image": "busybox", "command": ["true"]}
                                ],
                            }
                        }
                    },
                },
            )

        base = run(api, "bench-direct", args.count, args.clients, direct_job)

        pools = state / "pools.yaml"
        pools.write_text(POOLS)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VYSTRA_")},
            "KUBECONFIG": str(cluster.kubeconfig),
            "VYSTRA_OPERATOR_POOLS_FILE": str(pools),
            "VYSTRA_OPERATOR_METRICS_PORT": "0",
            "VYSTRA_OPERATOR_RESYNC_SECONDS": "1",
        }
        operator = subprocess.Popen(
            [
                str(REPO / ".venv/bin/vystra-operator"),
                "--log-format",
                "plain",
                "--liveness",
                f"http://127.0.0.1:{free_port()}/healthz",
            ],
            env=env,
            stdout=args.operator_log.open("wb") if args.operator_log else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        time.sleep(5)  # operator start-up is not part of the measurement

        def ingest(namespace: str, name: str) -> None:
            custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "VideoIngest",
                    "metadata": {"name": name},
                    "spec": {"source": f"s3://bench/{name}.mp4", "accelerator": "cpu"},
                },
            )

        result = run(api, "bench-operator", args.count, args.clients, ingest)
        peak_kib = 0
        for line in Path(f"/proc/{operator.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak_kib = int(line.split()[1])
    finally:
        if operator is not None:
            operator.terminate()
            operator.wait(30)
        down(cfg)

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    lat, blat = result["latencies"], base["latencies"]
    print(f"{args.count} VideoIngests, {args.clients} concurrent clients")
    print(
        f"create -> Job created  p50 {pct(lat, 50):.3f} s  p99 {pct(lat, 99):.3f} s"
        f"  (target p50 <= 1 s); all {args.count} in {result['wall']:.1f} s"
    )
    print(
        f"Jobs created {result['jobs']} (expected {args.count}), duplicates {result['duplicates']}"
    )
    print(
        f"baseline, Jobs created directly: create -> seen p50 {pct(blat, 50):.3f} s, "
        f"all in {base['wall']:.1f} s"
    )
    print(f"ratio operator / direct wall time: {result['wall'] / max(base['wall'], 1e-9):.2f}")
    print(f"operator peak memory (VmHWM): {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
