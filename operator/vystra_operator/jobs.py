"""The worker Job for a VideoIngest, rendered as a dict.

The name is a pure function of the resource (name + uid), so a restarted operator that
creates the same Job again gets 409 AlreadyExists instead of a duplicate.
"""

from __future__ import annotations

import hashlib
from typing import Any

from vystra.k8s import EXIT_INPUT_ERROR, GROUP, KIND, VERSION
from vystra_operator import MANAGED_BY
from vystra_operator.config import OperatorSettings, Pool

LABEL_INGEST = "vystra.io/ingest"
LABEL_UID = "vystra.io/ingest-uid"
LABEL_POOL = "vystra.io/pool"
SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY}"


def job_name(name: str, uid: str) -> str:
    suffix = hashlib.sha256(uid.encode()).hexdigest()[:8]
    return f"{name[: 63 - 11]}-vi-{suffix}".replace(".", "-")


def labels(body: dict[str, Any], pool: str) -> dict[str, str]:
    meta = body["metadata"]
    return {
        "app.kubernetes.io/name": "vystra-worker",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_INGEST: meta["name"][:63],
        LABEL_UID: meta["uid"],
        LABEL_POOL: pool,
    }


def _resources(pool: Pool, spec: dict[str, Any], gpu_resource: str) -> dict[str, Any]:
    overrides = spec.get("resources") or {}
    requests = {
        **pool.requests,
        **{k: str(v) for k, v in (overrides.get("requests") or {}).items()},
    }
    limits = {**pool.limits, **{k: str(v) for k, v in (overrides.get("limits") or {}).items()}}
    if pool.gpu:
        limits[gpu_resource] = "1"  # extended resources: the request defaults to the limit
    return {"requests": requests, "limits": limits}


def render_job(body: dict[str, Any], pool: Pool, settings: OperatorSettings) -> dict[str, Any]:
    meta, spec = body["metadata"], body.get("spec", {})
    job_labels = labels(body, pool.name)
    owner = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    container = {
        "name": "worker",
        "image": pool.image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": ["--namespace", meta["namespace"], "--name", meta["name"]],
        # the worker detects CUDA itself (device auto); a pool may still pin settings
        "env": [
            {"name": "VYSTRA_HOME", "value": "/tmp/vystra"},
            *({"name": k, "value": v} for k, v in pool.env.items()),
        ],
        "envFrom": [
            {"configMapRef": {"name": settings.worker_config_map, "optional": True}},
            {"secretRef": {"name": settings.worker_secret, "optional": True}},
        ],
        "resources": _resources(pool, spec, settings.gpu_resource),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(meta["name"], meta["uid"]),
            "namespace": meta["namespace"],
            "labels": job_labels,
            "ownerReferences": [owner],
        },
        "spec": {
            "backoffLimit": settings.backoff_limit,
            "activeDeadlineSeconds": settings.active_deadline_seconds,
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "podFailurePolicy": {
                "rules": [
                    {  # a bad video fails the Job at once instead of burning retries
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": "worker",
                            "operator": "In",
                            "values": [EXIT_INPUT_ERROR],
                        },
                    },
                    {  # evictions and preemptions do not count against backoffLimit
                        "action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                    },
                ]
            },
            "template": {
                "metadata": {"labels": job_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": settings.worker_service_account,
                    "nodeSelector": {"kubernetes.io/arch": "amd64", **pool.node_selector},
                    "tolerations": pool.tolerations,
                    "containers": [container],
                },
            },
        },
    }
