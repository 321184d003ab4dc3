"""The dev cluster is real: the scheduler places pods by GPU resources and taints, the node
agent runs their commands, the controllers run Jobs, RBAC applies to pods, S3 speaks S3."""

from __future__ import annotations

import os
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from devcluster import DevCluster, S3Info
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .manifests import job, pod, pod_spec

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def _node_pool(cluster: DevCluster, node_name: str) -> str:
    return cluster.core.read_node(node_name).metadata.labels["vystra.io/pool"]


def _only_pod(cluster: DevCluster, namespace: str, job_name: str) -> client.V1Pod:
    pods = cluster.job_pods(namespace, job_name)
    assert len(pods) == 1, [p.metadata.name for p in pods]
    return pods[0]


def _wait_running(cluster: DevCluster, namespace: str, job_name: str) -> None:
    def running() -> bool:
        return any(p.status.phase == "Running" for p in cluster.job_pods(namespace, job_name))

    cluster.wait_for(running, 60, f"a running pod of job {job_name}")


def _release_gate(path: Path) -> list[str]:
    """A command that blocks until the test creates `path`."""
    return ["sh", "-c", f"while [ ! -e {path} ]; do sleep 0.2; done; echo released"]


def test_versions_are_the_pinned_release(cluster: DevCluster) -> None:
    result = cluster.kubectl("version", "-o", "json")
    assert '"gitVersion": "v1.34.4"' in result.stdout  # client
    assert client.VersionApi(cluster.api_client).get_code().git_version == "v1.34.4"


def test_nodes_are_the_configured_pools(cluster: DevCluster) -> None:
    nodes = {n.metadata.name: n for n in cluster.core.list_node().items}
    gpu = [n for n in nodes.values() if n.metadata.labels.get("vystra.io/pool") == "gpu"]
    cpu = [n for n in nodes.values() if n.metadata.labels.get("vystra.io/pool") == "cpu"]
    assert len(gpu) == 2 and len(cpu) == 2
    for node in gpu:
        assert node.status.allocatable["nvidia.com/gpu"] == "1"
        assert node.metadata.labels["kubernetes.io/arch"] == "amd64"
        assert [(t.key, t.effect) for t in node.spec.taints] == [("nvidia.com/gpu", "NoSchedule")]
    for node in cpu:
        assert "nvidia.com/gpu" not in node.status.allocatable
        assert not node.spec.taints


def test_node_leases_are_renewed(cluster: DevCluster) -> None:
    leases = client.CoordinationV1Api(cluster.api_client)

    def renew_times() -> dict[str, datetime]:
        items = leases.list_namespaced_lease("kube-node-lease").items
        return {lease.metadata.name: lease.spec.renew_time for lease in items}

    before = renew_times()
    assert set(before) == {n.metadata.name for n in cluster.core.list_node().items}
    # The agent renews every 10 s; the node lifecycle controller would taint it after 40 s.
    cluster.wait_for(
        lambda: all(renew_times()[name] > before[name] for name in before), 25, "lease renewals"
    )


def test_gpu_job_runs_its_command_on_a_gpu_node(
    cluster: DevCluster, namespace: str, tmp_path: Path
) -> None:
    out = tmp_path / "out.txt"
    spec = pod_spec(
        ["sh", "-c", 'echo "$NODE_NAME $POD_NAMESPACE" > "$OUT"'], env={"OUT": str(out)}, gpu=True
    )
    spec["containers"][0]["env"] += [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    cluster.batch.create_namespaced_job(namespace, job("gpu", spec))
    cluster.wait_for_job(namespace, "gpu")

    node = _only_pod(cluster, namespace, "gpu").spec.node_name
    assert _node_pool(cluster, node) == "gpu"
    assert out.read_text().split() == [node, namespace]


def test_job_without_gpu_runs_on_a_cpu_node_with_its_env(
    cluster: DevCluster, namespace: str, tmp_path: Path
) -> None:
    cluster.core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="settings"), data={"MODEL": "tiny.en", "LANG2": "en"}
        ),
    )
    cluster.core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"key": "s3cr3t"}),
    )
    out = tmp_path / "env.txt"
    spec = pod_spec(
        ["sh", "-c", 'echo "$MODEL $LANG2 $SECRET $GREETING" > "$OUT"'],
        env={"OUT": str(out), "GREETING": "hello-$(MODEL)"},
    )
    container = spec["containers"][0]
    container["envFrom"] = [{"configMapRef": {"name": "settings"}}]
    container["env"].append(
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "key"}}}
    )
    cluster.batch.create_namespaced_job(namespace, job("cpu", spec))
    cluster.wait_for_job(namespace, "cpu")

    assert _node_pool(cluster, _only_pod(cluster, namespace, "cpu").spec.node_name) == "cpu"
    assert out.read_text().split() == ["tiny.en", "en", "s3cr3t", "hello-tiny.en"]


def test_gpu_pod_stays_pending_until_a_gpu_frees(
    cluster: DevCluster, namespace: str, tmp_path: Path
) -> None:
    gates = {name: tmp_path / name for name in ("a", "b", "c")}
    for name in ("a", "b"):
        spec = pod_spec(_release_gate(gates[name]), gpu=True)
        cluster.batch.create_namespaced_job(namespace, job(f"gpu-{name}", spec))
    for name in ("a", "b"):
        _wait_running(cluster, namespace, f"gpu-{name}")
    spec = pod_spec(_release_gate(gates["c"]), gpu=True)
    cluster.batch.create_namespaced_job(namespace, job("gpu-c", spec))

    def unschedulable() -> bool:
        pods = cluster.job_pods(namespace, "gpu-c")
        conditions = pods[0].status.conditions or [] if pods else []
        return any(c.type == "PodScheduled" and c.reason == "Unschedulable" for c in conditions)

    cluster.wait_for(unschedulable, 30, "gpu-c to be reported unschedulable")
    time.sleep(2)  # still pending a moment later: nothing frees a GPU but the test
    waiting = _only_pod(cluster, namespace, "gpu-c")
    assert waiting.status.phase == "Pending" and not waiting.spec.node_name

    freed_node = _only_pod(cluster, namespace, "gpu-a").spec.node_name
    gates["a"].touch()
    cluster.wait_for_job(namespace, "gpu-a")
    _wait_running(cluster, namespace, "gpu-c")
    assert _only_pod(cluster, namespace, "gpu-c").spec.node_name == freed_node
    gates["b"].touch()
    gates["c"].touch()
    cluster.wait_for_job(namespace, "gpu-c")
    assert "released" in cluster.pod_log(
        namespace, _only_pod(cluster, namespace, "gpu-c").metadata.name
    )


def test_failing_command_fails_the_job_after_its_backoff_limit(
    cluster: DevCluster, namespace: str
) -> None:
    spec = pod_spec(["sh", "-c", "echo about to fail; exit 3"])
    cluster.batch.create_namespaced_job(namespace, job("fails", spec, backoff_limit=1))
    failed = cluster.wait_for_job(namespace, "fails", condition="Failed", timeout=120)

    reasons = {c.type: c.reason for c in failed.status.conditions}
    assert reasons["Failed"] == "BackoffLimitExceeded"
    pods = cluster.job_pods(namespace, "fails")
    assert len(pods) == 2
    for failed_pod in pods:
        assert failed_pod.status.phase == "Failed"
        terminated = failed_pod.status.container_statuses[0].state.terminated
        assert terminated.exit_code == 3 and terminated.reason == "Error"
        assert "about to fail" in cluster.pod_log(namespace, failed_pod.metadata.name)


def test_deleting_a_job_kills_its_process_and_collects_its_pods(
    cluster: DevCluster, namespace: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    # The sleep is a child of the shell: only killing the whole process group ends both.
    spec = pod_spec(["sh", "-c", f"sleep 600 & echo $! > {pid_file}; wait"])
    cluster.batch.create_namespaced_job(namespace, job("sleeper", spec))
    pid = cluster.wait_for(
        lambda: pid_file.exists() and pid_file.read_text().strip(), 30, "the sleeper to start"
    )
    pid = int(pid)
    assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep")

    cluster.batch.delete_namespaced_job("sleeper", namespace, propagation_policy="Background")

    def process_gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")

    cluster.wait_for(process_gone, 30, f"process {pid} to be killed")
    cluster.wait_for(
        lambda: not cluster.job_pods(namespace, "sleeper"),
        30,
        "the job's pods to be garbage-collected",
    )


def test_an_evicted_pod_reports_its_exit_status_and_its_job_replaces_it(
    cluster: DevCluster, namespace: str, tmp_path: Path
) -> None:
    """A SIGTERM'd container's status is the process's own (143 here, as a worker's is): its
    pod fails with DisruptionTarget, which the Job's pod failure policy ignores, so the Job runs
    a replacement instead of counting the evicted pod a success."""
    marker = tmp_path / "evicted-once"
    script = (
        f"if [ -e {marker} ]; then echo replacement; exit 0; fi; touch {marker};"
        " trap 'exit 143' TERM; sleep 600 & wait"
    )
    manifest = job("evictee", pod_spec(["sh", "-c", script]), backoff_limit=0)
    manifest["spec"]["podFailurePolicy"] = {
        "rules": [
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            }
        ]
    }
    manifest["spec"]["podReplacementPolicy"] = "Failed"
    cluster.batch.create_namespaced_job(namespace, manifest)
    _wait_running(cluster, namespace, "evictee")
    first = _only_pod(cluster, namespace, "evictee").metadata.name
    cluster.core.create_namespaced_pod_eviction(
        first,
        namespace,
        client.V1Eviction(metadata=client.V1ObjectMeta(name=first, namespace=namespace)),
    )
    done = cluster.wait_for_job(namespace, "evictee", timeout=120)
    assert done.status.succeeded == 1 and not done.status.failed  # ignored, not counted
    [replacement] = cluster.job_pods(namespace, "evictee")
    assert replacement.metadata.name != first
    assert cluster.pod_log(namespace, replacement.metadata.name).strip() == "replacement"


def test_on_failure_restarts_the_container_in_place(
    cluster: DevCluster, namespace: str, tmp_path: Path
) -> None:
    marker = tmp_path / "tried"
    # Fails on the first run, succeeds on the second: the kubelet restarts it in the same pod.
    command = ["sh", "-c", f"if [ -e {marker} ]; then echo second; else touch {marker}; exit 1; fi"]
    spec = pod_spec(command, restart_policy="OnFailure")
    cluster.batch.create_namespaced_job(namespace, job("flaky", spec, backoff_limit=3))
    cluster.wait_for_job(namespace, "flaky")

    status = _only_pod(cluster, namespace, "flaky").status.container_statuses[0]
    assert status.restart_count == 1
    assert status.last_state.terminated.exit_code == 1
    assert status.state.terminated.exit_code == 0


def test_init_containers_run_first(cluster: DevCluster, namespace: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    spec = pod_spec(["sh", "-c", f"cat {shared}"])
    spec["initContainers"] = [
        {"name": "prepare", "image": "busybox", "command": ["sh", "-c", f"echo ready > {shared}"]}
    ]
    cluster.core.create_namespaced_pod(namespace, pod("with-init", spec))
    done = cluster.wait_for_pod(namespace, "with-init")
    assert done.status.phase == "Succeeded"
    assert done.status.init_container_statuses[0].state.terminated.exit_code == 0
    assert cluster.pod_log(namespace, "with-init").strip() == "ready"


def test_pod_active_deadline_ends_it(cluster: DevCluster, namespace: str) -> None:
    spec = pod_spec(["sleep", "600"], activeDeadlineSeconds=2)
    cluster.core.create_namespaced_pod(namespace, pod("deadline", spec))
    ended = cluster.wait_for_pod(namespace, "deadline", timeout=30)
    assert ended.status.phase == "Failed" and ended.status.reason == "DeadlineExceeded"


RBAC_PROBE = """
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
config.load_kube_config()
core = client.CoreV1Api()
print("pods", len(core.list_namespaced_pod("{ns}").items))
try:
    core.list_namespaced_secret("{ns}")
    print("secrets allowed")
except ApiException as exc:
    print("secrets", exc.status)
"""


def test_pod_acts_as_its_service_account_under_rbac(cluster: DevCluster, namespace: str) -> None:
    cluster.core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
    )
    cluster.rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
    )
    cluster.rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "reader-reads-pods"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "pod-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
        },
    )
    spec = pod_spec(
        ["python", "-c", RBAC_PROBE.format(ns=namespace)],
        image="python:3.11",
        serviceAccountName="reader",
    )
    cluster.core.create_namespaced_pod(namespace, pod("probe", spec))
    done = cluster.wait_for_pod(namespace, "probe", timeout=60)

    output = cluster.pod_log(namespace, "probe")
    assert done.status.phase == "Succeeded", output
    assert "pods 1" in output and "secrets 403" in output, output


def test_kubectl_run_and_logs_go_through_the_node_agent(
    cluster: DevCluster, namespace: str
) -> None:
    # `kubectl run IMAGE -- ARGS` sets only args: they replace busybox's CMD (sh), as on Docker.
    cluster.kubectl(
        "run",
        "talker",
        "-n",
        namespace,
        "--image=busybox",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "echo line-one; echo line-two",
    )
    cluster.wait_for_pod(namespace, "talker")
    result = cluster.kubectl("logs", "-n", namespace, "talker")
    assert result.stdout.splitlines() == ["line-one", "line-two"]


def test_kubectl_logs_follow_ends_with_the_pod(cluster: DevCluster, namespace: str) -> None:
    spec = pod_spec(["sh", "-c", "echo first; sleep 2; echo second"])
    cluster.core.create_namespaced_pod(namespace, pod("slow-talker", spec))
    cluster.wait_for_pod(namespace, "slow-talker", phases=("Running", "Succeeded"))
    followed = cluster.kubectl("logs", "-f", "-n", namespace, "slow-talker", timeout=30)
    assert followed.stdout.splitlines() == ["first", "second"]
    tail = cluster.kubectl("logs", "--tail=1", "-n", namespace, "slow-talker")
    assert tail.stdout.splitlines() == ["second"]


def test_unmapped_image_leaves_the_pod_pending(cluster: DevCluster, namespace: str) -> None:
    cluster.core.create_namespaced_pod(
        namespace, pod("unknown", pod_spec(["true"], image="example.com/not-mapped:1"))
    )

    def waiting_reason() -> str | None:
        statuses = cluster.core.read_namespaced_pod("unknown", namespace).status.container_statuses
        waiting = statuses[0].state.waiting if statuses else None
        return waiting.reason if waiting else None

    assert cluster.wait_for(waiting_reason, 30, "a waiting reason") == "ErrImagePull"


def test_s3_presigned_put_and_get(s3: S3Info) -> None:
    s3_client = s3.client()
    key = f"uploads/{time.time_ns()}.bin"
    payload = os.urandom(64 * 1024)
    put_url = s3_client.generate_presigned_url(
        "put_object", Params={"Bucket": s3.bucket, "Key": key}, ExpiresIn=300
    )
    request = urllib.request.Request(put_url, data=payload, method="PUT")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    assert s3_client.head_object(Bucket=s3.bucket, Key=key)["ContentLength"] == len(payload)
    get_url = s3_client.generate_presigned_url(
        "get_object", Params={"Bucket": s3.bucket, "Key": key}, ExpiresIn=300
    )
    with urllib.request.urlopen(get_url, timeout=10) as response:
        assert response.read() == payload

    tampered = get_url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(tampered, timeout=10)
    assert denied.value.code == 403


def test_deleted_namespace_objects_are_really_gone(cluster: DevCluster) -> None:
    name = f"gone-{time.time_ns() % 100000}"
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    cluster.core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"), data={"a": "b"})
    )
    cluster.core.delete_namespace(name)
    cluster.wait_for_gone(lambda: cluster.core.read_namespace(name), 60, f"namespace {name}")
    with pytest.raises(ApiException) as missing:
        cluster.core.read_namespaced_config_map("x", name)
    assert missing.value.status == 404
