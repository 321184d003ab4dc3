"""Cluster mode: an ingest is a VideoIngest resource in the tenant's namespace.

The API only creates, reads and deletes resources; the operator schedules them and the worker
writes their status. Tenancy is the namespace (``tenant_namespace_prefix`` + tenant) plus the
``vystra.io/tenant`` label, and a resource whose label names another tenant is invisible.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from vystra import logs, tracing
from vystra.k8s import (
    GROUP,
    KIND,
    PLURAL,
    REQUEST_ID_ANNOTATION,
    TENANT_LABEL,
    TRACEPARENT_ANNOTATION,
    VERSION,
)
from vystra.settings import Settings
from vystra_api.backends import BackendError
from vystra_api.errors import ApiError
from vystra_api.models import IngestProgress, IngestPublic, IngestSpec, Segmenting, Visual

log = logging.getLogger(__name__)
RUN_LABEL = "vystra.io/reindex-run"

UPLOAD_ANNOTATION = "vystra.io/upload-id"
_SPEC_FIELDS = tuple(IngestSpec.model_fields)


def _spec_of(spec: dict[str, Any]) -> IngestSpec:
    """The known options of a resource's spec (one made with kubectl may carry more)."""
    known = {k: v for k, v in spec.items() if k in _SPEC_FIELDS and v not in (None, "")}
    for name, model in (("segmenting", Segmenting), ("visual", Visual)):
        if isinstance(known.get(name), dict):
            known[name] = {k: v for k, v in known[name].items() if k in model.model_fields}
    try:
        return IngestSpec.model_validate(known)
    except ValueError:  # written by hand outside our limits: show it, do not fail the read
        return IngestSpec.model_construct(**known)


def to_public(obj: dict[str, Any]) -> IngestPublic:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    progress = status.get("progress") or {}
    processed = float(progress.get("processedSeconds") or 0)
    duration = float(progress.get("durationSeconds") or 0)
    return IngestPublic(
        id=meta["name"],
        phase=status.get("phase") or "Pending",
        reason=status.get("reason"),
        message=status.get("message"),
        source=spec.get("source", ""),
        upload_id=(meta.get("annotations") or {}).get(UPLOAD_ANNOTATION),
        video_id=status.get("videoId"),
        progress=IngestProgress(
            processed_seconds=processed,
            duration_seconds=duration,
            segments=int(progress.get("segments") or 0),
            percent=round(min(100.0, 100 * processed / duration), 1) if duration else 0.0,
        ),
        attempts=int(status.get("attempts") or 0),
        spec=_spec_of(spec),
        created_at=meta.get("creationTimestamp"),
        started_at=status.get("startedAt"),
        finished_at=status.get("finishedAt"),
    )


class KubeBackend:
    kind = "cluster"

    def __init__(self, settings: Settings) -> None:
        from kubernetes import client, config

        if settings.kubeconfig:
            api_client = config.new_client_from_config(str(settings.kubeconfig))
        else:
            config.load_incluster_config()
            api_client = client.ApiClient()
        self.settings = settings
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.version = client.VersionApi(api_client)
        self.batch = client.BatchV1Api(api_client)
        self._namespaces: set[str] = set()
        self._lock = threading.Lock()

    def namespace(self, tenant: str) -> str:
        return f"{self.settings.tenant_namespace_prefix}{tenant}"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the Kubernetes API; its 5xx and connection errors become BackendError."""
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            if exc.status and exc.status < 500:
                raise
            raise BackendError(f"Kubernetes API error {exc.status}: {exc.reason}") from exc
        except Exception as exc:  # urllib3 connection errors and the like
            raise BackendError(f"Kubernetes API unreachable: {type(exc).__name__}") from exc

    def _ingests(self, method: str, namespace: str, *args: Any, **kwargs: Any) -> Any:
        """``CustomObjectsApi.<method>_namespaced_custom_object`` on VideoIngests."""
        fn = getattr(self.custom, f"{method}_namespaced_custom_object")
        return self._call(fn, GROUP, VERSION, namespace, PLURAL, *args, **kwargs)

    def _ensure_namespace(self, tenant: str) -> str:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        name = self.namespace(tenant)
        with self._lock:
            if name in self._namespaces:
                return name
        body = client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={TENANT_LABEL: tenant})
        )
        try:
            self._call(self.core.create_namespace, body)
        except ApiException as exc:
            if exc.status != 409:  # 409: it exists already
                raise BackendError(f"cannot create namespace {name}: {exc.reason}") from exc
        with self._lock:
            self._namespaces.add(name)
        return name

    def create(
        self,
        tenant: str,
        ingest_id: str,
        source: str,
        upload_id: str | None,
        spec: IngestSpec,
        *,
        max_video_seconds: float | None = None,
    ) -> IngestPublic:
        from kubernetes.client.exceptions import ApiException

        del max_video_seconds  # the operator reads the tenant's plan itself, for kubectl too
        namespace = self._ensure_namespace(tenant)
        metadata: dict[str, Any] = {
            "name": ingest_id,
            "namespace": namespace,
            "labels": {TENANT_LABEL: tenant},
        }
        annotations = {}
        if upload_id:
            annotations[UPLOAD_ANNOTATION] = upload_id
        if request_id := logs.request_id():  # the worker's records carry it too
            annotations[REQUEST_ID_ANNOTATION] = request_id
        if traceparent := tracing.traceparent():  # and its spans continue this request's
            annotations[TRACEPARENT_ANNOTATION] = traceparent
        if annotations:
            metadata["annotations"] = annotations
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "metadata": metadata,
            "spec": {"source": source, **spec.model_dump(mode="json", exclude_none=True)},
        }
        try:
            created = self._ingests(
                "create",
                namespace,
                body,
            )
        except ApiException as exc:  # the CRD's validation refused the spec
            raise ApiError(422, f"the VideoIngest was rejected: {_message(exc)}") from exc
        return to_public(created)

    def _read(self, tenant: str, ingest_id: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            obj = self._ingests(
                "get",
                self.namespace(tenant),
                ingest_id,
            )
        except ApiException as exc:
            if exc.status in (400, 404, 422):
                return None
            raise BackendError(f"Kubernetes API error {exc.status}: {exc.reason}") from exc
        return obj if _belongs(obj, tenant) else None

    def get(self, tenant: str, ingest_id: str) -> IngestPublic | None:
        obj = self._read(tenant, ingest_id)
        return to_public(obj) if obj else None

    def list(
        self, tenant: str, *, limit: int, cursor: str | None
    ) -> tuple[list[IngestPublic], str | None]:
        from kubernetes.client.exceptions import ApiException

        kwargs: dict[str, Any] = {"limit": limit}
        if cursor:
            kwargs["_continue"] = cursor
        try:
            found = self._ingests(
                "list",
                self.namespace(tenant),
                **kwargs,
            )
        except ApiException as exc:
            raise ApiError(400, "the cursor is invalid or has expired; list again") from exc
        items = [to_public(o) for o in found.get("items", []) if _belongs(o, tenant)]
        items.sort(key=lambda i: (i.created_at is None, i.created_at), reverse=True)
        return items, (found.get("metadata") or {}).get("continue") or None

    def delete(self, tenant: str, ingest_id: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        if self._read(tenant, ingest_id) is None:
            return False
        try:  # the operator's finalizer cancels the Job and honours spec.retain
            self._ingests(
                "delete",
                self.namespace(tenant),
                ingest_id,
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise BackendError(f"Kubernetes API error {exc.status}: {exc.reason}") from exc
        return True

    def counts_by_phase(self) -> dict[str, int]:
        found = self._call(
            self.custom.list_cluster_custom_object,
            GROUP,
            VERSION,
            PLURAL,
            label_selector=TENANT_LABEL,
        )
        counts: dict[str, int] = {}
        for obj in found.get("items", []):
            phase = (obj.get("status") or {}).get("phase") or "Pending"
            counts[phase] = counts.get(phase, 0) + 1
        return counts

    def active_count(self, tenant: str) -> int:
        # from the API server's watch cache (resourceVersion 0), not a quorum read of etcd:
        # every create asks, and a fair-use count may be a moment old
        found = self._ingests("list", self.namespace(tenant), resource_version="0")
        return sum(
            1
            for obj in found.get("items", [])
            if _belongs(obj, tenant)
            and (obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        )

    def check(self) -> None:
        self._call(self.version.get_code)

    def reindex(self, run_id: str) -> None:
        """A Job made from the chart's suspended re-index CronJob (its image, resources and the
        platform's database secret), told which run to carry out."""
        from kubernetes.client.exceptions import ApiException

        template = self.settings.reindex_job_template
        if not template:
            raise ApiError(501, "re-indexing needs VYSTRA_REINDEX_JOB_TEMPLATE (the chart sets it)")
        namespace, _, name = template.partition("/")
        try:
            cron = self._call(self.batch.read_namespaced_cron_job, name, namespace)
        except ApiException as exc:
            raise BackendError(f"cannot read CronJob {template}: {exc.reason}") from exc
        job = self.batch.api_client.sanitize_for_serialization(cron.spec.job_template)
        pod = job["spec"]["template"]["spec"]
        pod["containers"][0]["args"] = ["reindex", "--run", run_id, "-q"]
        job["metadata"] = {
            "name": f"{name}-{run_id[:8]}",
            "namespace": namespace,
            "labels": {**(job.get("metadata") or {}).get("labels", {}), RUN_LABEL: run_id},
        }
        job["apiVersion"], job["kind"] = "batch/v1", "Job"
        try:
            self._call(self.batch.create_namespaced_job, namespace, job)
        except ApiException as exc:
            raise BackendError(f"cannot create the re-index Job: {exc.reason}") from exc

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def _belongs(obj: dict[str, Any], tenant: str) -> bool:
    label = ((obj.get("metadata") or {}).get("labels") or {}).get(TENANT_LABEL)
    return label in (None, tenant)  # unlabelled: made with kubectl in the tenant's namespace


def _message(exc: Any) -> str:
    import json

    try:
        return str(json.loads(exc.body).get("message", exc.reason))
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)
