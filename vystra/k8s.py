"""What the API, the operator and the worker share about the VideoIngest resource."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vystra.logs import valid_request_id
from vystra.tracing import valid_traceparent
from vystra.videoingest import GROUP, KIND, PLURAL, VERSION, progress

__all__ = ["GROUP", "KIND", "PLURAL", "VERSION", "progress", "load_kube_config"]

# on a namespace: the tenant it belongs to, set by the platform (the API or `vystra tenants`);
# the operator and the chart's admission policy read it, never a label on the resource itself
TENANT_LABEL = "vystra.io/tenant"

EXIT_INPUT_ERROR = 3  # the worker's exit code for bad input: retrying cannot help
WORKER_LOGINS_ENV = "VYSTRA_WORKER_LOGINS"

# the API request that made a VideoIngest (its X-Request-ID), carried to the worker's logs
REQUEST_ID_ANNOTATION = "vystra.io/request-id"
TRACEPARENT_ANNOTATION = "vystra.io/traceparent"  # the API request's span (vystra.tracing)


@dataclass(frozen=True)
class Caller:
    """The API request that made a VideoIngest, from its annotations. A kubectl user sets
    anything there, so each is checked like the header it came from, or dropped."""

    request_id: str | None = None
    traceparent: str | None = None

    @classmethod
    def of(cls, metadata: dict[str, Any]) -> Caller:
        annotations = metadata.get("annotations") or {}
        return cls(
            valid_request_id(annotations.get(REQUEST_ID_ANNOTATION)),
            valid_traceparent(annotations.get(TRACEPARENT_ANNOTATION)),
        )


@dataclass(frozen=True)
class WorkerIngest:
    """One ingest of a worker Job, as the operator hands it over (``--ingests``, a JSON list
    in the order the worker runs them), with its access (``VYSTRA_WORKER_LOGINS``, a JSON list
    in the same order: secrets stay out of the command line)."""

    name: str
    uid: str
    spec: dict[str, Any]  # as admitted
    max_video_seconds: float | None = None  # the tenant's plan limit
    user: str | None = None  # its own database login; None: the settings' (a local run)
    password: str | None = None
    source_url: str | None = None  # the presigned GET of an object source
    request_id: str | None = None  # the API request that made the VideoIngest, for the logs
    traceparent: str | None = None  # its span, which the worker's spans continue


def encode_ingests(ingests: list[WorkerIngest]) -> tuple[str, str]:
    """The ``--ingests`` argument and the ``VYSTRA_WORKER_LOGINS`` value."""
    args = [
        {"name": i.name, "uid": i.uid, "spec": i.spec}
        | ({"maxVideoSeconds": i.max_video_seconds} if i.max_video_seconds is not None else {})
        | ({"requestId": i.request_id} if i.request_id else {})
        | ({"traceparent": i.traceparent} if i.traceparent else {})
        for i in ingests
    ]
    logins = [
        {"user": i.user, "password": i.password}
        | ({"sourceUrl": i.source_url} if i.source_url else {})
        for i in ingests
    ]
    return _compact(args), _compact(logins)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def decode_ingests(argument: str, logins: str | None) -> list[WorkerIngest]:
    items, access = json.loads(argument), json.loads(logins or "[]")
    if not isinstance(items, list) or not items:
        raise ValueError("--ingests must be a non-empty JSON list")
    if access and len(access) != len(items):
        raise ValueError(f"{WORKER_LOGINS_ENV} must hold one login per ingest")
    out = []
    for n, item in enumerate(items):
        login = access[n] if access else {}
        limit = item.get("maxVideoSeconds")
        out.append(
            WorkerIngest(
                name=str(item["name"]),
                uid=str(item["uid"]),
                spec=item["spec"],
                max_video_seconds=float(limit) if limit is not None else None,
                user=login.get("user"),
                password=login.get("password"),
                source_url=login.get("sourceUrl"),
                request_id=valid_request_id(item.get("requestId")),
                traceparent=valid_traceparent(item.get("traceparent")),
            )
        )
    return out


def load_kube_config() -> None:
    """In a pod, the service account; elsewhere KUBECONFIG or ~/.kube/config."""
    from kubernetes import config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
