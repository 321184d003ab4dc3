"""``admission: kueue`` against Kueue itself: its controller manager built from its Go module
(v0.17.0) runs on the dev cluster (hack/devcluster/kueue.py). Vystra creates every Job at once,
suspended, in the LocalQueue; Kueue's quota alone decides what runs, and a Job Kueue holds back
shows as Queued with Kueue's reason."""

from __future__ import annotations

import uuid

import pytest
import yaml
from devcluster.kueue import Kueue

from .operator_env import (
    CONFIG_NAMESPACE,
    create_vi,
    get_vi,
    ingest_jobs,
    install_crd,
    prepare_config_namespace,
)
from .test_operator_core import assert_once_each, own_object, quick_gpu, start_operator, terminal


@pytest.fixture(scope="module")
def kueue(cluster, s3, tmp_path_factory):
    install_crd(cluster)
    prepare_config_namespace(cluster, s3)
    running = Kueue.start(cluster, tmp_path_factory.mktemp("kueue"), manage=[CONFIG_NAMESPACE])
    yield running
    running.stop()


def kueue_queues(name: str, gpus: int) -> str:
    """A ResourceFlavor for the dev cluster's GPU pool, a ClusterQueue with ``gpus`` of quota
    (the pool has two GPUs) and the LocalQueue of the Jobs' namespace."""
    quota = {
        "cpu": 8,
        "memory": "16Gi",
        "ephemeral-storage": "100Gi",
        "nvidia.com/gpu": gpus,
    }
    docs = [
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ResourceFlavor",
            "metadata": {"name": name},
            "spec": {"nodeLabels": {"vystra.io/pool": "gpu"}},
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ClusterQueue",
            "metadata": {"name": name},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": list(quota),
                        "flavors": [
                            {
                                "name": name,
                                "resources": [
                                    {"name": r, "nominalQuota": q} for r, q in quota.items()
                                ],
                            }
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "LocalQueue",
            "metadata": {"name": name, "namespace": CONFIG_NAMESPACE},
            "spec": {"clusterQueue": name},
        },
    ]
    return "---\n".join(yaml.safe_dump(d) for d in docs)


def test_kueue_decides_what_runs_and_its_reason_is_shown(cluster, namespace, db, kueue, tmp_path):
    queue = f"vystra-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("apply", "-f", "-", input=kueue_queues(queue, gpus=1))
    # each pod runs 20 s: long enough, on two loaded cores, to see the second one held back
    scheduling = {"admission": "kueue", "kueue_queue": queue, "flavors": [quick_gpu(seconds=20)]}
    op = start_operator(
        cluster, db, tmp_path, {"VYSTRA_OPERATOR_POOLS_YAML": yaml.safe_dump(scheduling)}
    )
    names = ["k1", "k2"]
    try:
        for name in names:  # long: never batched, each its own Job
            create_vi(
                cluster,
                namespace,
                name,
                source=own_object(namespace),
                accelerator="gpu",
                durationHintSeconds=3600,
            )
        # both Jobs at once, in the LocalQueue: Vystra's own GPU accounting (two free GPUs)
        # steps aside, and Kueue's quota of one GPU holds the second back
        jobs = cluster.wait_for(
            lambda: (j := ingest_jobs(cluster, namespace)) and len(j) == 2 and j,
            30,
            "both Jobs created",
        )
        assert {j.metadata.labels["kueue.x-k8s.io/queue-name"] for j in jobs} == {queue}

        def held() -> dict | None:
            for name in names:
                status = get_vi(cluster, namespace, name).get("status") or {}
                if status.get("phase") == "Queued" and status.get("reason") == "KueuePending":
                    return {"name": name, **status}
            return None

        waiting = cluster.wait_for(held, 60, "an ingest held back by Kueue")
        assert "insufficient unused quota for nvidia.com/gpu" in waiting["message"], waiting
        job = next(
            j
            for j in ingest_jobs(cluster, namespace)
            if j.metadata.labels["vystra.io/ingest"] == waiting["name"]
        )
        assert job.spec.suspend is True
        done = terminal(cluster, namespace, names, 180)
        assert {s["phase"] for s in done.values()} == {"Succeeded"}, done
        workloads = cluster.custom.list_namespaced_custom_object(
            "kueue.x-k8s.io", "v1beta2", CONFIG_NAMESPACE, "workloads"
        )["items"]
        ours = {j.metadata.uid for j in jobs}
        owners = [{r["uid"] for r in w["metadata"].get("ownerReferences", [])} for w in workloads]
        assert sum(1 for o in owners if o & ours) == 2  # each Job went through its own Workload
    finally:
        op.stop()
        cluster.kubectl("delete", "-f", "-", "--wait=false", input=kueue_queues(queue, 1))
    assert_once_each(cluster, db, namespace, names, metered=names)
