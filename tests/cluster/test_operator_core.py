"""The operator's core under failure, on the real control plane: a refused Job, a hung
connection, restarts of the operator and of the API server, a leader killed mid-batch, and an
outage longer than the Jobs' TTL. Every resource must end terminal with one Job, its usage
metered once.

These resources run a quick flavor: a real Job whose pod (busybox `sh`, run by the node agent)
exits at once, so what is measured is the operator, not transcription.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from devcluster.certs import ensure_certs
from devcluster.controlplane import start_control_plane
from devcluster.processes import daemon_pid
from devcluster.tools import ensure_k8s_binaries, provisioning_request_crd
from kubernetes import client

from vystra.k8s import GROUP, PLURAL, REQUEST_ID_ANNOTATION, TENANT_LABEL, VERSION
from vystra.objectkeys import tenant_prefix

from .freeze_proxy import FreezeProxy
from .operator_env import (
    CONFIG_NAMESPACE,
    Operator,
    create_vi,
    get_vi,
    ingest_jobs,
    install_crd,
    prepare_config_namespace,
    wait_phase,
)

QUICK = {
    "flavors": [
        {
            "name": "quick",
            "node_selector": {"vystra.io/pool": "cpu"},
            "image": "busybox",
            "command": ["sh", "-c", "sleep 0.5"],
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"memory": "64Mi"},
            "max_concurrent": 60,
        }
    ]
}


def quick_gpu(seconds: int) -> dict:
    """A GPU flavor (the dev cluster's two nodes with one GPU each) whose pods sleep."""
    return {
        "name": "gpu",
        "node_selector": {"vystra.io/pool": "gpu"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "resource": "nvidia.com/gpu",
        "image": "busybox",
        "command": ["sh", "-c", f"sleep {seconds}"],
        "requests": {"cpu": "10m", "memory": "16Mi"},
    }


def own_object(namespace: str) -> str:
    """A source the operator accepts (the tenant's own prefix) and presigns; the quick
    flavor's pod never reads it."""
    return f"{tenant_prefix(namespace)}x.mp4"


@pytest.fixture(scope="module")
def core_env(cluster, db, s3):
    install_crd(cluster)
    prepare_config_namespace(cluster, s3)
    return {"VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump(QUICK)}


def start_operator(cluster, db, tmp_path, env, extra_env=None, **extra) -> Operator:
    op = Operator(
        cluster,
        db.url,
        tmp_path,
        env={
            **env,
            "VYSTRA_OPERATOR_LEASE_NAME": f"core-{uuid.uuid4().hex[:6]}",
            **(extra_env or {}),
        },
        **extra,
    )
    op.start()
    return op


def terminal(cluster, ns: str, names: list[str], timeout: float) -> dict[str, dict]:
    """Wait until every named resource is Succeeded or Failed; their statuses."""

    def check():
        items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]
        done = {
            i["metadata"]["name"]: i["status"]
            for i in items
            if (i.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        }
        return done if set(names) <= set(done) else None

    return cluster.wait_for(check, timeout, f"{len(names)} resources terminal")


def assert_once_each(cluster, db, ns: str, names: list[str], metered: list[str]) -> None:
    jobs = ingest_jobs(cluster, ns)
    owners = [j.metadata.labels["vystra.io/ingest"] for j in jobs]
    assert len(owners) == len(set(owners)), "a resource got two Jobs"
    assert set(owners) <= set(names)
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT ingest_id, count(*) FROM usage_records WHERE tenant = %s GROUP BY ingest_id",
            (ns,),
        ).fetchall()
    assert sorted(rows) == [(n, 1) for n in sorted(metered)]


def test_a_refused_job_fails_its_resource_alone(cluster, namespace, db, core_env, tmp_path):
    op = start_operator(cluster, db, tmp_path, core_env, log_format="json")
    try:
        names = [f"ok-{i:02d}" for i in range(50)]
        create_vi(
            cluster,
            namespace,
            "refused",
            annotations={REQUEST_ID_ANNOTATION: "req-refused-7"},  # as the API sets it
            source=own_object(namespace),
            resources={"requests": {"cpu": "lots"}},  # the API server rejects this Job: 422
        )
        for name in names:
            create_vi(cluster, namespace, name, source=own_object(namespace))
        done = terminal(cluster, namespace, [*names, "refused"], 240)
    finally:
        op.stop()
    assert done["refused"]["phase"] == "Failed" and done["refused"]["reason"] == "JobRejected"
    assert "quantities must match" in done["refused"]["message"], done["refused"]
    assert {done[n]["phase"] for n in names} == {"Succeeded"}
    assert_once_each(cluster, db, namespace, names, metered=names)
    # the operator's record of the refusal names the ingest, its tenant and the API request
    records = [json.loads(line) for line in op.logs().splitlines() if line.startswith("{")]
    refusal = [
        r for r in records if "refused" in r["message"] and r.get("logger") == "vystra.operator"
    ]
    assert refusal, op.logs()[-3000:]
    assert refusal[0]["ingest"] == f"{namespace}/refused"
    assert refusal[0]["request_id"] == "req-refused-7"
    assert refusal[0]["tenant"]


def test_a_hung_connection_does_not_stall_admission(cluster, namespace, db, core_env, tmp_path):
    proxy = FreezeProxy(int(cluster.server_url.rsplit(":", 1)[1]))
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    kubeconfig = tmp_path / "via-proxy.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    op = start_operator(cluster, db, tmp_path, core_env, kubeconfig=kubeconfig)
    try:
        create_vi(cluster, namespace, "before", source=own_object(namespace))
        terminal(cluster, namespace, ["before"], 120)
        assert proxy.freeze() > 0  # the operator's watches and pooled connections hang
        names = [f"during-{i}" for i in range(10)]
        for name in names:
            create_vi(cluster, namespace, name, source=own_object(namespace))
        started = time.monotonic()
        terminal(cluster, namespace, names, 180)
        recovered = time.monotonic() - started
        health = json.loads(
            urllib.request.urlopen(f"http://127.0.0.1:{op.liveness_port}/healthz").read()
        )
    finally:
        op.stop()
        proxy.close()
    print(f"admission resumed after a frozen connection in {recovered:.1f}s")
    assert health["controller"]["leader"] is True
    assert_once_each(cluster, db, namespace, ["before", *names], metered=["before", *names])


def test_operator_and_api_server_restarted_mid_batch(cluster, namespace, db, core_env, tmp_path):
    op = start_operator(cluster, db, tmp_path, core_env)
    names = [f"batch-{i:02d}" for i in range(40)]
    try:
        for name in names[:20]:
            create_vi(cluster, namespace, name, source=own_object(namespace))
        op.kill()
        restart_apiserver(cluster)
        op.start()
        for name in names[20:]:
            create_vi(cluster, namespace, name, source=own_object(namespace))
        done = terminal(cluster, namespace, names, 300)
    finally:
        op.stop()
    assert {done[n]["phase"] for n in names} == {"Succeeded"}
    assert_once_each(cluster, db, namespace, names, metered=names)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def restart_apiserver(cluster) -> None:
    """SIGKILL the API server and start it again on the same etcd."""
    pid = daemon_pid("kube-apiserver", cluster.paths.pids)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    port = int(cluster.server_url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 30
    # a zombie leader may still have threads that hold the listening socket
    while daemon_pid("kube-apiserver", cluster.paths.pids) is not None or listening(port):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # the control plane alone: up() would refuse the port the dead server's connections still
    # hold in TIME_WAIT
    start_control_plane(cluster.config, ensure_k8s_binaries(), ensure_certs(cluster.paths.certs))


def test_standby_takes_over_when_the_leader_dies(cluster, namespace, db, core_env, tmp_path):
    lease = f"core-{uuid.uuid4().hex[:6]}"
    env = {**core_env, "VYSTRA_OPERATOR_LEASE_NAME": lease}
    first = Operator(cluster, db.url, tmp_path / "a", env=env)
    second = Operator(cluster, db.url, tmp_path / "b", env=env)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first.start()
    leases = client.CoordinationV1Api(cluster.api_client)

    def holder() -> str | None:
        try:
            return leases.read_namespaced_lease(lease, "default").spec.holder_identity or None
        except client.exceptions.ApiException:
            return None

    leader = cluster.wait_for(holder, 60, "a leader")
    second.start()
    names = [f"ha-{i:03d}" for i in range(200)]
    try:
        for name in names[:100]:
            create_vi(cluster, namespace, name, source=own_object(namespace))
        first.kill()  # SIGKILL: no hand-over, the Lease must expire
        killed = datetime.now(UTC)
        for name in names[100:]:
            create_vi(cluster, namespace, name, source=own_object(namespace))
        new = cluster.wait_for(lambda: (h := holder()) != leader and h, 30, "a new leader")
        # from the Lease itself: the creates above take longer on a loaded machine
        acquired = leases.read_namespaced_lease(lease, "default").spec.acquire_time
        takeover = (acquired - killed).total_seconds()
        done = terminal(cluster, namespace, names, 400)
    finally:
        second.stop()
        first.stop()
    print(f"standby {new} took over {takeover:.1f}s after the leader's death")
    assert takeover < 15
    assert {done[n]["phase"] for n in names} == {"Succeeded"}
    assert_once_each(cluster, db, namespace, names, metered=names)


def test_an_outcome_survives_an_outage_longer_than_the_job_ttl(
    cluster, namespace, db, core_env, tmp_path
):
    ttl = {"VYSTRA_OPERATOR_TTL_SECONDS_AFTER_FINISHED": "2"}
    op = start_operator(cluster, db, tmp_path, core_env, extra_env=ttl)
    try:
        create_vi(
            cluster, namespace, "outlived", source=own_object(namespace), durationHintSeconds=5
        )
        body = cluster.wait_for(
            lambda: (
                (b := get_vi(cluster, namespace, "outlived")).get("status", {}).get("jobName") and b
            ),
            60,
            "a Job",
        )
        op.kill()  # down before the Job ends; its TTL (2 s) passes many times over
        job_name = body["status"]["jobName"]
        finished = cluster.wait_for_job(CONFIG_NAMESPACE, job_name, timeout=60)
        assert finished is not None
        time.sleep(10)
        job = cluster.batch.read_namespaced_job(job_name, CONFIG_NAMESPACE)  # held, not gone
        assert job.metadata.deletion_timestamp is not None
        assert "vystra.io/outcome" in job.metadata.finalizers
        op.start()
        status = terminal(cluster, namespace, ["outlived"], 60)["outlived"]
        assert status["phase"] == "Succeeded"
        cluster.wait_for_gone(
            lambda: cluster.batch.read_namespaced_job(job_name, CONFIG_NAMESPACE), 60, "the Job"
        )
    finally:
        op.stop()
    assert_once_each(cluster, db, namespace, ["outlived"], metered=["outlived"])


def test_liveness_reports_the_controller(cluster, db, core_env, tmp_path):
    op = start_operator(cluster, db, tmp_path, core_env)
    try:

        def healthy():
            try:
                url = f"http://127.0.0.1:{op.liveness_port}/healthz"
                body = json.loads(urllib.request.urlopen(url, timeout=5).read())
            except (urllib.error.URLError, ConnectionError):
                return None
            controller = body.get("controller", {})
            # synced comes first; leadership follows once an earlier test's Lease is released
            return body if controller.get("synced") and controller.get("leader") else None

        body = cluster.wait_for(healthy, 60, "a synced, leading operator")
    finally:
        op.stop()
    assert body["controller"]["waiting"] == 0


def test_capacity_leaves_out_accelerators_that_other_workloads_hold(
    cluster, namespace, db, core_env, tmp_path
):
    """Two nodes with one GPU each; another team's pod (managed by Helm, say) holds one."""
    gpu = quick_gpu(seconds=30)
    hog = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "other-team",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
        },
        "spec": {
            "nodeSelector": {"vystra.io/pool": "gpu"},
            "tolerations": gpu["tolerations"],
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "command": ["sh", "-c", "sleep 600"],
                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                }
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(hog))
    cluster.wait_for_pod(namespace, "other-team", phases=("Running",), timeout=60)
    env = {**core_env, "VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump({"flavors": [gpu]})}
    op = start_operator(cluster, db, tmp_path, env)
    try:

        def capacity() -> float | None:
            url = f"http://127.0.0.1:{op.metrics_port}/metrics"
            try:
                text = urllib.request.urlopen(url, timeout=5).read().decode()
            except (urllib.error.URLError, ConnectionError):
                return None
            for line in text.splitlines():
                if line.startswith('vystra_operator_flavor_capacity{flavor="gpu"}'):
                    return float(line.split()[-1])
            return None

        # 2 GPUs allocatable, 1 held by the other team's pod
        cluster.wait_for(lambda: capacity() == 1.0, 60, "the other team's GPU counted")
        # one after the other: made in the same second, either could take the free GPU
        create_vi(cluster, namespace, "first", source=own_object(namespace), accelerator="gpu")
        wait_phase(cluster, namespace, "first", ("Running",), timeout=30)
        create_vi(cluster, namespace, "second", source=own_object(namespace), accelerator="gpu")
        queued = cluster.wait_for(
            lambda: (
                (b := get_vi(cluster, namespace, "second")).get("status", {}).get("phase")
                == "Queued"
                and b
            ),
            60,
            "the second ingest queued",
        )
        assert queued["status"]["reason"] == "WaitingForGPU", queued["status"]
        terminal(cluster, namespace, ["first", "second"], 180)
    finally:
        op.stop()
        cluster.core.delete_namespaced_pod("other-team", namespace, grace_period_seconds=0)
    assert_once_each(cluster, db, namespace, ["first", "second"], metered=["first", "second"])


def test_a_tenant_under_its_share_preempts_a_borrowed_gpu(
    cluster, namespace, db, core_env, tmp_path
):
    """Tenant A holds both GPUs; tenant B's ingest takes one back. A's ingest is stopped, says
    so (Queued, Preempted, a Disrupted condition, an Event), waits, and runs again once a GPU
    frees; every resource ends Succeeded with one Job and one usage record."""
    gpu = quick_gpu(seconds=25)
    other = f"{namespace[:50]}-b"
    cluster.core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=other, labels={TENANT_LABEL: other}))
    )
    env = {**core_env, "VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump({"flavors": [gpu]})}
    op = start_operator(cluster, db, tmp_path, env)
    hint = {"accelerator": "gpu", "durationHintSeconds": 3600}  # long: worth preempting
    try:
        for name in ("a1", "a2"):
            create_vi(cluster, namespace, name, source=own_object(namespace), **hint)
        for name in ("a1", "a2"):
            wait_phase(cluster, namespace, name, ("Running",), timeout=60)
        create_vi(cluster, other, "b1", source=own_object(other), **hint)

        def victim() -> dict | None:
            for name in ("a1", "a2"):
                status = get_vi(cluster, namespace, name).get("status") or {}
                if status.get("reason") == "Preempted":
                    return {"name": name, **status}
            return None

        stopped = cluster.wait_for(victim, 60, "one of tenant A's ingests preempted")
        assert stopped["phase"] == "Queued" and stopped["disruptions"] == 1, stopped
        assert "under its fair share" in stopped["message"]
        conditions = {c["type"]: (c["status"], c["reason"]) for c in stopped["conditions"]}
        assert conditions["Disrupted"] == ("True", "Preempted")
        assert conditions["Running"][0] == "False"
        wait_phase(cluster, other, "b1", ("Running", "Succeeded"), timeout=60)
        events = cluster.kubectl(
            "get", "events", "-n", namespace, "--field-selector", "reason=Preempted"
        ).stdout
        assert stopped["name"] in events
        terminal(cluster, namespace, ["a1", "a2"], 240)
        terminal(cluster, other, ["b1"], 120)
        again = get_vi(cluster, namespace, stopped["name"])["status"]
        assert again["phase"] == "Succeeded" and again["disruptions"] == 1, again
    finally:
        op.stop()
    assert_once_each(cluster, db, namespace, ["a1", "a2"], metered=["a1", "a2"])
    assert_once_each(cluster, db, other, ["b1"], metered=["b1"])
    cluster.core.delete_namespace(other)


def quick_flavor(name: str, seconds: float, rtf: float, **extra) -> dict:
    """A CPU flavor whose pods sleep; ``rtf`` sets which of two the scheduler prefers."""
    return {
        **QUICK["flavors"][0],
        "name": name,
        "command": ["sh", "-c", f"sleep {seconds}"],
        "rtf": rtf,
        **extra,
    }


def evict_running_pod(cluster, namespace: str, name: str) -> str:
    uid = get_vi(cluster, namespace, name)["metadata"]["uid"]

    def running() -> str | None:
        pods = cluster.core.list_namespaced_pod(
            CONFIG_NAMESPACE, label_selector=f"vystra.io/ingest-uid={uid}"
        ).items
        return next((p.metadata.name for p in pods if p.status.phase == "Running"), None)

    pod = cluster.wait_for(running, 60, f"a running pod of {name}")
    cluster.core.create_namespaced_pod_eviction(
        pod,
        CONFIG_NAMESPACE,
        client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=CONFIG_NAMESPACE)),
    )
    return pod


def test_an_ingest_reclaimed_too_often_on_spot_moves_to_on_demand(
    cluster, namespace, db, core_env, tmp_path
):
    """With max_disruptions 1, the first reclaim of a pod on the (preferred) spot flavor stops
    its Job and queues the ingest again; it runs on the on-demand flavor and succeeds."""
    flavors = [
        quick_flavor("spot", 60, 0.1, spot=True),
        quick_flavor("on-demand", 1, 0.5),
    ]
    env = {
        **core_env,
        "VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump({"flavors": flavors, "max_disruptions": 1}),
    }
    op = start_operator(cluster, db, tmp_path, env)
    try:
        create_vi(cluster, namespace, "reclaimed", source=own_object(namespace))
        running = wait_phase(cluster, namespace, "reclaimed", ("Running",), timeout=60)
        assert running["status"]["pool"] == "spot", running["status"]
        pod = evict_running_pod(cluster, namespace, "reclaimed")
        status = terminal(cluster, namespace, ["reclaimed"], 120)["reclaimed"]
        events = cluster.kubectl(
            "get", "events", "-n", namespace, "--field-selector", "reason=Disrupted"
        ).stdout
    finally:
        op.stop()
    assert status["phase"] == "Succeeded" and status["pool"] == "on-demand", status
    assert status["disruptions"] == 1 and status["lastDisruption"] == pod, status
    assert "leaves spot flavors" in events, events
    assert_once_each(cluster, db, namespace, ["reclaimed"], metered=["reclaimed"])


def test_a_job_whose_pod_cannot_be_scheduled_is_withdrawn(
    cluster, namespace, db, core_env, tmp_path
):
    """The preferred flavor selects nodes that do not exist: its pod stays Unschedulable, so
    after the timeout the Job is withdrawn, the resource says why, and the ingest runs on the
    other flavor while the first takes no new Job."""
    flavors = [
        quick_flavor("nowhere", 1, 0.1, node_selector={"vystra.io/pool": "absent"}),
        quick_flavor("cpu", 1, 0.5),
    ]
    env = {
        **core_env,
        "VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump(
            {"flavors": flavors, "unschedulable_seconds": 5}
        ),
    }
    op = start_operator(cluster, db, tmp_path, env)
    try:
        create_vi(cluster, namespace, "stuck", source=own_object(namespace))
        first = wait_phase(cluster, namespace, "stuck", ("Running",), timeout=60)
        assert first["status"]["pool"] == "nowhere", first["status"]
        status = terminal(cluster, namespace, ["stuck"], 120)["stuck"]
        events = cluster.kubectl(
            "get", "events", "-n", namespace, "--field-selector", "reason=Unschedulable"
        ).stdout
    finally:
        op.stop()
    assert status["phase"] == "Succeeded" and status["pool"] == "cpu", status
    assert "could not be scheduled on nowhere" in events, events
    assert_once_each(cluster, db, namespace, ["stuck"], metered=["stuck"])


def sleeping_gpu_flavor(name: str, pool: str, resource: str, rtf: float, **extra) -> dict:
    """A flavor on the dev cluster's ``pool`` nodes consuming ``resource``; its pods sleep."""
    return {
        **quick_gpu(seconds=30),
        "name": name,
        "node_selector": {"vystra.io/pool": pool},
        "resource": resource,
        "rtf": rtf,
        **extra,
    }


def test_two_gpu_products_and_mig_slices_are_flavors_of_their_own(
    cluster, namespace, db, core_env, tmp_path
):
    """H100 and L4 nodes (GPU Feature Discovery's product label) and a GPU cut into seven MIG
    slices, registered by the node agent: ten GPU ingests fill all ten slots, each Job on a
    node of its flavor's product, asking for its flavor's resource."""
    flavors = [
        sleeping_gpu_flavor(
            "h100", "gpu", "nvidia.com/gpu", 0.03, gpu_product="NVIDIA-H100-80GB-HBM3"
        ),
        sleeping_gpu_flavor("l4", "l4", "nvidia.com/gpu", 0.04, gpu_product="NVIDIA-L4"),
        sleeping_gpu_flavor("mig", "mig", "nvidia.com/mig-1g.10gb", 0.05, gpu_fraction=0.143),
    ]
    env = {**core_env, "VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump({"flavors": flavors})}
    op = start_operator(cluster, db, tmp_path, env)
    names = [f"g{i}" for i in range(10)]
    try:
        for name in names:
            create_vi(
                cluster,
                namespace,
                name,
                source=own_object(namespace),
                accelerator="gpu",
                durationHintSeconds=3600,
            )
        pools = {
            name: wait_phase(cluster, namespace, name, ("Running",), timeout=60)["status"]["pool"]
            for name in names
        }
        jobs = ingest_jobs(cluster, namespace)
    finally:
        op.stop()
    assert sorted(pools.values()) == ["h100"] * 2 + ["l4"] + ["mig"] * 7, pools
    products = {"h100": "NVIDIA-H100-80GB-HBM3", "l4": "NVIDIA-L4"}
    for job in jobs:
        flavor = job.metadata.labels["vystra.io/pool"]
        spec = job.spec.template.spec
        resource = "nvidia.com/mig-1g.10gb" if flavor == "mig" else "nvidia.com/gpu"
        assert spec.containers[0].resources.limits[resource] == "1"
        if flavor in products:
            assert spec.node_selector["nvidia.com/gpu.product"] == products[flavor]
        [pod] = cluster.core.list_namespaced_pod(
            CONFIG_NAMESPACE, label_selector=f"job-name={job.metadata.name}"
        ).items
        node = cluster.core.read_node(pod.spec.node_name)
        assert node.metadata.labels["vystra.io/pool"] == ("gpu" if flavor == "h100" else flavor)


def test_an_empty_autoscaled_flavor_gets_a_pending_pod_and_runs_once_a_node_comes(
    cluster, namespace, db, core_env, tmp_path
):
    """No node matches the autoscaled flavor: the ingest is admitted anyway (its pod pending,
    so an autoscaler would add a node), and runs on the node that then appears (here: an
    existing L4 node labelled as the new one)."""
    flavor = sleeping_gpu_flavor(
        "scaled",
        "l4",
        "nvidia.com/gpu",
        0.05,
        node_selector={"vystra.io/scaled": "true"},
        autoscaled=True,
        max_pending=1,
        scale_up_seconds=300,
        command=["sh", "-c", "sleep 1"],
    )
    env = {**core_env, "VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump({"flavors": [flavor]})}
    op = start_operator(cluster, db, tmp_path, env)
    node = "vystra-l4-0"
    try:
        create_vi(cluster, namespace, "scaled", source=own_object(namespace), accelerator="gpu")
        admitted = wait_phase(cluster, namespace, "scaled", ("Running",), timeout=60)
        assert "until the autoscaler adds a node" in admitted["status"]["message"], admitted
        uid = admitted["metadata"]["uid"]

        def pending() -> bool:
            pods = cluster.core.list_namespaced_pod(
                CONFIG_NAMESPACE, label_selector=f"vystra.io/ingest-uid={uid}"
            ).items
            return bool(pods) and all(p.status.phase == "Pending" for p in pods)

        cluster.wait_for(pending, 30, "a pending pod")
        time.sleep(3)  # it stays pending: no node has the flavor's labels
        assert pending()
        cluster.core.patch_node(node, {"metadata": {"labels": {"vystra.io/scaled": "true"}}})
        status = terminal(cluster, namespace, ["scaled"], 60)["scaled"]
        pods = cluster.core.list_namespaced_pod(
            CONFIG_NAMESPACE, label_selector=f"vystra.io/ingest-uid={uid}"
        ).items
    finally:
        cluster.core.patch_node(node, {"metadata": {"labels": {"vystra.io/scaled": None}}})
        op.stop()
    assert status["phase"] == "Succeeded", status
    assert [p.spec.node_name for p in pods] == [node]  # the one pod, on the new node


def test_where_provisioning_requests_are_served_an_autoscaled_flavor_books_its_pods(
    cluster, namespace, db, core_env, tmp_path
):
    """With the cluster autoscaler's ProvisioningRequest API installed, a Job on an autoscaled
    flavor comes with a ProvisioningRequest for a PodTemplate of its pod, both owned by the Job,
    and its pod consumes it. Acting as the autoscaler (the request Provisioned, a node with the
    flavor's labels), the ingest runs; the garbage collector removes both with the Job."""
    cluster.kubectl("apply", "--server-side", "-f", str(provisioning_request_crd()))
    cluster.wait_for_crd("provisioningrequests.autoscaling.x-k8s.io")
    group = ("autoscaling.x-k8s.io", "v1", CONFIG_NAMESPACE, "provisioningrequests")
    flavor = sleeping_gpu_flavor(
        "booked",
        "l4",
        "nvidia.com/gpu",
        0.05,
        node_selector={"vystra.io/booked": "true"},
        autoscaled=True,
        max_pending=1,
        command=["sh", "-c", "sleep 1"],
    )
    env = {**core_env, "VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump({"flavors": [flavor]})}
    op = start_operator(cluster, db, tmp_path, env)
    node = "vystra-l4-0"
    try:
        create_vi(cluster, namespace, "booked", source=own_object(namespace), accelerator="gpu")
        wait_phase(cluster, namespace, "booked", ("Running",), timeout=60)
        [job] = ingest_jobs(cluster, namespace)
        name = job.metadata.name

        def made() -> dict | None:
            try:
                return cluster.custom.get_namespaced_custom_object(*group, name)
            except client.exceptions.ApiException as exc:
                if exc.status == 404:
                    return None
                raise

        request = cluster.wait_for(made, 30, "the ProvisioningRequest")
        assert request["spec"] == {
            "provisioningClassName": "best-effort-atomic-scale-up.autoscaling.x-k8s.io",
            "podSets": [{"podTemplateRef": {"name": name}, "count": 1}],
        }
        template = cluster.core.read_namespaced_pod_template(name, CONFIG_NAMESPACE)
        pod_spec = template.template.spec
        assert pod_spec.node_selector == job.spec.template.spec.node_selector
        assert pod_spec.containers[0].resources.limits["nvidia.com/gpu"] == "1"
        for meta in (request["metadata"], template.metadata.to_dict()):
            owners = meta.get("ownerReferences") or meta.get("owner_references")
            assert [o["uid"] for o in owners] == [job.metadata.uid]
        annotations = job.spec.template.metadata.annotations
        assert annotations["autoscaling.x-k8s.io/consume-provisioning-request"] == name
        # the autoscaler's part: the capacity provisioned, a node with the flavor's labels
        request["status"] = {
            "conditions": [
                {
                    "type": "Provisioned",
                    "status": "True",
                    "reason": "Provisioned",
                    "message": "capacity is provisioned",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ]
        }
        cluster.custom.replace_namespaced_custom_object_status(*group, name, request)
        cluster.core.patch_node(node, {"metadata": {"labels": {"vystra.io/booked": "true"}}})
        status = terminal(cluster, namespace, ["booked"], 60)["booked"]
        assert status["phase"] == "Succeeded", status
        cluster.batch.delete_namespaced_job(name, CONFIG_NAMESPACE, propagation_policy="Background")
        cluster.wait_for_gone(
            lambda: cluster.core.read_namespaced_pod_template(name, CONFIG_NAMESPACE),
            60,
            "the PodTemplate, with its Job",
        )
    finally:
        cluster.core.patch_node(node, {"metadata": {"labels": {"vystra.io/booked": None}}})
        op.stop()
        cluster.kubectl("delete", "crd", "provisioningrequests.autoscaling.x-k8s.io")
