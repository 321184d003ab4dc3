"""Operator admission at depth: VideoIngests created at once, time until each one's Job exists.

Runs on a fresh dev cluster (hack/devcluster). Flavors' node selectors match no node, so Jobs
are created but their pods never run: this measures the operator, not the pipeline. Scenarios:

  free-N       N VideoIngests at once, capacity free (a CPU flavor with unbounded slots)
  behind-W     500 created while W others wait for a GPU flavor that has no GPU

Baselines in the same run: the same number of Jobs created directly through the API with the
same client concurrency (the floor the API server sets), and the operator's latency at 0
waiting. API writes per resource are counted from the API server's audit log (the operator's
own user agent); CPU seconds and peak memory are the operator process's.

    python benchmarks/operator_bench.py [--counts 500,5000] [--waiting 5000] [--clients 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml
from kubernetes import client, watch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack"))
sys.path.insert(0, str(REPO / "tests" / "cluster"))
sys.path.insert(0, str(REPO / "tests"))  # operator_env's own helpers

from devcluster import ClusterConfig, Ports, down, free_port_base, up  # noqa: E402
from operator_env import free_port, install_crd  # noqa: E402

from vystra.k8s import TENANT_LABEL  # noqa: E402
from vystra.objectkeys import tenant_prefix  # noqa: E402
from vystra.videoingest import GROUP, PLURAL, VERSION  # noqa: E402

NOWHERE = {"vystra.io/pool": "benchmark-no-such-node"}
JOBS_NAMESPACE = "vystra-jobs"
FLAVORS = {
    "flavors": [
        {"name": "cpu", "node_selector": NOWHERE, "max_concurrent": 1_000_000},
        {"name": "gpu", "node_selector": NOWHERE, "resource": "nvidia.com/gpu"},
    ],
    "batch_max": 1,  # one Job per resource, as the baseline creates them
}


def watch_jobs(
    batch: client.BatchV1Api, namespace: str, selector: str, seen: dict[str, float], stop
) -> None:
    """Record when each Job is first seen. A watch the server ends or breaks is resumed from
    the last version seen (a relist after 410), so no Job is missed and the run never waits
    out its deadline for events that were dropped."""
    version: str | None = None
    while not stop.is_set():
        w = watch.Watch()
        try:
            for event in w.stream(
                batch.list_namespaced_job,
                namespace,
                label_selector=selector,
                resource_version=version,
                timeout_seconds=60,
            ):
                obj = event["object"]
                version = obj.metadata.resource_version
                if event["type"] == "ADDED":
                    labels = obj.metadata.labels or {}
                    seen.setdefault(labels.get("vystra.io/ingest", ""), time.monotonic())
                if stop.is_set():
                    w.stop()
        except client.exceptions.ApiException as exc:
            if exc.status == 410:
                version = None
        except Exception:  # noqa: BLE001 - a broken connection: resume from the last version
            time.sleep(0.2)


def make_namespace(api: client.ApiClient, namespace: str) -> None:
    """A namespace bound to a tenant of its own name, as `vystra tenants create` binds one."""
    meta = client.V1ObjectMeta(name=namespace, labels={TENANT_LABEL: namespace})
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=meta))


def run(
    api: client.ApiClient, namespace: str, count: int, clients: int, create, operator: bool
) -> dict:
    """Create ``count`` objects with ``clients`` threads; create -> Job latency per object.
    The operator's Jobs run in its own namespace, labelled with the resource's."""
    batch = client.BatchV1Api(api)
    make_namespace(api, namespace)
    jobs_ns = JOBS_NAMESPACE if operator else namespace
    selector = f"vystra.io/ingest-namespace={namespace}" if operator else ""
    seen: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_jobs, args=(batch, jobs_ns, selector, seen, stop), daemon=True
    )
    watcher.start()
    time.sleep(1)
    created: dict[str, float] = {}
    started = time.monotonic()

    def one(i: int) -> None:
        name = f"bench-{i:05d}"
        create(namespace, name)
        created[name] = time.monotonic()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(count)))
    deadline = time.monotonic() + 900
    while len(seen) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    latencies = [seen[n] - created[n] for n in created if n in seen]
    jobs = batch.list_namespaced_job(jobs_ns, label_selector=selector).items
    names = [j.metadata.labels.get("vystra.io/ingest", j.metadata.name) for j in jobs]
    return {
        "latencies": latencies,
        "jobs": len(jobs),
        "duplicates": len(names) - len(set(names)),
        "wall": max(seen.values(), default=started) - started,
    }


def writes_by_namespace(audit_log: Path) -> dict[str, Counter[str]]:
    """The operator's writes per namespace, by verb and resource, from the audit log. Jobs
    live in the operator's namespace (a create's audit event names no object): "jobs"."""
    out: dict[str, Counter[str]] = {}
    for line in audit_log.read_text().splitlines():
        event = json.loads(line)
        if not str(event.get("userAgent", "")).startswith("vystra-operator"):
            continue
        if event.get("stage") != "ResponseComplete":
            continue
        ref = event.get("objectRef") or {}
        kind = ref.get("resource", "?") + (
            f"/{ref['subresource']}" if ref.get("subresource") else ""
        )
        namespace = ref.get("namespace", "")
        namespace = "jobs" if namespace == JOBS_NAMESPACE else namespace
        out.setdefault(namespace, Counter())[f"{event['verb']} {kind}"] += 1
    return out


def settle(audit_log: Path, quiet: float = 10.0, limit: float = 600.0) -> None:
    """Wait until the operator has written nothing for ``quiet`` seconds (nodes and
    controllers write all the time: only the operator's user agent counts, and not its
    leader lease, which it renews every few seconds for as long as it runs)."""
    deadline = time.monotonic() + limit
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = sum(
            1
            for line in audit_log.read_text().splitlines()
            if '"userAgent":"vystra-operator' in line and '"resource":"leases"' not in line
        )
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since > quiet:
            return
        time.sleep(1)


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak resident MiB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    return cpu, peak / 1024


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="500,5000", help="free-capacity batch sizes")
    parser.add_argument("--waiting", type=int, default=5000, help="resources waiting for a GPU")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--operator-log", type=Path, help="keep the operator's log here")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",") if c]

    state = Path(tempfile.mkdtemp(prefix="vystra-opbench-"))
    cfg = ClusterConfig.from_env(state_dir=state, ports=Ports(free_port_base(16700)))
    cluster = up(cfg)
    operator = None
    rows: list[tuple[str, dict, dict | None]] = []
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
                                "nodeSelector": NOWHERE,
                                "containers": [
                                    {"name": "c", "image": "busybox", "command": ["true"]}
                                ],
                            }
                        }
                    },
                },
            )

        def ingest(accelerator: str):
            def create(namespace: str, name: str) -> None:
                custom.create_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "VideoIngest",
                        "metadata": {"name": name},
                        "spec": {
                            "source": f"{tenant_prefix(namespace)}{name}.mp4",
                            "accelerator": accelerator,
                        },
                    },
                )

            return create

        baselines = {n: run(api, f"direct-{n}", n, args.clients, direct_job, False) for n in counts}
        make_namespace(api, JOBS_NAMESPACE)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VYSTRA_")},
            "KUBECONFIG": str(cluster.kubeconfig),
            "VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump(FLAVORS),
            "VYSTRA_OPERATOR_METRICS_PORT": "0",
            "VYSTRA_OPERATOR_JOBS_NAMESPACE": JOBS_NAMESPACE,
            # each admission presigns the source (a local computation: never contacted)
            "VYSTRA_S3_BUCKET": "bench",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
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
        time.sleep(8)  # start-up and leader election are not part of the measurement
        start_cpu, _ = proc_stats(operator.pid)
        for n in counts:
            rows.append(
                (
                    f"free-{n}",
                    run(api, f"free-{n}", n, args.clients, ingest("cpu"), True),
                    baselines[n],
                )
            )
        if args.waiting:
            make_namespace(api, "waiting")
            with ThreadPoolExecutor(args.clients) as pool:
                list(
                    pool.map(lambda i: ingest("gpu")("waiting", f"w-{i:05d}"), range(args.waiting))
                )
            time.sleep(5)
            rows.append(
                (
                    f"behind-{args.waiting}",
                    run(api, f"behind-{args.waiting}", 500, args.clients, ingest("cpu"), True),
                    None,
                )
            )
        settle(cfg.paths.audit_log)  # status writes and Events trail Job creation
        cpu, peak = proc_stats(operator.pid)
        writes = writes_by_namespace(cfg.paths.audit_log)
    finally:
        if operator is not None:
            operator.terminate()
            operator.wait(30)
        down(cfg)

    print(f"{args.clients} concurrent clients; {os.cpu_count()} cores")
    at_zero = None
    for name, result, base in rows:
        lat = result["latencies"]
        if at_zero is None:
            at_zero = pct(lat, 50)
        n = len(lat)
        line = (
            f"{name:>12}: create -> Job p50 {pct(lat, 50):.3f} s  p99 {pct(lat, 99):.3f} s,"
            f" all {n} in {result['wall']:.1f} s; Jobs {result['jobs']},"
            f" duplicates {result['duplicates']}"
        )
        if base is not None:
            line += (
                f"; direct Jobs p50 {pct(base['latencies'], 50):.3f} s, all in"
                f" {base['wall']:.1f} s (operator/direct wall x{result['wall'] / base['wall']:.2f})"
            )
        else:
            line += f"; p50 vs 0 waiting x{pct(lat, 50) / at_zero:.2f}"
        print(line)
        counted = writes.get(name, Counter())
        per = 1 + sum(counted.values()) / max(1, result["jobs"])  # + its Job create
        detail = ", ".join(
            f"{k} {v / max(1, result['jobs']):.2f}" for k, v in sorted(counted.items())
        )
        print(f"{'':>14}API writes per resource {per:.2f} (create jobs 1.00, {detail})")
    creates = writes.get("jobs", Counter())["create jobs"]
    made = sum(result["jobs"] for _, result, _ in rows)
    print(f"{'':>14}Job creates in the audit log: {creates}, for {made} Jobs")
    waiting_writes = writes.get("waiting", Counter())
    if args.waiting:
        print(
            f"{'':>14}{args.waiting} waiting: "
            f"{sum(waiting_writes.values()) / args.waiting:.2f} writes each (Queued + Event)"
        )
    print(
        f"operator CPU {cpu - start_cpu:.1f} s over the scenarios ({start_cpu:.1f} s to start),"
        f" peak memory (VmHWM) {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
