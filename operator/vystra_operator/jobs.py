"""The worker Job for a VideoIngest, rendered as a dict.

The name is a pure function of the resource (name + uid), so a restarted operator that
creates the same Job again gets 409 AlreadyExists instead of a duplicate.

The Job carries the finalizer ``vystra.io/outcome``, set in the create itself (no extra write):
whoever deletes it (its TTL, the garbage collector after the VideoIngest is deleted, a person),
the Job stays readable until the operator has recorded its outcome, or, with the VideoIngest
gone, stopped its pods and removed the video's data. Outcomes and clean-ups therefore survive
any operator or database outage.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vystra.k8s import EXIT_INPUT_ERROR
from vystra.videoingest import Spec
from vystra_operator import MANAGED_BY
from vystra_operator.access import WorkerAccess
from vystra_operator.config import OperatorSettings
from vystra_operator.flavors import Flavor

LABEL_INGEST = "vystra.io/ingest"
LABEL_NAMESPACE = "vystra.io/ingest-namespace"
LABEL_UID = "vystra.io/ingest-uid"
LABEL_POOL = "vystra.io/pool"
FINALIZER = "vystra.io/outcome"
TENANT_ANNOTATION = "vystra.io/tenant"
SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY}"
# the worker's /tmp: the downloaded source (VYSTRA_MAX_DOWNLOAD_BYTES, 20 GiB) and caches
SCRATCH = "20Gi"
SCRATCH_LIMIT = "21Gi"  # the scratch volume plus the container's logs


def job_name(name: str, uid: str) -> str:
    suffix = hashlib.sha256(uid.encode()).hexdigest()[:8]
    return f"{name[: 63 - 11]}-vi-{suffix}".replace(".", "-")


def labels(body: dict[str, Any], pool: str) -> dict[str, str]:
    meta = body["metadata"]
    return {
        "app.kubernetes.io/name": "vystra-worker",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_INGEST: meta["name"][:63],
        LABEL_NAMESPACE: meta["namespace"],
        LABEL_UID: meta["uid"],
        LABEL_POOL: pool,
    }


def _resources(flavor: Flavor, spec: Spec) -> dict[str, Any]:
    # disk is bounded like memory: the scratch volume plus logs, unless the flavor or spec says
    requests = {"ephemeral-storage": "2Gi", **flavor.requests, **spec.resources.requests}
    limits = {"ephemeral-storage": SCRATCH_LIMIT, **flavor.limits, **spec.resources.limits}
    if flavor.resource is not None:  # extended resources: the request defaults to the limit
        limits[flavor.resource] = str(flavor.resource_count)
        requests.pop(flavor.resource, None)
    return {"requests": requests, "limits": limits}


def _access_env(access: WorkerAccess, settings: OperatorSettings) -> list[dict[str, Any]]:
    """The ingest's own database login and source URL (access.py). Insights are left pending
    for the API, which holds the LLM key; of the platform's Secret a worker reads that key
    only when the platform transcribes with Groq, whose key has no narrower form."""
    llm_key = {
        "name": "GROQ_API_KEY",
        "valueFrom": {
            "secretKeyRef": {
                "name": settings.worker_secret,
                "key": "GROQ_API_KEY",
                "optional": True,
            }
        },
    }
    return [
        {"name": "DATABASE_URL", "value": access.database_url},
        {"name": "PGUSER", "value": access.login.user},
        {"name": "PGPASSWORD", "value": access.login.password},
        *(
            [{"name": "VYSTRA_PRESIGNED_SOURCE_URL", "value": access.source_url}]
            if access.source_url
            else []
        ),
        {"name": "VYSTRA_INSIGHTS_DEFERRED", "value": "true"},
        *([llm_key] if access.llm_key else []),
    ]


def render_job(
    body: dict[str, Any],
    pool: Flavor,
    settings: OperatorSettings,
    tenant: str,
    access: WorkerAccess,
) -> dict[str, Any]:
    meta, spec = body["metadata"], Spec.from_body(body)
    job_labels = labels(body, pool.name)
    container = {
        "name": "worker",
        "image": pool.image,
        "imagePullPolicy": settings.image_pull_policy,
        **({"command": pool.command} if pool.command else {}),
        # the worker reads nothing from the Kubernetes API: what it runs comes from here
        "args": [
            *("--namespace", meta["namespace"], "--name", meta["name"], "--uid", meta["uid"]),
            *("--spec", json.dumps(body["spec"], separators=(",", ":"), sort_keys=True)),
            *(
                ("--max-video-seconds", f"{access.max_video_seconds:g}")
                if access.max_video_seconds is not None
                else ()
            ),
        ],
        # the worker detects CUDA itself (device auto); a pool may still pin settings
        "env": [
            {"name": "VYSTRA_HOME", "value": "/tmp/vystra"},
            # the tenant as the platform bound the namespace, never as the resource claims
            {"name": "VYSTRA_TENANT", "value": tenant},
            # the worker reports its node in status itself: no operator write while it runs
            {"name": "VYSTRA_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            *_access_env(access, settings),
            *({"name": k, "value": v} for k, v in pool.env.items()),
        ],
        "envFrom": [{"configMapRef": {"name": settings.worker_config_map, "optional": True}}],
        "resources": _resources(pool, spec),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(meta["name"], meta["uid"]),
            # the platform's namespace: the worker's configuration and credentials never
            # enter a tenant's namespace (no owner reference across namespaces: the operator
            # deletes the Job when its VideoIngest goes)
            "namespace": settings.jobs_location(),
            "labels": job_labels,
            "annotations": {
                TENANT_ANNOTATION: tenant,
            },
            "finalizers": [FINALIZER],
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
                    "automountServiceAccountToken": False,  # it reports through its login
                    "securityContext": {  # Pod Security Standards: restricted
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": SCRATCH}}],
                    "serviceAccountName": settings.worker_service_account,
                    "nodeSelector": {"kubernetes.io/arch": "amd64", **pool.selector()},
                    "tolerations": pool.tolerations,
                    "containers": [container],
                },
            },
        },
    }
