"""The worker Job for a VideoIngest, or for a batch of short ones, rendered as a dict.

A batch (the scheduler's, see scheduler.py) is several ingests of one namespace run in turn by
one pod, so the pod's start and model load are paid once: the Job is named and labelled after
the first, lists them all in ``vystra.io/ingest-uids``, and hands the worker each ingest's own
login and source URL.

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
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity

from vystra.k8s import (
    EXIT_INPUT_ERROR,
    WORKER_LOGINS_ENV,
    Caller,
    WorkerIngest,
    encode_ingests,
)
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
INGESTS_ANNOTATION = "vystra.io/ingest-uids"  # a batch's ingests, in the order they run
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
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


@dataclass(frozen=True)
class Member:
    """One ingest of a Job: its resource and what its worker may reach."""

    body: dict[str, Any]
    access: WorkerAccess
    caller: Caller = Caller()

    @property
    def spec(self) -> Spec:
        return Spec.from_body(self.body)

    def handed(self) -> WorkerIngest:
        """What the worker is told about this ingest."""
        meta, access, caller = self.body["metadata"], self.access, self.caller
        return WorkerIngest(
            name=meta["name"],
            uid=meta["uid"],
            spec=self.body["spec"],
            max_video_seconds=access.max_video_seconds,
            user=access.login.user,
            password=access.login.password,
            source_url=access.source_url,
            request_id=caller.request_id,
            traceparent=caller.traceparent,
        )


def _size(quantity: str) -> Decimal:
    try:
        return parse_quantity(quantity)
    except ValueError:  # kept as written: the API server refuses it, with its own message
        return Decimal("Infinity")


def _largest(specs: Sequence[dict[str, str]]) -> dict[str, str]:
    """Per resource, the largest quantity any ingest of the Job asks for."""
    out: dict[str, str] = {}
    for spec in specs:
        for name, value in spec.items():
            if name not in out or _size(value) > _size(out[name]):
                out[name] = value
    return out


def _resources(flavor: Flavor, specs: Sequence[Spec]) -> dict[str, Any]:
    # disk is bounded like memory: the scratch volume plus logs, unless the flavor or spec says
    requests = {
        "ephemeral-storage": "2Gi",
        **flavor.requests,
        **_largest([s.resources.requests for s in specs]),
    }
    limits = {
        "ephemeral-storage": SCRATCH_LIMIT,
        **flavor.limits,
        **_largest([s.resources.limits for s in specs]),
    }
    if flavor.resource is not None:  # extended resources: the request defaults to the limit
        limits[flavor.resource] = str(flavor.resource_count)
        requests.pop(flavor.resource, None)
    return {"requests": requests, "limits": limits}


def _access_env(
    members: Sequence[Member], logins: str, settings: OperatorSettings
) -> list[dict[str, Any]]:
    """Each ingest's own database login and source URL (access.py). Insights are left pending
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
        {"name": "DATABASE_URL", "value": members[0].access.database_url},
        {"name": WORKER_LOGINS_ENV, "value": logins},
        {"name": "VYSTRA_INSIGHTS_DEFERRED", "value": "true"},
        *([llm_key] if members[0].access.llm_key else []),
    ]


def render_job(
    members: Sequence[Member],
    pool: Flavor,
    settings: OperatorSettings,
    tenant: str,
    kueue_queue: str | None = None,
) -> dict[str, Any]:
    """The Job for one ingest, or for a batch of one namespace's short ingests run in turn.
    With ``kueue_queue`` it is made suspended, in that LocalQueue, for Kueue to admit."""
    body = members[0].body
    meta = body["metadata"]
    job_labels = labels(body, pool.name)
    kueue = {KUEUE_QUEUE_LABEL: kueue_queue} if kueue_queue else {}
    annotations = {TENANT_ANNOTATION: tenant}
    if len(members) > 1:
        annotations[INGESTS_ANNOTATION] = ",".join(m.body["metadata"]["uid"] for m in members)
    ingests, logins = encode_ingests([m.handed() for m in members])
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": SCRATCH}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    models_env: dict[str, str] = {}
    if pool.model_volume is not None:
        volumes.append({"name": "models", **pool.model_volume.source})
        mounts.append(
            {"name": "models", "mountPath": pool.model_volume.mount_path, "readOnly": True}
        )
        models_env = pool.model_volume.env()
    container = {
        "name": "worker",
        "image": pool.image,
        "imagePullPolicy": settings.image_pull_policy,
        **({"command": pool.command} if pool.command else {}),
        # the worker reads nothing from the Kubernetes API: what it runs comes from here
        "args": [
            *("--namespace", meta["namespace"]),
            *("--ingests", ingests),
        ],
        # the worker detects CUDA itself (device auto); a pool may still pin settings
        "env": [
            {"name": "VYSTRA_HOME", "value": "/tmp/vystra"},
            # the tenant as the platform bound the namespace, never as the resource claims
            {"name": "VYSTRA_TENANT", "value": tenant},
            # the worker reports its node in status itself: no operator write while it runs
            {"name": "VYSTRA_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            *_access_env(members, logins, settings),
            *({"name": k, "value": v} for k, v in {**models_env, **pool.env}.items()),
        ],
        "envFrom": [{"configMapRef": {"name": settings.worker_config_map, "optional": True}}],
        "resources": _resources(pool, [m.spec for m in members]),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
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
            "labels": {**job_labels, **kueue},
            "annotations": annotations,
            "finalizers": [FINALIZER],
        },
        "spec": {
            **({"suspend": True} if kueue_queue else {}),
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
                "metadata": {"labels": job_labels, "annotations": annotations},
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
                    "volumes": volumes,
                    "serviceAccountName": settings.worker_service_account,
                    **(
                        {"priorityClassName": pool.priority_class_name}
                        if pool.priority_class_name
                        else {}
                    ),
                    "nodeSelector": {"kubernetes.io/arch": "amd64", **pool.selector()},
                    "tolerations": pool.tolerations,
                    "containers": [container],
                },
            },
        },
    }
