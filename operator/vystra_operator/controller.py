"""The operator's core: an event-driven controller over watch-fed caches.

Informers (informer.py) keep VideoIngests, the operator's own Jobs and Pods (server-side label
selector) and Nodes in memory; every change marks the resources it concerns dirty and wakes one
decision thread. That thread syncs only dirty resources (transitions.py says what status each
observation calls for), feeds the scheduler (scheduler.py: flavors, fair share) and asks it
what to admit. Work per wake-up is proportional to what changed, never to how many resources
exist; admission costs the same at any queue depth.

Writes leave the decision thread at once: Jobs are created concurrently on their own threads
(a refused Job fails only its resource, with reason JobRejected; 429/5xx/timeouts back off and
retry while the slot stays reserved); statuses go through the coalescing StatusWriter. Only the
Lease holder decides (leader.py); a standby keeps warm caches and takes over within seconds.

A Job may run a batch of short ingests (jobs.py): every cache entry and decision is per
ingest, each ingest's outcome is written as its worker reports it, and the Job is let go once
all of its ingests have theirs.

With ``admission: kueue`` the scheduler still places each ingest on a flavor, but against
unbounded capacity: every Job is created at once, suspended, in a Kueue LocalQueue, and Kueue
decides when it runs; a fifth informer watches Kueue's Workloads to say why a Job waits.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from vystra import logs, tracing, webhooks
from vystra.billing.usage import record_usage
from vystra.db import Database, grants, open_database, reports
from vystra.db import origins as origin_rows
from vystra.db.reports import Report
from vystra.errors import VystraError
from vystra.k8s import TENANT_LABEL
from vystra.settings import get_settings
from vystra.videoingest import API_VERSION, GROUP, KIND, PLURAL, VERSION, Accelerator, Phase, Reason
from vystra.webhooks import EventType
from vystra_operator import MANAGED_BY, metrics
from vystra_operator.access import AccessIssuer, GpuNotInPlan
from vystra_operator.config import OperatorSettings
from vystra_operator.flavors import AdmissionMode, Flavor, SchedulingConfig
from vystra_operator.informer import Informer
from vystra_operator.jobs import FINALIZER, SELECTOR, Member, job_name, render_job
from vystra_operator.kube import Kube, Rejected, Transient
from vystra_operator.provisioning import Provisioner, consume
from vystra_operator.scheduler import Scheduler, Workload
from vystra_operator.statuswriter import StatusWriter
from vystra_operator.transitions import (
    Outcome,
    Usage,
    Want,
    admitted,
    awaiting_report,
    cancelled_usage,
    disruption,
    failed,
    observe_job,
    queued,
    rejected,
    requeued,
)
from vystra_operator.view import Ingest, Job, KueueWorkload, Namespace, Node, Pod

log = logging.getLogger("vystra.operator")
PLAN_RECHECK = 300.0  # seconds a plan without GPU keeps a tenant's `auto` work off GPU flavors

YIELD_SECONDS = 0.5  # longest a status write or Event waits for Job creates in flight
JOB_THREADS = 16  # concurrent Job creates: 500 admitted at once are created in about a second
OTHERS_EVERY = 15.0  # seconds between recounts of other workloads' accelerator requests
POSITION_WRITES_PER_SECOND = 5.0  # queue-position refreshes, whatever the rate of passes
POSITION_EVERY = 60.0  # at most once a minute per resource
POSITION_MAX_AGE = 5.0  # positions (shown once a minute) are recomputed at most this often
INF = float("inf")
KUEUE = ("kueue.x-k8s.io", "v1beta2", "workloads")
KUEUE_SLOTS = 1_000_000  # admission: kueue: Vystra places, Kueue's quotas bound
REPORT_EVERY = 1.0  # seconds between reads of the workers' reports (progress, outcomes)
REPORT_GRACE = 15.0  # a finished Job waits this long at most for its worker's last report
UNBOUND = (
    "namespace {ns} is bound to no tenant; an administrator binds it (vystra tenants create,"
    " or the API): until then nothing runs"
)


@dataclass(frozen=True)
class Cleanup:
    """What is left to do for a deleted VideoIngest."""

    uid: str
    key: str
    retain: bool
    usage: Usage | None  # what it processed, if deleted before it ended


@dataclass(frozen=True)
class _Launch:
    """One Job to create: the ingests an admission runs in it, in order."""

    keys: tuple[str, ...]
    flavor: str
    message: str


@dataclass(frozen=True)
class _Result:
    launch: _Launch
    job: str  # the Job's name; "" when none was made
    refused: dict[str, Exception]  # ingests refused on their own (plan, source): not in it
    error: Exception | None  # the create's, for every ingest not refused


class Controller:
    def __init__(
        self, settings: OperatorSettings, scheduling: SchedulingConfig, kube: Kube
    ) -> None:
        self.settings = settings
        self.kueue = scheduling.admission == AdmissionMode.KUEUE
        if self.kueue:  # Kueue preempts by its own quotas; Vystra's accounting steps aside
            scheduling = scheduling.model_copy(update={"preemption": False})
        self.scheduling = scheduling
        self.kube = kube
        self.flavors: dict[str, Flavor] = {f.name: f for f in scheduling.flavors}
        self._classes = {p.name for p in scheduling.priority_classes}
        # unique per process, as client-go's: two replicas on one host never share a Lease
        self.identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        self.scheduler = Scheduler(scheduling)
        ns = settings.namespace
        if ns:
            vi_args: tuple[Any, ...] = (GROUP, VERSION, ns, PLURAL)
            vi_list = kube.custom.list_namespaced_custom_object
        else:
            vi_args = (GROUP, VERSION, PLURAL)
            vi_list = kube.custom.list_cluster_custom_object
        # Jobs and their pods live in the platform's namespace only
        self.jobs_namespace = settings.jobs_location()
        self.provisioner = Provisioner(kube, self.jobs_namespace)
        job_list, job_args = kube.batch.list_namespaced_job, (self.jobs_namespace,)
        pod_list, pod_args = kube.core.list_namespaced_pod, (self.jobs_namespace,)
        self.ingests = Informer[Ingest](
            "videoingests", kube, vi_list, vi_args, Ingest.from_object, self._ingest_changed
        )
        self.jobs = Informer[Job](
            "jobs", kube, job_list, job_args, Job.from_object, self._job_changed, SELECTOR
        )
        self.pods = Informer[Pod](
            "pods", kube, pod_list, pod_args, Pod.from_object, self._pod_changed, SELECTOR
        )
        self.nodes = Informer[Node](
            "nodes", kube, kube.core.list_node, (), Node.from_object, self._node_changed
        )
        self.namespaces = Informer[Namespace](
            "namespaces",
            kube,
            kube.core.list_namespace,
            (),
            Namespace.from_object,
            self._namespace_changed,
            TENANT_LABEL,
        )
        self.informers: tuple[Informer[Any], ...] = (
            self.ingests,
            self.jobs,
            self.pods,
            self.nodes,
            self.namespaces,
        )
        self.workload_of: dict[str, KueueWorkload] = {}  # Job uid -> its Kueue Workload
        if self.kueue:
            self.workloads = Informer[KueueWorkload](
                "workloads",
                kube,
                kube.custom.list_namespaced_custom_object,
                (KUEUE[0], KUEUE[1], self.jobs_namespace, KUEUE[2]),
                KueueWorkload.from_object,
                self._workload_changed,
            )
            self.informers = (*self.informers, self.workloads)
        self.tenant_of: dict[str, str] = {}  # namespace -> tenant, as the platform bound it
        self.job_of: dict[str, Job] = {}  # ingest uid -> its Job
        self.pods_of: dict[str, dict[str, Pod]] = {}  # ingest uid -> its pods

        self._wake = threading.Condition()
        self._dirty: set[str] = set()
        # ingest uid -> when the informer first showed it: creation timestamps have a
        # resolution of one second, and ingests made within one are queued in this order
        self._arrival: dict[str, int] = {}
        self._arrivals = itertools.count()
        self._capacity_dirty = True
        self._deleted: dict[str, Ingest] = {}  # gone from the cluster, data to clean up
        self._results: queue.SimpleQueue[_Result] = queue.SimpleQueue()
        self._retries: list[tuple[float, int, _Launch]] = []  # (when, seq, what)
        self._retry_seq = 0
        self._creating: dict[str, str] = {}  # uid -> flavor: create in flight or to retry
        self._creates_in_flight = 0
        self._creates_idle = threading.Event()  # status writes and Events wait on it, briefly
        self._creates_idle.set()
        self._created: set[str] = set()  # created, not yet seen by the Job informer
        self._create_failures: dict[str, int] = {}  # by a launch's first ingest
        self._timed: set[str] = set()  # finished Jobs whose duration is observed
        self._later: list[tuple[float, str]] = []  # (when, uid): sync again then
        self.reports: dict[str, Report] = {}  # the workers' latest reports, by uid
        self._stopping: set[str] = set()  # preempted: their Jobs are being deleted
        self._admitted: set[str] = set()  # admitted by this leader: Running is written
        self._report_queue: queue.Queue[list[Report]] = queue.Queue()
        self._report_mark: datetime | None = None
        self._reports_at = 0.0
        self._report_polling = False
        self._cleanups: dict[str, tuple[Cleanup, float]] = {}  # uid -> what, not before
        self._side_busy: set[str] = set()  # Jobs with a release or delete in flight
        self._side_again: set[str] = set()  # Jobs synced while their action ran
        self._tracked: dict[str, str | None] = {}  # uid -> flavor running on, None: waiting
        self._unmarked: set[str] = set()  # waiting, Queued not yet written
        # tenant -> until when its `auto` work goes to CPU flavors: its plan has no GPU (found
        # at an admission, which reads the plan), so its next ingests are not placed on GPU
        self._cpu_only: dict[str, float] = {}
        self._positions: deque[tuple[float, str]] = deque()  # (last refresh, uid), oldest first
        self._position_tokens, self._position_refill = 0.0, time.time()
        self._others: dict[str, int] = {}  # flavor -> units requested by others' pods
        self._others_at = 0.0
        self.leading = False
        self._rebuild = True
        self.heartbeat = time.monotonic()
        self._stop = threading.Event()
        self._db: Database | None = None
        self._access: AccessIssuer | None = None
        self._grants_at = 0.0
        self._db_lock = threading.Lock()
        self.job_pool = ThreadPoolExecutor(JOB_THREADS, thread_name_prefix="jobs")
        self.side_pool = ThreadPoolExecutor(4, thread_name_prefix="side")  # events, releases
        self.writer = StatusWriter(
            kube,
            lookup=self.ingests.get,
            post_event=self.post_event,
            meter=self.meter,
            notify=self.notify,
            release_job=lambda name: self.release_job(self.jobs_namespace, name),
            yield_to_creates=self.yield_to_creates,
        )
        self._thread = threading.Thread(target=self._run, name="controller", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for informer in self.informers:
            informer.start()
        self.writer.start()
        # the database and the object-store signer are ready before the first admission:
        # issuing a worker's access is then a millisecond on the Job thread, not a start-up
        self.side_pool.submit(self._warm_up)
        self._thread.start()

    def _warm_up(self) -> None:
        try:
            self.access().warm_up()
        except Exception as exc:  # noqa: BLE001 - the first admission tries again
            log.warning("database or object store not ready yet: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        for informer in self.informers:
            informer.stop()
        self.writer.stop()
        self._poke()

    def set_leading(self, leading: bool) -> None:
        with self._wake:
            self.leading = leading
            self._rebuild = True
            self._wake.notify()

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers)

    # -- informer callbacks (informer threads: cheap, no I/O) --------------------------------

    def _mark(self, uid: str) -> None:
        with self._wake:
            self._dirty.add(uid)
            self._wake.notify()

    def _poke(self) -> None:
        with self._wake:
            self._wake.notify()

    def _ingest_changed(self, old: Ingest | None, new: Ingest | None) -> None:
        with self._wake:
            if new is None and old is not None:
                self._deleted[old.uid] = old
                self._arrival.pop(old.uid, None)
            elif new is not None:
                self._arrival.setdefault(new.uid, next(self._arrivals))
        self._mark((new or old).uid)  # type: ignore[union-attr]

    def _job_changed(self, old: Job | None, new: Job | None) -> None:
        job = new or old
        assert job is not None
        with self._wake:
            for uid in job.ingest_uids:
                if new is None:
                    if self.job_of.get(uid, job).uid == job.uid:
                        self.job_of.pop(uid, None)
                else:
                    self.job_of[uid] = new
                    self._created.discard(uid)
            if new is None:
                self._timed.discard(job.uid)
            self._dirty.update(job.ingest_uids)
            self._wake.notify()

    def _pod_changed(self, old: Pod | None, new: Pod | None) -> None:
        pod = new or old
        assert pod is not None
        with self._wake:
            for uid in pod.ingest_uids:
                pods = self.pods_of.setdefault(uid, {})
                if new is None:
                    pods.pop(pod.uid, None)
                    if not pods:
                        del self.pods_of[uid]
                else:
                    pods[pod.uid] = new
            self._dirty.update(pod.ingest_uids)
            self._wake.notify()

    def _namespace_changed(self, old: Namespace | None, new: Namespace | None) -> None:
        ns = new or old
        assert ns is not None
        with self._wake:
            if new is not None and new.tenant:
                self.tenant_of[ns.name] = new.tenant
            else:
                self.tenant_of.pop(ns.name, None)
            if self.synced():  # a binding made or undone later: its ingests move
                self._dirty.update(i.uid for i in self.ingests.values() if i.namespace == ns.name)
                self._wake.notify()

    def _workload_changed(self, old: KueueWorkload | None, new: KueueWorkload | None) -> None:
        wl = new or old
        assert wl is not None
        job = self.jobs.get(wl.job_uid)
        with self._wake:
            if new is None:
                self.workload_of.pop(wl.job_uid, None)
            else:
                self.workload_of[wl.job_uid] = new
            if job is not None:
                self._dirty.update(job.ingest_uids)
                self._wake.notify()

    def _node_changed(self, old: Node | None, new: Node | None) -> None:
        with self._wake:
            self._capacity_dirty = True
            self._others_at = 0.0
            self._wake.notify()

    # -- the decision thread -----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                if not self._dirty and self._results.empty():
                    self._wake.wait(1.0)
                dirty, self._dirty = self._dirty, set()
                deleted, self._deleted = self._deleted, {}
                rebuild = self._rebuild
                self._rebuild = False
            self.heartbeat = time.monotonic()
            if not self.leading or not self.synced():
                with self._wake:  # keep the work for when this replica leads
                    self._dirty |= dirty
                    self._deleted.update(deleted)
                    self._rebuild = self._rebuild or rebuild
                if not self.leading:
                    with self._wake:
                        self._wake.wait(1.0)
                else:
                    time.sleep(0.05)
                continue
            try:
                self._pass(dirty, deleted, rebuild)
                metrics.RECONCILES.labels("ok").inc()
            except Exception:  # noqa: BLE001 - the loop never dies; each step isolates its own
                metrics.RECONCILES.labels("error").inc()
                log.exception("controller pass failed")
                with self._wake:
                    self._dirty |= dirty
                time.sleep(1.0)

    def _pass(self, dirty: set[str], deleted: dict[str, Ingest], rebuild: bool) -> None:
        now = time.time()
        if rebuild:
            self._reset()
            # Jobs whose resource went while no operator watched are synced (and deleted) too
            dirty = {i.uid for i in self.ingests.values()} | set(self.job_of)
            self.side_pool.submit(self._sweep_origins)
        while self._later and self._later[0][0] <= now:
            dirty.add(heapq.heappop(self._later)[1])
        self._drain_results(now)
        self._drain_reports(dirty)
        for ing in deleted.values():
            self._forget(ing.uid)
            usage = cancelled_usage(ing, self.tenant_of.get(ing.namespace))
            self._clean_up_later(Cleanup(ing.uid, ing.key, ing.spec.retain, usage))
        for uid in sorted(dirty, key=self._made_order):
            with self._logged(uid):
                try:
                    self._sync(uid, now)
                except Exception:  # noqa: BLE001 - one resource's error never blocks another
                    log.exception("sync of %s failed; retrying", uid)
                    self._retry_later(uid)
        self._retry_due(now)
        self._clean_up_due(now)
        self._refresh_capacity(now)
        self._admit(now)
        self._refresh_positions(now)
        self._poll_reports_due(now)
        self._sweep_grants_due(now)
        metrics.QUEUE_DEPTH.labels("all").set(self.scheduler.waiting_count())
        metrics.STATUS_BACKLOG.set(self.writer.backlog())
        for (flavor, model), rtf in self.scheduler.speeds().items():
            metrics.FLAVOR_RTF.labels(flavor, model).set(rtf)

    def _made_order(self, uid: str) -> tuple[float, int]:
        """The order resources were made in: a pass syncs (and queues) them so."""
        ing = self.ingests.get(uid)
        with self._wake:
            arrival = self._arrival.get(uid, 0)
        return (ing.created if ing is not None else 0.0, arrival)

    def _reset(self) -> None:
        """A fresh scheduler from the caches: after a start, a restart or a new leadership."""
        self.scheduler = Scheduler(self.scheduling)
        self._tracked.clear()
        self._unmarked.clear()
        self._positions.clear()
        self._capacity_dirty = True
        self._others_at = 0.0
        self._report_mark = None  # a new leader reads every report once

    # -- one resource ------------------------------------------------------------------------

    def _workload(self, ing: Ingest) -> Workload:
        spec = ing.spec
        tenant = self.tenant_of[ing.namespace]
        plan_cpu = self._cpu_only.get(tenant, 0.0) > time.time()
        cpu_only = spec.accelerator == Accelerator.AUTO and plan_cpu
        return Workload(
            key=ing.uid,
            tenant=tenant,
            accelerator="cpu" if cpu_only else str(spec.accelerator),
            priority_class=self._priority_class(ing),
            created=ing.created,
            duration=spec.duration_hint_seconds or self.scheduling.default_duration_seconds,
            model=spec.model or "default",
            processed=ing.processed,
            # counted in status across Jobs (a preempted ingest's Job is gone)
            disruptions=max(
                ing.disruptions,
                sum(p.disrupted for p in self.pods_of.get(ing.uid, {}).values()),
            ),
            priority=spec.priority,
            namespace=ing.namespace,
        )

    def _priority_class(self, ing: Ingest) -> str:
        """The administrator's class named by ``spec.priorityClass``, else the default."""
        wanted = ing.spec.priority_class
        return wanted if wanted in self._classes else self.scheduling.default_priority_class

    def _logged(self, uid: str) -> AbstractContextManager[logs.LogContext]:
        """Records about one ingest carry it, its tenant and the API request that made it."""
        ing = self.ingests.get(uid)
        if ing is None:
            return logs.bound(ingest=uid)
        return logs.bound(
            ingest=ing.key,
            tenant=self.tenant_of.get(ing.namespace),
            request_id=ing.caller.request_id,
        )

    def _sync(self, uid: str, now: float) -> None:
        ing = self.ingests.get(uid)
        job = self.job_of.get(uid)
        if ing is None:
            self._forget(uid)
            # gone: so is its Job, unless the Job runs other ingests of a batch still
            if job is not None and (job.held or not job.deleting) and not self._serves_others(job):
                self._side_once(job, self.retire_job)
            return
        if ing.terminal:
            self._forget(uid)
            if job is not None and job.held:
                if self._settled(job):
                    self._side_once(job, self.release_job)
                elif self.writer.pending(uid):  # look again once the outcome is written
                    heapq.heappush(self._later, (now + 1.0, uid))
            return
        # a Job stopped while running: let it go; once gone its ingest may start again (its
        # next Job may be admitted already, waiting for this one to go)
        if job is None:
            self._stopping.discard(uid)
        elif job.deleting and job.finished is None:
            self._side_once(job, self.release_job)
            return
        if uid in self._creating:
            return  # its create answers first
        if job is not None:
            self._created.discard(uid)
            if job.finished is not None:
                self._stopping.discard(uid)  # it ended as it was stopped: record the outcome
            if uid in self._stopping:
                return  # the informer has not shown the deletion yet
            if self._tracked.get(uid) is None:  # found running (a restart): the books take it
                partner = next(
                    (u for u in job.ingest_uids if u != uid and self._tracked.get(u) == job.pool),
                    None,
                )
                workload = self._workload(ing)
                self.scheduler.started(uid, job.pool, job.created, workload, batch_of=partner)
                self._tracked[uid] = job.pool
            pods = list(self.pods_of.get(uid, {}).values())
            tenant = self.tenant_of.get(ing.namespace) or job.tenant
            report = self.reports.get(uid)
            finished_at = job.finished_at or now
            if awaiting_report(job, report) and now - finished_at < REPORT_GRACE:
                self._reports_at = 0.0  # look now; decide when it lands or the grace ends
                heapq.heappush(self._later, (now + 1.0, uid))
                return
            if uid in self._admitted and ing.phase != Phase.RUNNING and job.finished is None:
                # its admission (Running, with the scheduler's reason) is written or on its
                # way; the cache has not shown it yet: do not write Running a second time
                ing = replace(ing, phase=Phase.RUNNING)
            if job.finished is None and job.suspended:
                self._waits_for_kueue(ing, job)
                return
            if (
                job.finished is None
                and not self.kueue  # Kueue's waitForPodsReady is its own
                and self._withdraw_unschedulable(ing, job, pods, now)
            ):
                return
            outcome = observe_job(ing, job, pods, tenant, now, report)
            hit = disruption(ing, pods)
            if hit is not None:
                metrics.DISRUPTIONS.inc()
                if job.finished is None and self._leaves_spot(ing, job, hit, now):
                    return
                outcome = (
                    replace(outcome, want=hit.merged(outcome.want)) if outcome else Outcome(hit)
                )
            if job.finished is not None:
                if job.uid not in self._timed:
                    self._timed.add(job.uid)
                    metrics.JOB_DURATION.labels(job.pool, job.finished).observe(
                        max(0.0, (job.finished_at or now) - job.created)
                    )
                self.scheduler.finished(
                    uid,
                    now,
                    outcome.media_seconds if outcome else None,
                    outcome.wall_seconds if outcome else None,
                )
                self._tracked.pop(uid, None)
            # a non-terminal observation waits while this resource's admission is being
            # written: that write makes it Running, with the scheduler's reason
            if outcome is not None and (outcome.want.terminal or not self.writer.pending(uid)):
                self.writer.want(ing, outcome.want, job.name)
            return
        if uid in self._created:
            return  # created; the Job informer has not shown it yet
        if uid in self._tracked and self._tracked[uid] is not None:
            self.scheduler.finished(uid, now)  # its Job vanished: run it again
            self._tracked.pop(uid, None)
        if (
            ing.namespace not in self.tenant_of
        ):  # not (or no longer) bound: it waits, it is never run as anyone
            if uid in self._tracked:
                self._forget(uid)
            want = queued(ing, Reason.TENANT_UNBOUND, UNBOUND.format(ns=ing.namespace))
            if want is not None and not self.writer.pending(uid):
                self.writer.want(ing, want)
            return
        if uid not in self._tracked:
            self._enqueue(ing)

    def _enqueue(self, ing: Ingest) -> None:
        self.scheduler.submit(self._workload(ing))
        self._tracked[ing.uid] = None
        self._unmarked.add(ing.uid)

    def _forget(self, uid: str) -> None:
        self.reports.pop(uid, None)
        self._admitted.discard(uid)
        if uid in self._tracked:
            self.scheduler.withdraw(uid)
            self._tracked.pop(uid, None)
        self._unmarked.discard(uid)
        self._create_failures.pop(uid, None)

    def _retry_later(self, uid: str) -> None:
        heapq.heappush(self._later, (time.time() + 2.0, uid))

    def _waits_for_kueue(self, ing: Ingest, job: Job) -> None:
        """Its Job is suspended: Queued, with Kueue's reason once Kueue has given one."""
        wl = self.workload_of.get(job.uid)
        local = self.scheduling.queue_of(job.tenant)
        reason: str = Reason.WAITING_FOR_KUEUE
        message = f"Job {job.name} on the {job.pool} flavor waits in LocalQueue {local}"
        if wl is not None and wl.reason is not None:
            reason, message = f"Kueue{wl.reason}", f"Kueue ({wl.reason}): {wl.message}"
        want = queued(ing, reason, message)
        if want is not None:  # over a write in flight too: Kueue's word is the newer
            self.writer.want(ing, want)

    def _serves_others(self, job: Job) -> bool:
        """The Job still has an ingest of its batch to run or report on."""
        return any(
            (ing := self.ingests.get(u)) is not None and not ing.terminal for u in job.ingest_uids
        )

    def _settled(self, job: Job) -> bool:
        """Every ingest of the Job has its outcome written (or is gone): the Job may go."""
        return not self._serves_others(job) and not any(
            self.writer.pending(u) for u in job.ingest_uids
        )

    def _side_once(self, job: Job, action: Callable[[str, str], None]) -> None:
        """Release or delete a Job on a side thread, once at a time however often it syncs. A
        sync that came while the action ran (e.g. the deletion it caused) is made again after
        it, since no later event may come to make it."""
        with self._wake:
            if job.uid in self._side_busy:
                self._side_again.add(job.uid)
                return
            self._side_busy.add(job.uid)

        def run() -> None:
            try:
                action(job.namespace, job.name)
            except Exception as exc:  # noqa: BLE001 - its next sync tries again
                log.warning("Job %s: %s", job.name, exc)
            finally:
                with self._wake:
                    self._side_busy.discard(job.uid)
                    if job.uid in self._side_again:
                        self._side_again.discard(job.uid)
                        self._dirty.update(job.ingest_uids)
                        self._wake.notify()

        self.side_pool.submit(run)

    # -- admission ---------------------------------------------------------------------------

    def _admit(self, now: float) -> None:
        for preemption in self.scheduler.preemptions(now):
            for uid in (preemption.key, *preemption.batch):
                self._stop_for_preemption(uid, preemption.message)
        for admission in self.scheduler.admit(now):
            for uid in admission.keys:
                self._tracked[uid] = admission.flavor
                self._unmarked.discard(uid)
            self._launch(_Launch(admission.keys, admission.flavor, admission.message))
        # what stays waiting says so once (one write); positions refresh slowly below
        for uid in self._unmarked:
            ing = self.ingests.get(uid)
            why = self.scheduler.reason(uid)
            if ing is None or why is None:
                continue
            want = queued(ing, str(why[0]), why[1])
            self._positions.append((now, uid))
            if want is not None:
                self.writer.want(ing, want)
        self._unmarked.clear()

    def _stop_for_preemption(self, uid: str, message: str) -> None:
        """The scheduler queued ``uid`` again: stop its Job."""
        self._tracked[uid] = None
        ing, job = self.ingests.get(uid), self.job_of.get(uid)
        if ing is None or ing.terminal or job is None or job.finished is not None:
            return
        self._stop_running(ing, job, requeued(ing, Reason.PREEMPTED, message, job.name))
        metrics.PREEMPTIONS.inc()

    def _stop_running(self, ing: Ingest, job: Job, want: Want) -> None:
        """Stop the running Job of an ingest that waits again (the pod gets SIGTERM, the next
        attempt resumes after the stored segments); it is created again once the Job is gone."""
        self._stopping.add(ing.uid)
        self._admitted.discard(ing.uid)
        self.writer.want(ing, want)
        self._side_once(job, self.stop_job)

    def _requeue(self, ing: Ingest, job: Job, want: Want, workload: Workload, now: float) -> None:
        """Queue a running ingest again on the operator's own finding (not the scheduler's)."""
        self.scheduler.finished(ing.uid, now)
        self.scheduler.submit(workload)
        self._tracked[ing.uid] = None
        self._stop_running(ing, job, want)

    def _leaves_spot(self, ing: Ingest, job: Job, hit: Want, now: float) -> bool:
        """A reclaim on a spot flavor that brings the ingest to ``max_disruptions``: rather
        than let the Job retry there, stop it and queue the ingest for an on-demand flavor."""
        flavor, count = self.flavors.get(job.pool), int(hit.status["disruptions"])
        if flavor is None or not flavor.spot or count < self.scheduling.max_disruptions:
            return False
        pod = str(hit.status["lastDisruption"])
        message = (
            f"pod {pod} was reclaimed on spot flavor {flavor.name}, disruption {count} of"
            f" {self.scheduling.max_disruptions}: the ingest leaves spot flavors, waits for an"
            " on-demand one and resumes after its stored segments"
        )
        workload = replace(self._workload(ing), disruptions=count)
        self._requeue(ing, job, requeued(ing, Reason.DISRUPTED, message, pod), workload, now)
        return True

    def _withdraw_unschedulable(self, ing: Ingest, job: Job, pods: list[Pod], now: float) -> bool:
        """Its pods found no node for ``unschedulable_seconds`` (plus an autoscaled flavor's
        scale-up time): withdraw the Job, keep new Jobs off its flavor as long, and queue the
        ingest again, so it runs where there is room instead of waiting forever."""
        live = [p for p in pods if not p.terminal]
        stuck = [p.unschedulable_since for p in live if p.unschedulable_since is not None]
        if not live or len(stuck) < len(live):
            return False
        flavor = self.flavors.get(job.pool)
        limit = self.scheduling.unschedulable_seconds
        if flavor is not None and flavor.autoscaled:
            limit += flavor.scale_up_seconds
        since = max(stuck)
        if now - since < limit:
            heapq.heappush(self._later, (since + limit, ing.uid))  # nothing else wakes it
            return False
        message = (
            f"pod {live[0].name} could not be scheduled on {job.pool} for {limit:.0f} s: its Job"
            f" is withdrawn and the ingest waits again; {job.pool} takes no new Job for"
            f" {limit:.0f} s"
        )
        self.scheduler.hold(job.pool, now + limit)
        want = requeued(ing, Reason.UNSCHEDULABLE, message)
        self._requeue(ing, job, want, self._workload(ing), now)
        return True

    def _launch(self, launch: _Launch) -> None:
        keys = []
        for uid in launch.keys:
            if self.ingests.get(uid) is None:
                self.scheduler.withdraw(uid)
                self._tracked.pop(uid, None)
            else:
                keys.append(uid)
                self._creating[uid] = launch.flavor
        if not keys:
            return
        launch = replace(launch, keys=tuple(keys))
        if any(uid in self._stopping for uid in keys):  # a stopped Job is still going: the
            self._retry(launch, time.time() + 1.0)  # slot waits for it
            return
        self._submit_create(launch)

    def _retry(self, launch: _Launch, when: float) -> None:
        self._retry_seq += 1
        heapq.heappush(self._retries, (when, self._retry_seq, launch))

    def yield_to_creates(self) -> None:
        """Let the Job creates in flight go first (for at most YIELD_SECONDS)."""
        self._creates_idle.wait(YIELD_SECONDS)

    def _submit_create(self, launch: _Launch) -> None:
        ings = [ing for uid in launch.keys if (ing := self.ingests.get(uid)) is not None]
        with self._wake:
            self._creates_in_flight += 1
            self._creates_idle.clear()
        self.job_pool.submit(self._create_job, launch, ings)

    def _create_job(self, launch: _Launch, ings: list[Ingest]) -> None:
        """On a Job thread: issue each ingest's access, then create the Job for those that got
        it; the answer goes back to the decision thread."""
        refused: dict[str, Exception] = {}
        members: list[Member] = []
        name, error = "", None
        flavor = self.flavors[launch.flavor]
        try:
            tenant = self.tenant_of[ings[0].namespace]
            for ing in ings:
                try:
                    access = self.access().issue(ing.uid, tenant, ing.spec, flavor.gpu)
                except (GpuNotInPlan, VystraError) as exc:  # this ingest's own: the rest go on
                    refused[ing.uid] = exc
                    continue
                members.append(Member(ing.body, access, ing.caller))
            if members:
                first = members[0].body["metadata"]
                name = job_name(first["name"], first["uid"])
                local_queue = self.scheduling.queue_of(tenant) if self.kueue else None
                job = render_job(members, flavor, self.settings, tenant, local_queue)
                booked = flavor.provisioning_class if flavor.autoscaled else None
                if booked and self.provisioner.installed():
                    consume(job, booked)
                else:
                    booked = None
                if self._create(job, booked):
                    metrics.JOBS_CREATED.labels(launch.flavor).inc()
        except Exception as exc:  # noqa: BLE001 - sorted by the decision thread
            error = exc
        with self._wake:
            self._creates_in_flight -= 1
            if self._creates_in_flight == 0:
                self._creates_idle.set()
        self._results.put(_Result(launch, name, refused, error))
        self._poke()

    def _create(self, job: dict[str, Any], provisioning_class: str | None) -> bool:
        """Create the Job, then the ProvisioningRequest that books its pod's capacity, owned
        by it. False: the Job was there (made by an earlier leader or pass: the same Job)."""
        name, created = job["metadata"]["name"], True
        try:
            uid = self.kube.create_job(self.jobs_namespace, job)["metadata"]["uid"]
        except ApiException as exc:
            if exc.status != 409:
                raise
            if provisioning_class is None:
                return False
            made = self.kube.call(self.kube.batch.read_namespaced_job, name, self.jobs_namespace)
            uid, created = made["metadata"]["uid"], False
        if provisioning_class is not None:
            self.provisioner.request(job, uid, provisioning_class)
        return created

    def _drain_results(self, now: float) -> None:
        while True:
            try:
                r = self._results.get_nowait()
            except queue.Empty:
                return
            for uid, exc in r.refused.items():
                self._creating.pop(uid, None)
                self._refused(uid, exc, now)
            keys = tuple(k for k in r.launch.keys if k not in r.refused)
            if not keys:
                continue
            first = keys[0]
            if r.error is None:
                self._create_failures.pop(first, None)
                note = f"; one Job for {len(keys)} short ingests" if len(keys) > 1 else ""
                for uid in keys:
                    self._creating.pop(uid, None)
                    ing = self.ingests.get(uid)
                    if ing is None:
                        continue  # deleted meanwhile: its sync retires the Job
                    if self.job_of.get(uid) is None:
                        self._created.add(uid)
                    if not self.kueue:  # else Kueue admits it: its suspended Job says so
                        want = admitted(ing, r.launch.flavor, r.job, r.launch.message + note)
                        self.writer.want(ing, want, r.job)
                        self._admitted.add(uid)
                    metrics.ADMISSION_WAIT.observe(max(0.0, now - ing.created))
                    admission_span(ing, r.launch.flavor, r.job)
            elif isinstance(r.error, Rejected) and len(keys) > 1:
                # the API server refused the batch's Job: its first ingest tries alone on the
                # slot, the others wait again, so a refusal lands on the ingest that causes it
                for uid in keys[1:]:
                    self._creating.pop(uid, None)
                    self.scheduler.withdraw(uid)
                    self._tracked.pop(uid, None)
                    if (ing := self.ingests.get(uid)) is not None:
                        self._enqueue(ing)
                self._submit_create(replace(r.launch, keys=(first,)))
            elif isinstance(r.error, (Rejected, VystraError)):
                self._creating.pop(first, None)
                with self._logged(first):
                    self._refused(first, r.error, now)
            else:
                failures = self._create_failures.get(first, 0) + 1
                self._create_failures[first] = failures
                delay = min(0.5 * 2**failures, 60.0)
                if isinstance(r.error, Transient) and r.error.retry_after:
                    delay = max(delay, r.error.retry_after)
                with self._logged(first):
                    log.warning("Job for %s: %s; retrying in %.1fs", first, r.error, delay)
                self._retry(replace(r.launch, keys=keys), now + delay)  # the slot stays reserved

    def _refused(self, uid: str, error: Exception, now: float) -> None:
        """No Job for ``uid``: its plan excludes GPU (placed again, on CPU flavors only), or
        its own spec, source or plan forbids it (final)."""
        self.scheduler.withdraw(uid)
        self._tracked.pop(uid, None)
        ing = self.ingests.get(uid)
        if isinstance(error, GpuNotInPlan):
            tenant = self.tenant_of.get(ing.namespace) if ing is not None else None
            if ing is not None and tenant is not None:
                self._cpu_only[tenant] = now + PLAN_RECHECK
                self._enqueue(ing)
            return
        want = (
            failed(error.reason, str(error))
            if isinstance(error, VystraError)
            else rejected(str(error))
        )
        if ing is not None:
            self.writer.want(ing, want)
        metrics.FAILURES.labels(want.status["reason"]).inc()
        log.warning("Job for %s refused: %s", uid, error)

    def _retry_due(self, now: float) -> None:
        while self._retries and self._retries[0][0] <= now:
            _, _, launch = heapq.heappop(self._retries)
            if any(uid in self._stopping for uid in launch.keys):
                self._retry(launch, now + 1.0)
                continue
            keys = []
            for uid in launch.keys:
                ing = self.ingests.get(uid)
                if ing is None or ing.terminal:
                    self._creating.pop(uid, None)
                    self._forget(uid)
                else:
                    keys.append(uid)
            if keys:
                self._submit_create(replace(launch, keys=tuple(keys)))

    # -- capacity ----------------------------------------------------------------------------

    def _refresh_capacity(self, now: float) -> None:
        if self.kueue:
            if self._capacity_dirty:
                self._capacity_dirty = False
                for name in self.flavors:
                    self.scheduler.set_capacity(name, KUEUE_SLOTS, 0)
            return
        if now - self._others_at > OTHERS_EVERY:
            self._others_at = now
            self.side_pool.submit(self._count_others)
        if not self._capacity_dirty:
            return
        self._capacity_dirty = False
        nodes = [n for n in self.nodes.values() if n.usable]
        for flavor in self.flavors.values():
            if flavor.resource is None:
                total = flavor.max_concurrent
            else:
                per_job = flavor.resource_count
                total = sum(
                    n.count(flavor.resource) // per_job
                    for n in nodes
                    if n.matches(flavor.selector())
                )
            others = self._others.get(flavor.name, 0)
            self.scheduler.set_capacity(flavor.name, total, others)
            metrics.CAPACITY.labels(flavor.name).set(total - others)

    def _count_others(self) -> None:
        """Accelerator units that pods other than Vystra's request on each flavor's nodes:
        one list per accelerator node, not a watch of every pod in the cluster."""
        resources = {f.resource for f in self.flavors.values() if f.resource is not None}
        nodes = [n for n in self.nodes.values() if n.usable and any(n.count(r) for r in resources)]
        taken: dict[str, Counter[str]] = {}  # node -> units requested per resource
        try:
            for node in nodes:
                listing = self.kube.call(
                    self.kube.core.list_pod_for_all_namespaces,
                    field_selector=f"spec.nodeName={node.name},"
                    "status.phase!=Succeeded,status.phase!=Failed",
                    label_selector=f"app.kubernetes.io/managed-by!={MANAGED_BY}",
                )
                taken[node.name] = Counter()
                for pod in listing.get("items") or []:
                    for c in (pod.get("spec") or {}).get("containers") or []:
                        res = c.get("resources") or {}
                        for r in resources:  # extended resources: the request is the limit
                            want = (res.get("limits") or {}).get(r) or (
                                res.get("requests") or {}
                            ).get(r)
                            taken[node.name][r] += int(want or 0)
        except Exception as exc:  # noqa: BLE001 - capacity stays as last counted
            log.warning("counting other workloads' accelerators: %s", exc)
            return
        counts = {
            f.name: sum(taken[n.name][f.resource] for n in nodes if n.matches(f.selector()))
            // f.resource_count
            for f in self.flavors.values()
            if f.resource is not None
        }
        with self._wake:
            if counts != self._others:
                self._others = counts
                self._capacity_dirty = True
                self._wake.notify()

    # -- queue position ----------------------------------------------------------------------

    def _refresh_positions(self, now: float) -> None:
        """Position and expected start of queued resources, each at most once a minute and
        at most POSITION_WRITES_PER_SECOND in all: never a rewrite of the whole queue."""
        self._position_tokens = min(
            2 * POSITION_WRITES_PER_SECOND,
            self._position_tokens + (now - self._position_refill) * POSITION_WRITES_PER_SECOND,
        )
        self._position_refill = now
        while (
            self._position_tokens >= 1
            and self._positions
            and now - self._positions[0][0] >= POSITION_EVERY
        ):
            _, uid = self._positions.popleft()
            ing = self.ingests.get(uid)
            if ing is None or self._tracked.get(uid, "gone") is not None:
                continue  # admitted or gone: it leaves the rotation
            info = self.scheduler.position(uid, now, max_age=POSITION_MAX_AGE)
            if info is None:
                continue
            self._positions.append((now, uid))
            start = info.estimated_start_seconds
            eta = "unknown" if start == INF else f"~{start:.0f}s"
            message = f"{info.message}; position {info.position}, expected start {eta}"
            if message == ing.message:
                continue
            self._position_tokens -= 1
            queue_status: dict[str, Any] = {"position": info.position}
            if start != INF:
                queue_status["startsInSeconds"] = round(start)
            self.writer.want(ing, Want(status={"message": message, "queue": queue_status}))

    # -- workers' reports ---------------------------------------------------------------------

    def _poll_reports_due(self, now: float) -> None:
        if self._report_polling or now - self._reports_at < REPORT_EVERY or not self.job_of:
            return
        self._reports_at = now
        self._report_polling = True
        self.side_pool.submit(self._poll_reports)

    def _poll_reports(self) -> None:
        """On a side thread: the reports changed since the last look (one indexed query)."""
        try:
            with self.database().connect() as conn:
                found, self._report_mark = reports.changed_since(conn, self._report_mark)
            self._report_queue.put(found)
        except Exception as exc:  # noqa: BLE001 - the next poll tries again
            log.warning("reading the workers' reports: %s", exc)
        finally:
            self._report_polling = False
            self._poke()

    def _drain_reports(self, dirty: set[str]) -> None:
        while True:
            try:
                found = self._report_queue.get_nowait()
            except queue.Empty:
                return
            for report in found:
                ing = self.ingests.get(report.uid)
                if ing is None or ing.terminal or self.reports.get(report.uid) == report:
                    continue
                self.reports[report.uid] = report
                dirty.add(report.uid)

    # -- side effects (their own threads) ----------------------------------------------------

    def database(self) -> Database:
        with self._db_lock:
            if self._db is None:
                # a plan check on each Job thread (billing on), one login batch, side work
                self._db = open_database(get_settings(), max_size=JOB_THREADS + 4)
            return self._db

    def access(self) -> AccessIssuer:
        database = self.database()
        with self._db_lock:
            if self._access is None:
                self._access = AccessIssuer(
                    get_settings(), database, self.settings.active_deadline_seconds
                )
            return self._access

    def _sweep_grants_due(self, now: float) -> None:
        if now - self._grants_at < self.settings.login_sweep_seconds:
            return
        self._grants_at = now
        live = {i.uid for i in self.ingests.values() if not i.terminal}
        live |= set(self._creating) | {
            uid for uid, pods in self.pods_of.items() if any(not p.terminal for p in pods.values())
        }
        self.side_pool.submit(self._sweep_grants, live)

    def _sweep_grants(self, live: set[str]) -> None:
        """Drop the database logins of ingests that ended (or went) and of expired ones."""
        try:
            with self.database().connect() as conn:
                ended = grants.stale(conn, live)
                kept = [uid for uid in ended if not grants.revoke(conn, uid)]
                reports.delete(conn, ended)
            if kept:
                log.info("%d worker logins still in use; dropped at the next sweep", len(kept))
        except Exception as exc:  # noqa: BLE001 - the next sweep tries again; they expire anyway
            log.warning("sweep of worker logins: %s", exc)

    def meter(self, usage: Usage) -> None:
        with self.database().connect() as conn:
            record_usage(conn, **asdict(usage))

    def notify(self, ing: Ingest, want: Want) -> None:
        """Queue the outcome's webhook event for the tenant's endpoints (the ingest's uid names
        it: a retried write queues nothing more)."""
        tenant = self.tenant_of.get(ing.namespace)
        if tenant is None:
            return
        status = want.status
        succeeded = status.get("phase") == Phase.SUCCEEDED
        data = {
            "ingest_id": ing.name,
            "namespace": ing.namespace,
            "phase": str(status.get("phase")),
            "reason": status.get("reason"),
            "message": status.get("message"),
            "video_id": status.get("videoId") or ing.video_id,
        }
        event = EventType.ingest_succeeded if succeeded else EventType.ingest_failed
        with self.database().connect() as conn:
            webhooks.emit(conn, tenant, event, ing.uid, data)

    def release_job(self, namespace: str, name: str) -> None:
        """Remove our finalizer: the Job may now be deleted (by its TTL, or already)."""
        try:
            self.kube.call(
                self.kube.batch.patch_namespaced_job,
                name,
                namespace,
                {"metadata": {"$deleteFromPrimitiveList/finalizers": [FINALIZER]}},
                _content_type="application/strategic-merge-patch+json",
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    def stop_job(self, namespace: str, name: str) -> None:
        """Delete a running Job; its finalizer holds it until the decision thread has seen
        how it ended (stopped, or finished just before) and releases it."""
        try:
            self.kube.delete_job(namespace, name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def retire_job(self, namespace: str, name: str) -> None:
        """Delete a Job whose VideoIngest is gone (its pods with it) and let it go."""
        self.stop_job(namespace, name)
        self.release_job(namespace, name)

    def post_event(self, ing: Ingest, type_: str, reason: str, message: str) -> None:
        def post() -> None:
            self.yield_to_creates()  # Events inform; they go after the Job creates in flight
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            try:
                self.kube.create_event(
                    ing.namespace,
                    {
                        "metadata": {"generateName": f"{ing.name}."},
                        "involvedObject": {
                            "apiVersion": API_VERSION,
                            "kind": KIND,
                            "name": ing.name,
                            "namespace": ing.namespace,
                            "uid": ing.uid,
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
                )
            except Exception as exc:  # noqa: BLE001 - Events inform; they never block
                log.warning("event %s for %s: %s", reason, ing.key, exc)

        self.side_pool.submit(post)

    # -- clean-up of deleted resources -------------------------------------------------------

    def _clean_up_later(self, cleanup: Cleanup, delay: float = 0.0) -> None:
        """Done once neither its Job nor a pod of it is left (_clean_up_due)."""
        with self._wake:
            self._cleanups[cleanup.uid] = (cleanup, time.time() + delay)

    def _clean_up_due(self, now: float) -> None:
        with self._wake:
            ready = [
                cleanup
                for uid, (cleanup, after) in self._cleanups.items()
                if after <= now and uid not in self.job_of and uid not in self.pods_of
            ]
            for cleanup in ready:
                del self._cleanups[cleanup.uid]
        for cleanup in ready:
            self.side_pool.submit(self._clean_up, cleanup)

    def _clean_up(self, cleanup: Cleanup) -> None:
        """Meter what a cancelled ingest processed, then remove its video unless retained or
        reused (origins.remove); both are idempotent, so a retry repeats both."""
        try:
            if cleanup.usage is not None:
                self.meter(cleanup.usage)
            with self.database().connect() as conn:
                removed = origin_rows.remove(conn, cleanup.uid, retain=cleanup.retain)
                tenant = self.tenant_of.get(cleanup.key.split("/")[0])
                if removed and tenant:  # removed once: a retry finds nothing to remove
                    webhooks.video_deleted(conn, tenant, removed)
        except Exception as exc:  # noqa: BLE001 - retried; a restart's sweep finishes it too
            log.warning("clean-up of %s: %s; retrying", cleanup.key, exc)
            self._clean_up_later(cleanup, delay=5.0)
            return
        if removed:
            log.info("deleted video %s of %s", removed, cleanup.key)

    def _sweep_origins(self) -> None:
        """Videos of VideoIngests deleted while no operator watched: cleaned up now."""
        try:
            with self.database().connect() as conn:
                orphans = origin_rows.orphans(conn, {i.uid for i in self.ingests.values()})
        except Exception as exc:  # noqa: BLE001 - the next leadership sweeps again
            log.warning("sweep of deleted VideoIngests: %s", exc)
            return
        for orphan in orphans:
            self._clean_up_later(Cleanup(orphan.uid, orphan.key, orphan.retain, None))


def admission_span(ing: Ingest, pool: str, job: str) -> None:
    """The wait from the resource's creation to its Job's, a span in the trace of the API
    request that made it (the worker's ingest span is its sibling)."""
    traceparent = ing.caller.traceparent
    if traceparent is None:
        return
    with tracing.span(
        "admit",
        within=traceparent,
        start_time=ing.created,
        attributes={"vystra.ingest": ing.key, "vystra.pool": pool, "k8s.job.name": job},
    ):
        pass
