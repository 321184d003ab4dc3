"""The reconcile loop: one level-based pass over every VideoIngest, its Job and the pools.

Each pass lists the current state from the API server and acts on it; nothing is kept in
memory between passes. A restarted operator therefore picks up exactly where the cluster is:
Job names are deterministic (a second create answers 409), status patches are idempotent, and
a Job that finished while no operator was watching is still seen finished on the next pass.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vystra.billing.usage import record_videoingest
from vystra.db import Database, open_database
from vystra.k8s import GROUP, KIND, PLURAL, VERSION
from vystra.settings import get_settings
from vystra_operator import metrics
from vystra_operator.config import OperatorSettings, Pool
from vystra_operator.jobs import LABEL_POOL, LABEL_UID, SELECTOR, render_job
from vystra_operator.placement import Candidate, Capacity, Decision, Speeds, place
from vystra_operator.status import now, set_condition
from vystra_operator.workeraccess import WorkerAccess

log = logging.getLogger("vystra.operator")

TERMINAL = ("Succeeded", "Failed")
WRITERS = 16  # concurrent API writes per pass: 500 new resources admitted in about a second
# reasons the operator writes; any other reason in status came from the worker
OPERATOR_REASONS = {"Created", "JobCreated", "WaitingForGPU", "WaitingForCPU", "JobRecreated"}


@dataclass
class Snapshot:
    ingests: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    pods: list[dict[str, Any]]
    gpu_capacity: int


def _parse_time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _raw(response: Any) -> bytes:
    """The body of a ``_preload_content=False`` call. Reading it is not enough: urllib3 keeps
    such a connection out of the pool until it is released, and a new connection per request
    means a TLS handshake per request."""
    try:
        return response.data
    finally:
        response.release_conn()


def _items(response: Any) -> list[dict[str, Any]]:
    return json.loads(_raw(response))["items"]


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


def _job_finished(job: dict[str, Any]) -> str | None:
    for cond in job.get("status", {}).get("conditions") or []:
        if cond["status"] == "True" and cond["type"] in ("Complete", "Failed"):
            return cond["type"]
    return None


class Reconciler:
    def __init__(self, settings: OperatorSettings, api_client: client.ApiClient | None = None):
        if api_client is None:
            # one kept-alive connection per writer thread: the default pool (5 per core)
            # drops the extra ones, and a TLS handshake per request costs more than the request
            config = client.Configuration.get_default_copy()
            config.connection_pool_maxsize = 2 * WRITERS + 4
            api_client = client.ApiClient(config)
        self.settings = settings
        self.pools: dict[str, Pool] = {p.name: p for p in settings.pools()}
        self.custom = client.CustomObjectsApi(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.identity = socket.gethostname()
        self.worker_access = WorkerAccess(settings, api_client)
        self._db: Database | None = None
        self._db_lock = threading.Lock()
        self.job_writers = ThreadPoolExecutor(WRITERS, thread_name_prefix="jobs")
        self.status_writers = ThreadPoolExecutor(WRITERS, thread_name_prefix="status")
        self._pending: Counter[str] = Counter()  # uids with status writes in flight
        self._pending_lock = threading.Lock()
        gpu_pools = [p for p in self.pools.values() if p.gpu]
        cpu_pools = [p for p in self.pools.values() if not p.gpu]
        self.gpu_pool = gpu_pools[0] if gpu_pools else None
        self.cpu_pool = cpu_pools[0] if cpu_pools else None
        self.speeds = Speeds(
            gpu_rtf=self.gpu_pool.rtf if self.gpu_pool else 1.0,
            cpu_rtf=self.cpu_pool.rtf if self.cpu_pool else 1.0,
            overhead=settings.job_overhead_seconds,
            typical_duration=settings.default_duration_seconds,
        )

    # -- reading -----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        # Jobs before VideoIngests: a worker writes its failure reason before it exits, so a
        # Job seen failed here has that reason in the VideoIngest read after it.
        # Plain JSON, not client models: building models for hundreds of pods costs more
        # than the whole rest of a pass.
        raw = {"_preload_content": False}
        ns = self.settings.namespace
        if ns:
            jobs = self.batch.list_namespaced_job(ns, label_selector=SELECTOR, **raw)
            pods = self.core.list_namespaced_pod(ns, label_selector=SELECTOR, **raw)
            ingests = self.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, **raw)
        else:
            jobs = self.batch.list_job_for_all_namespaces(label_selector=SELECTOR, **raw)
            pods = self.core.list_pod_for_all_namespaces(label_selector=SELECTOR, **raw)
            ingests = self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **raw)
        return Snapshot(_items(ingests), _items(jobs), _items(pods), self.gpu_capacity())

    def gpu_capacity(self) -> int:
        """GPUs allocatable on Ready, schedulable nodes of the GPU pool."""
        if self.gpu_pool is None:
            return 0
        selector = ",".join(f"{k}={v}" for k, v in self.gpu_pool.node_selector.items())
        total = 0
        for node in self.core.list_node(label_selector=selector or None).items:
            ready = any(
                c.type == "Ready" and c.status == "True" for c in node.status.conditions or []
            )
            if ready and not node.spec.unschedulable:
                total += int((node.status.allocatable or {}).get(self.settings.gpu_resource, 0))
        return total

    # -- the pass ----------------------------------------------------------------------------

    def cycle(self) -> None:
        started = time.monotonic()
        snap = self.snapshot()
        listed = time.monotonic()
        jobs = {_labels(j).get(LABEL_UID, ""): j for j in snap.jobs}
        pods_by_uid: dict[str, list[dict[str, Any]]] = {}
        for pod in snap.pods:
            pods_by_uid.setdefault(_labels(pod).get(LABEL_UID, ""), []).append(pod)
        running = {"gpu": 0, "cpu": 0}
        for child in snap.jobs:
            if _job_finished(child) is None:
                job_pool = self.pools.get(_labels(child).get(LABEL_POOL, ""))
                running["gpu" if job_pool and job_pool.gpu else "cpu"] += 1

        writes: list[tuple[str, Callable[[], None]]] = []
        waiting: dict[str, tuple[dict[str, Any], Candidate]] = {}
        with self._pending_lock:
            pending = set(self._pending)
        for body in snap.ingests:
            meta, status = body["metadata"], body.get("status") or {}
            if meta.get("deletionTimestamp") or status.get("phase") in TERMINAL:
                continue
            job = jobs.get(meta["uid"])
            if job is not None:
                if meta["uid"] not in pending:  # else the next pass syncs it
                    pods = pods_by_uid.get(meta["uid"], [])
                    writes.append((meta["uid"], partial(self.sync_with_job, body, job, pods)))
                continue
            spec = body.get("spec") or {}
            key = f"{meta['namespace']}/{meta['name']}"
            waiting[key] = (
                body,
                Candidate(
                    key=key,
                    accelerator=spec.get("accelerator", "auto"),
                    priority=int(spec.get("priority", 0)),
                    created=_parse_time(meta.get("creationTimestamp")),
                    duration=float(
                        spec.get("durationHintSeconds") or self.settings.default_duration_seconds
                    ),
                ),
            )

        cpu_slots = self.cpu_pool.max_concurrent if self.cpu_pool else 0
        capacity = Capacity(
            gpu_free=max(0, snap.gpu_capacity - running["gpu"]),
            gpu_total=snap.gpu_capacity,
            cpu_free=max(0, cpu_slots - running["cpu"]),
        )
        decisions = place([c for _, c in waiting.values()], capacity, self.speeds)
        queued = {"gpu": 0, "cpu": 0}
        admitted: list[tuple[dict[str, Any], Pool, Decision]] = []
        for key, (body, _) in waiting.items():
            decision = decisions[key]
            if decision.pool is None:
                queued["cpu" if decision.reason == "WaitingForCPU" else "gpu"] += 1
                # a resource whose last write is in flight still counts in the order above,
                # so priorities hold; it is only not written twice
                if body["metadata"]["uid"] not in pending:
                    writes.append(
                        (body["metadata"]["uid"], partial(self.mark_queued, body, decision))
                    )
            else:
                admitted.append((body, self.pools_for(decision.pool), decision))
                running[decision.pool] += 1
        # Decisions are final for this pass and their API writes independent of each other.
        # Jobs are created first, all of them, and the pass waits for them: the next pass must
        # see them. Status and Events follow in the background, so the next pass (and its
        # Jobs) need not wait for this one's bookkeeping.
        calls = [partial(self.create_job, body, pool) for body, pool, _ in admitted]
        names = [f.result() for f in [self.job_writers.submit(c) for c in calls]]
        writes += [
            (body["metadata"]["uid"], partial(self.record_admission, body, pool, decision, name))
            for (body, pool, decision), name in zip(admitted, names, strict=True)
        ]
        for uid, write in writes:
            self._defer(uid, write)
        if admitted:
            log.info(
                "pass: %d ingests, %d waiting, %d queued; listed in %.2fs, %d Jobs in %.2fs",
                len(snap.ingests),
                len(waiting),
                sum(queued.values()),
                listed - started,
                len(admitted),
                time.monotonic() - listed,
            )
        for kind in ("gpu", "cpu"):
            metrics.QUEUE_DEPTH.labels(kind).set(queued[kind])
            metrics.RUNNING.labels(kind).set(running[kind])
        metrics.GPU_CAPACITY.set(snap.gpu_capacity)

    def database(self) -> Database:
        """Opened on first use: metering and clean-up need it, placement does not."""
        with self._db_lock:
            if self._db is None:
                self._db = open_database(get_settings(), max_size=4)
            return self._db

    def _defer(self, uid: str, write: Callable[[], None]) -> None:
        """Run a status write in the background; the resource sits out passes meanwhile."""
        with self._pending_lock:
            self._pending[uid] += 1

        def run() -> None:
            try:
                write()
            except Exception:
                metrics.RECONCILES.labels("error").inc()
                log.exception("status write failed; the next pass retries it")
            finally:
                with self._pending_lock:
                    self._pending[uid] -= 1
                    if self._pending[uid] <= 0:
                        del self._pending[uid]

        self.status_writers.submit(run)

    def pools_for(self, kind: str) -> Pool:
        pool = self.gpu_pool if kind == "gpu" else self.cpu_pool
        assert pool is not None  # placement only chooses pools that exist
        return pool

    # -- transitions -------------------------------------------------------------------------

    def create_job(self, body: dict[str, Any], pool: Pool) -> str:
        meta = body["metadata"]
        job = render_job(body, pool, self.settings)
        self.worker_access.ensure(meta["namespace"])
        try:
            _raw(self.batch.create_namespaced_job(meta["namespace"], job, _preload_content=False))
            metrics.JOBS_CREATED.labels(pool.name).inc()
        except ApiException as exc:
            if exc.status != 409:  # 409: created by an earlier pass or operator instance
                raise
        return job["metadata"]["name"]

    def record_admission(
        self, body: dict[str, Any], pool: Pool, decision: Decision, job_name: str
    ) -> None:
        meta, status = body["metadata"], body.get("status") or {}
        recreated = status.get("phase") == "Running"  # its Job vanished (deleted by hand)
        reason = "JobRecreated" if recreated else "JobCreated"
        message = f"Job {job_name} on the {pool.name} pool: {decision.message}"
        wait = (datetime.now(UTC) - _parse_time(meta.get("creationTimestamp"))).total_seconds()
        if not recreated:
            metrics.ADMISSION_WAIT.observe(max(0.0, wait))
        self.patch_status(
            body,
            {
                "phase": "Running",
                "reason": reason,
                "message": message,
                "pool": pool.name,
                "jobName": job_name,
                "startedAt": status.get("startedAt") or now(),
                "conditions": self._conditions(body, "Admitted", True, reason, message),
            },
        )
        self.event(body, "Normal", "Admitted", message)

    def mark_queued(self, body: dict[str, Any], decision: Decision) -> None:
        status = body.get("status") or {}
        if status.get("phase") == "Queued" and status.get("message") == decision.message:
            return
        first = status.get("phase") != "Queued"
        self.patch_status(
            body,
            {
                "phase": "Queued",
                "reason": decision.reason,
                "message": decision.message,
                "queuedAt": status.get("queuedAt") or now(),
                "conditions": self._conditions(
                    body, "Admitted", False, decision.reason, decision.message
                ),
            },
        )
        if first:
            self.event(body, "Normal", "Queued", decision.message)

    def sync_with_job(
        self, body: dict[str, Any], job: dict[str, Any], pods: list[dict[str, Any]]
    ) -> None:
        status = body.get("status") or {}
        js = job.get("status") or {}
        attempts = js.get("active", 0) + js.get("failed", 0) + js.get("succeeded", 0)
        latest = max(pods, key=lambda p: p["metadata"]["creationTimestamp"], default=None)
        node = (latest or {}).get("spec", {}).get("nodeName")
        finished = _job_finished(job)
        pool = _labels(job).get(LABEL_POOL, "")
        patch: dict[str, Any] = {}
        if attempts != status.get("attempts"):
            patch["attempts"] = attempts
        if node and node != status.get("node"):
            patch["node"] = node
        if status.get("phase") != "Running" and finished is None:
            patch.update(phase="Running", pool=pool, jobName=job["metadata"]["name"])
        if finished == "Complete":
            # metered before the status patch: if this write fails the resource stays
            # Running and the next pass meters it; once recorded, a repeat is a no-op
            with self.database().connect() as conn:
                record_videoingest(conn, body)
            progress = status.get("progress") or {}
            message = f"{progress.get('segments', 0)} segments indexed"
            patch.update(
                phase="Succeeded",
                reason="Completed",
                message=message,
                finishedAt=now(),
                conditions=self._conditions(body, "Succeeded", True, "Completed", message),
            )
            self.finish(body, job, pool, "Succeeded", "Completed", message, patch)
        elif finished == "Failed":
            reason, message = self._failure(status, job)
            patch.update(
                phase="Failed",
                reason=reason,
                message=message,
                finishedAt=now(),
                conditions=self._conditions(body, "Failed", True, reason, message),
            )
            metrics.FAILURES.labels(reason).inc()
            self.finish(body, job, pool, "Failed", reason, message, patch)
        elif patch:
            if attempts > 1 and "attempts" in patch:
                patch["message"] = f"retrying after a failed pod: attempt {attempts}"
            self.patch_status(body, patch)

    def finish(self, body, job, pool, phase, reason, message, patch) -> None:
        self.patch_status(body, patch)
        self.event(body, "Normal" if phase == "Succeeded" else "Warning", reason, message)
        started = _parse_time(job["metadata"].get("creationTimestamp"))
        elapsed = (datetime.now(UTC) - started).total_seconds()
        metrics.JOB_DURATION.labels(pool, phase).observe(max(0.0, elapsed))

    @staticmethod
    def _failure(status: dict[str, Any], job: dict[str, Any]) -> tuple[str, str]:
        """The worker's own reason (e.g. NoAudioTrack) if it wrote one, else the Job's."""
        if status.get("reason") and status["reason"] not in OPERATOR_REASONS:
            return status["reason"], status.get("message") or status["reason"]
        for cond in job.get("status", {}).get("conditions") or []:
            if cond["type"] == "Failed" and cond["status"] == "True":
                return cond.get("reason") or "JobFailed", cond.get("message") or "Job failed"
        return "JobFailed", "the worker Job failed"

    def _conditions(self, body, type_: str, value: bool, reason: str, message: str):
        status = body.get("status") or {}
        return set_condition(
            status.get("conditions"),
            type_,
            value,
            reason,
            message,
            body["metadata"].get("generation"),
        )

    # -- writes ------------------------------------------------------------------------------

    def patch_status(self, body: dict[str, Any], status: dict[str, Any]) -> None:
        meta = body["metadata"]
        status = {**status, "observedGeneration": meta.get("generation")}
        try:
            _raw(
                self.custom.patch_namespaced_custom_object_status(
                    GROUP,
                    VERSION,
                    meta["namespace"],
                    PLURAL,
                    meta["name"],
                    {"status": status},
                    _preload_content=False,  # the answer is not needed: skip parsing it
                )
            )
        except ApiException as exc:
            if exc.status != 404:  # deleted meanwhile: nothing to report on
                raise
        body.setdefault("status", {}).update(status)

    def event(self, body: dict[str, Any], type_: str, reason: str, message: str) -> None:
        meta = body["metadata"]
        stamp = now()
        try:
            _raw(
                self.core.create_namespaced_event(
                    meta["namespace"],
                    {
                        "metadata": {"generateName": f"{meta['name']}."},
                        "involvedObject": {
                            "apiVersion": f"{GROUP}/{VERSION}",
                            "kind": KIND,
                            "name": meta["name"],
                            "namespace": meta["namespace"],
                            "uid": meta["uid"],
                        },
                        "type": type_,
                        "reason": reason,
                        "message": message[:1024],
                        "firstTimestamp": stamp,
                        "lastTimestamp": stamp,
                        "count": 1,
                        "source": {"component": "vystra-operator"},
                        "reportingComponent": "vystra.io/operator",
                        "reportingInstance": self.identity,
                    },
                    _preload_content=False,
                )
            )
        except ApiException:  # events are informational; never block a transition on them
            log.warning("could not post event %s for %s", reason, meta["name"])
