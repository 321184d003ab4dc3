"""Admission policy: which waiting ingests start now, on which flavor, and which to preempt.

Pure Python, no Kubernetes and no I/O: the operator's core feeds it what its watches see
(``submit``, ``started``, ``finished``, ``set_capacity``) and asks ``admit`` what to start. Every
time is passed in as ``now`` (epoch seconds), so the policy is tested and simulated without a
cluster and rebuilt from existing Jobs after a restart.

The rules, in the order they apply:

- **Flavor**: each ingest goes where it is expected to *finish* first: wait for a slot, plus
  pod start, plus the remaining media seconds (``duration - processed``: a resumed ingest counts
  only what is left) times the flavor's real-time factor for its model. ``gpu`` ingests only
  consider GPU flavors, ``cpu`` only CPU ones, ``auto`` all; a busy fast flavor beats a free slow
  one when waiting for it still finishes sooner. An ingest disrupted ``max_disruptions`` times
  leaves spot flavors.
- **Tenants**: the next free slot goes to the tenant with waiting work and the least usage per
  unit of weight (usage is the speed, 1/rtf, of the slots it holds), so tenants share by weight
  and a tenant alone borrows everything idle. A tenant under its share takes borrowed slots back
  through ``preemptions``; one ingest is preempted at most ``max_preemptions`` times per cooldown.
- **Within a tenant**: priority class value plus ``aging_per_hour`` times hours past due (old
  work overtakes new high-priority work eventually); then due time, ``created`` plus
  ``size_weight`` times the media length (``size_weight=0``: oldest first). An ingest whose run
  alone outlasts half the estimated drain of all waiting work goes first: started last, it
  would set the makespan.
- **Budgets**: a tenant past its GPU-second budget runs on CPU flavors only.
- **Scale from zero**: an autoscaled flavor with no node takes ``max_pending`` Jobs, whose
  pending pods make the cluster autoscaler add one.
- **Batching** (``batch_max > 1``): short ingests of one namespace, class and model share a
  Job when they queue deeper than the free slots, and until transcription outweighs pod
  start. The Job's slot frees once its last ingest leaves.

Cost: per-tenant heaps per class, so ``admit`` touches only the heads it admits from, whatever
the queue depth; ``position`` computes every position at once in O(n log n) and keeps them
until something changes.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

from vystra_operator.flavors import DEFAULT_MODEL, Flavor, SchedulingConfig, TenantPolicy

INF = float("inf")


class Reason(StrEnum):
    ADMITTED = "Admitted"
    WAITING_FOR_GPU = "WaitingForGPU"
    WAITING_FOR_CPU = "WaitingForCPU"
    WAITING_FOR_CAPACITY = "WaitingForCapacity"  # no eligible flavor has any node or slot
    BUDGET_EXHAUSTED = "BudgetExhausted"
    NO_FLAVOR = "NoFlavor"  # no configured flavor can ever run it
    PREEMPTED = "Preempted"


@dataclass(frozen=True)
class Workload:
    key: str  # namespace/name
    tenant: str
    accelerator: str  # auto | gpu | cpu
    priority_class: str
    created: float  # epoch seconds
    duration: float  # media seconds, expected
    model: str = DEFAULT_MODEL
    processed: float = 0.0  # media seconds already committed: a resumed ingest skips them
    disruptions: int = 0  # preemptions and spot reclaims so far
    # the submitter's own order (spec.priority, -1000..1000): adds at most one point to the
    # class value, so it orders a tenant's ingests within a class and never crosses classes
    priority: int = 0
    # batches never mix namespaces: the ingests of one Job share one tenant's pod;
    # empty: the key's part before "/"
    namespace: str = ""

    @property
    def remaining(self) -> float:
        return max(0.0, self.duration - self.processed)

    @property
    def batch_group(self) -> str:
        return self.namespace or self.key.partition("/")[0]


@dataclass(frozen=True)
class Admission:
    key: str
    flavor: str
    reason: Reason
    message: str
    batch: tuple[str, ...] = ()  # further keys run by the same Job, after ``key``
    estimated_seconds: float = 0.0  # expected run time of the Job, pod start included

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key, *self.batch)


@dataclass(frozen=True)
class Preemption:
    key: str
    flavor: str
    reason: Reason
    message: str
    batch: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueInfo:
    position: int  # 1: next to start on the flavors it can use
    ahead: int
    estimated_start_seconds: float  # from now; inf when no eligible flavor has capacity
    flavors: tuple[str, ...]  # flavors it may run on
    reason: Reason
    message: str


@dataclass
class _Choice:
    flavor: Flavor | None
    free: bool
    wait: float
    finish: float
    reason: Reason
    message: str
    flavor_slots: int = 0


@dataclass
class _Running:
    workload: Workload
    flavor: str
    started: float
    end: float  # expected
    speed: float  # fair-share units held (1/rtf of the flavor at start)
    gpu_rate: float  # GPU-seconds charged per second
    members: tuple[Workload, ...] = ()


@dataclass
class _FlavorState:
    flavor: Flavor
    reported: bool = False
    total: int = 0
    others: int = 0
    running: set[str] = field(default_factory=set)
    ends: list[tuple[float, str]] = field(default_factory=list)  # lazy min-heap
    end_sum: float = 0.0
    slots: int = 0  # as of the last set_capacity


@dataclass
class _Tenant:
    policy: TenantPolicy
    usage: float = 0.0
    running: int = 0
    waiting: int = 0
    gpu_seconds: float = 0.0  # charged by finished Jobs
    gpu_rate: float = 0.0  # of running Jobs: charge(now) adds now*rate - rate_started
    gpu_rate_started: float = 0.0
    heaps: dict[tuple[str, bool], list[tuple[float, float, int, str]]] = field(default_factory=dict)
    counts: dict[tuple[str, bool], int] = field(default_factory=dict)
    # the same entries by media length, per class: a slot a head declines goes to short work
    short: dict[tuple[str, bool], list[tuple[float, float, int, str]]] = field(default_factory=dict)
    long: dict[tuple[str, bool], list[tuple[float, float, int, str]]] = field(default_factory=dict)

    @property
    def weight(self) -> float:
        return self.policy.weight

    @property
    def entries(self) -> int:
        heaps = (*self.heaps.values(), *self.short.values(), *self.long.values())
        return sum(len(h) for h in heaps)


class Scheduler:
    def __init__(self, config: SchedulingConfig):
        self.config = config
        self._flavors = {f.name: _FlavorState(f) for f in config.flavors}
        self._classes = {p.name: p.value for p in config.priority_classes}
        self._policies = {t.name: t for t in config.tenants}
        self._aging = config.aging_per_hour / 3600.0
        self._rtf: dict[tuple[str, str], float] = {
            (f.name, m): v for f in config.flavors for m, v in f.rtf.items()
        }
        self._tenants: dict[str, _Tenant] = {}
        self._waiting: dict[str, Workload] = {}
        self._entry: dict[str, int] = {}  # key -> seq of its live heap entries
        self._seq = 0
        self._running: dict[str, _Running] = {}
        self._member_of: dict[str, str] = {}  # batched key -> key of the Job's first ingest
        self._now = 0.0  # the latest time admit was called with, for reason()
        self._version = 0  # bumped by every change: positions are kept while it holds
        self._positions: dict[str, QueueInfo] = {}
        self._positions_at: tuple[float, int] = (-INF, -1)
        self._preempted: dict[str, tuple[int, float]] = {}  # key -> (count, last time)
        # media seconds and count of waiting work that may run on GPU (gpu, auto) or CPU
        # (cpu, auto) flavors: what drains before a busy flavor frees for the next ingest
        self._demand: dict[str, list[float]] = {"gpu": [0.0, 0], "cpu": [0.0, 0]}
        self._auto_media = 0.0
        self._drains: dict[str, float] = {}  # per admit pass, see _drain
        self._free_kinds = {True: 1, False: 1}  # free GPU and CPU slots in this admit pass
        self._claims: dict[str, int] = {}  # flavor -> ingests that chose to wait for it
        self._claimed: set[str] = set()  # ingests that claimed in this pass
        self._eligible_cache: dict[tuple[str, bool, bool], list[_FlavorState]] = {}
        self._kind_slots = {True: 0, False: 0}
        self._holds: dict[str, float] = {}  # flavor -> no new Job until then (hold())
        self._count_slots()

    # -- what the core reports -----------------------------------------------------------

    def set_capacity(self, flavor: str, total: int, used_by_others: int) -> None:
        """Job slots of ``flavor`` on Ready nodes, and those taken by pods not Vystra's.

        For a resource flavor the core counts, per node, allocatable // resource_count; for a
        CPU flavor the slots are further capped by ``max_concurrent``. ``total=0`` on an
        autoscaled flavor opens ``max_pending`` slots for pods that wait for a new node.
        """
        fs = self._flavors.get(flavor)
        if fs is None:
            return  # not (or no longer) configured
        self._version += 1
        fs.reported, fs.total, fs.others = True, max(0, total), max(0, used_by_others)
        self._count_slots()

    def hold(self, flavor: str, until: float) -> None:
        """No new Job on ``flavor`` until ``until``: its pods could not be scheduled (room the
        nodes seem to have is not there, or an autoscaler cannot add a node). Running ones go on."""
        if flavor not in self._flavors:
            return
        self._version += 1
        self._holds[flavor] = until
        self._count_slots()

    def submit(self, w: Workload) -> None:
        """Queue ``w``; a key already waiting is replaced (e.g. with new ``processed``), keeping
        the higher ``disruptions`` of the two; a key running is left running."""
        if w.key in self._running or w.key in self._member_of:
            return
        self._version += 1
        if w.key in self._waiting:
            old = self._unqueue(w.key)
            if old.disruptions > w.disruptions:
                w = replace(w, disruptions=old.disruptions)
        t = self._tenant(w.tenant)
        self._seq += 1
        self._waiting[w.key], self._entry[w.key] = w, self._seq
        cls = self._class(w)
        heapq.heappush(t.heaps.setdefault(cls, []), (*self._order(w), self._seq, w.key))
        t.counts[cls] = t.counts.get(cls, 0) + 1
        rank = self._order(w)[0]
        heapq.heappush(t.short.setdefault(cls, []), (w.remaining, rank, self._seq, w.key))
        heapq.heappush(t.long.setdefault(cls, []), (-w.remaining, rank, self._seq, w.key))
        t.waiting += 1
        self._add_demand(w, 1)
        if t.entries > 4 * t.waiting + 64:
            self._compact(t)

    def withdraw(self, key: str) -> None:
        """Deleted, ended, or failed before admission: forget it, freeing its slot if it held
        one (a batch's slot is freed once its last ingest leaves)."""
        if key in self._waiting:
            self._unqueue(key)
        else:
            self._stop(key, self._now)  # its GPU time is charged up to the latest admit
        self._preempted.pop(key, None)

    def started(
        self,
        key: str,
        flavor: str,
        now: float,
        workload: Workload | None = None,
        batch_of: str | None = None,
    ) -> None:
        """``key`` runs on ``flavor`` since ``now`` (after a restart: its Job's creation time).
        Pass ``workload`` when it was never submitted, and ``batch_of``, another ingest of the
        same Job already started, to join that Job's slot. A Job on a flavor no longer
        configured is left out of the books (its capacity is someone else's now) but not
        queued again."""
        w = self._waiting.get(key) or workload
        if w is None:
            raise KeyError(f"{key}: submit it, or pass its workload")
        if key in self._waiting:
            self._unqueue(key)
        if key in self._running or key in self._member_of:
            return
        lead = self._member_of.get(batch_of, batch_of) if batch_of is not None else None
        if lead is not None and lead in self._running:
            self._version += 1
            run = self._running[lead]
            run.members = (*run.members, w)
            self._member_of[key] = lead
            return
        fs = self._flavors.get(flavor)
        if fs is not None:
            self._start(w, fs, now, ())

    def finished(
        self,
        key: str,
        now: float,
        media_seconds: float | None = None,
        wall_seconds: float | None = None,
    ) -> None:
        """``key``'s Job ended (or a batched ingest in it). With both seconds (media processed
        by this Job, its wall time), the flavor's rtf for the model is learnt from them."""
        run = self._running.get(key)
        self._version += 1
        self._stop(key, now)
        if run is None:  # e.g. the Job of a preempted ingest, which waits again already
            return
        self._preempted.pop(key, None)  # it ran to its end: its preemption count is spent
        if not media_seconds or not wall_seconds or media_seconds <= 0:
            return
        busy = wall_seconds - self.config.overhead_seconds
        if busy <= 0:  # all pod start: nothing learnt about speed
            return
        f, model = self._flavors[run.flavor].flavor, run.workload.model
        seen = {model: busy / media_seconds}
        if model != DEFAULT_MODEL:  # the flavor's own speed, which fair share counts, learns
            seen[DEFAULT_MODEL] = seen[model] * f.rtf[DEFAULT_MODEL] / f.rtf_for(model)
        rate = self.config.learning_rate
        for m, x in seen.items():
            old = self._rtf_of(f.name, m)
            x = min(max(x, old / 20), old * 20)  # one outlier cannot run away with it
            self._rtf[(f.name, m)] = (1 - rate) * old + rate * x

    # -- decisions -----------------------------------------------------------------------

    def admit(self, now: float) -> list[Admission]:
        """Start as many waiting ingests as free slots allow (see the module docstring)."""
        self._now = now
        if any(until <= now for until in self._holds.values()):
            self._holds = {f: until for f, until in self._holds.items() if until > now}
            self._version += 1
            self._count_slots()
        self._free_kinds = {True: 0, False: 0}
        for fs in self._flavors.values():
            self._free_kinds[fs.flavor.gpu] += max(0, self._free(fs))
        free = self._free_kinds[True] + self._free_kinds[False]
        if not self._waiting or not free:
            return []
        out: list[Admission] = []
        self._claims.clear()
        self._claimed.clear()
        self._drains.clear()
        queue = [(t.usage / t.weight, name) for name, t in self._tenants.items() if t.waiting]
        heapq.heapify(queue)
        while queue:
            _, name = heapq.heappop(queue)
            t = self._tenants[name]
            picked = self._candidate(t, now)
            if picked is None:
                continue  # nothing of this tenant fits what is free; slots only shrink from here
            w, choice = picked
            assert choice.flavor is not None
            fs = self._flavors[choice.flavor.name]
            self._unqueue(w.key)
            members = self._batch(t, w, fs)
            run = self._start(w, fs, now, members)
            pending = fs.flavor.autoscaled and fs.total == 0
            note = "; pending until the autoscaler adds a node" if pending else ""
            out.append(
                Admission(
                    w.key,
                    fs.flavor.name,
                    Reason.ADMITTED,
                    f"{choice.message}{note}",
                    tuple(m.key for m in members),
                    run.end - now,
                )
            )
            free -= 1
            self._free_kinds[fs.flavor.gpu] -= 1
            if not free:
                break  # the rest wait; their reasons stand from earlier passes
            if t.waiting:
                heapq.heappush(queue, (t.usage / t.weight, name))
        self._claims.clear()
        return out

    def preemptions(self, now: float) -> list[Preemption]:
        """Running ingests to stop so tenants under their share get borrowed slots back.

        A victim's tenant must still hold at least as much per weight as the claimant once
        the slot moves (so two tenants never trade a slot back and forth); victims are of no
        higher priority than the claimant's ingest, not about to finish, and not preempted
        ``max_preemptions`` times within the cooldown. The victim is requeued at once; the
        core stops its Job and may resubmit it with the processed seconds it committed.
        """
        if not self.config.preemption:
            return []
        out: list[Preemption] = []
        for run, claimant in self._victims(now):
            self._stop(run.workload.key, now, whole=True)
            count, last = self._preempted.get(run.workload.key, (0, now))
            if now - last >= self.config.preemption_cooldown_seconds:
                count = 0
            done = max(0.0, now - run.started - self.config.overhead_seconds)
            for w in (run.workload, *run.members):  # a batch resumes in Job order
                seconds = min(done / self._rtf_of(run.flavor, w.model), w.remaining)
                done -= seconds * self._rtf_of(run.flavor, w.model)
                self._preempted[w.key] = (count + 1, now)
                self.submit(
                    replace(w, processed=w.processed + seconds, disruptions=w.disruptions + 1)
                )
            out.append(
                Preemption(
                    run.workload.key,
                    run.flavor,
                    Reason.PREEMPTED,
                    f"tenant {claimant} is under its fair share; resumes from its last segment",
                    tuple(m.key for m in run.members),
                )
            )
        return out

    # -- reading -------------------------------------------------------------------------

    def reason(self, key: str, now: float | None = None) -> tuple[Reason, str] | None:
        """Why a waiting ingest waits (O(flavors)); None if not waiting. ``now`` defaults to
        the time of the latest ``admit``."""
        w = self._waiting.get(key)
        if w is None:
            return None
        return self._why(w, self._now if now is None else now)

    def position(self, key: str, now: float, max_age: float = 0.0) -> QueueInfo | None:
        """Where ``key`` stands among the ingests that compete for its flavors, and when it
        should start. All positions are computed together (O(n log n): tenants interleave by
        weight, then the slots of each flavor are replayed as they free) and kept until the
        state or ``now`` changes, so asking for many keys at one ``now`` costs one pass.
        ``max_age`` keeps them up to that many seconds whatever changed (about 0.1 s of CPU
        at 5,000 waiting: a busy queue changes on every event)."""
        if key not in self._waiting:
            return None
        fresh = now - self._positions_at[0] < max_age and key in self._positions
        if not fresh and self._positions_at != (now, self._version):
            self._positions = self._all_positions(now)
            self._positions_at = (now, self._version)
        return self._positions.get(key)

    def speeds(self) -> dict[tuple[str, str], float]:
        """Real-time factor per (flavor, model): configured, then learnt from finished Jobs."""
        return dict(self._rtf)

    def workload(self, key: str) -> Workload | None:
        """The ingest as the scheduler holds it (a preempted one with its estimated progress)."""
        if key in self._waiting:
            return self._waiting[key]
        run = self._running.get(self._member_of.get(key, key))
        if run is None:
            return None
        return next((w for w in (run.workload, *run.members) if w.key == key), None)

    def running(self) -> dict[str, str]:
        """Key of each running Job's first ingest -> flavor."""
        return {k: r.flavor for k, r in self._running.items()}

    def waiting_count(self) -> int:
        return len(self._waiting)

    def usage(self) -> dict[str, float]:
        """Fair-share units (sum of 1/rtf of held slots) per tenant."""
        return {name: t.usage for name, t in self._tenants.items()}

    def gpu_seconds_used(self, tenant: str, now: float) -> float:
        t = self._tenant(tenant)
        return t.gpu_seconds + now * t.gpu_rate - t.gpu_rate_started

    def set_gpu_seconds_used(self, tenant: str, seconds: float) -> None:
        """Restore a tenant's GPU-seconds of finished Jobs (kept by the core across restarts)."""
        self._tenant(tenant).gpu_seconds = seconds

    # -- internals -----------------------------------------------------------------------

    def _tenant(self, name: str) -> _Tenant:
        t = self._tenants.get(name)
        if t is None:
            policy = self._policies.get(name) or TenantPolicy(
                name=name, weight=self.config.default_tenant_weight
            )
            t = self._tenants[name] = _Tenant(policy)
        return t

    def _order(self, w: Workload) -> tuple[float, float]:
        """Heap order within a tenant: aged priority, then due time. An ingest is due at
        ``created`` plus ``size_weight`` times its media length (a 1-minute clip does not wait
        behind a 2-hour film that came a minute earlier); value + aging * (now - due) ranks
        the same whatever ``now``, so ordering by value - aging * due keeps a heap valid."""
        due = w.created + self.config.size_weight * w.duration
        return (self._aging * due - self._class_value(w), due)

    def _class_value(self, w: Workload) -> float:
        value = self._classes.get(w.priority_class)
        base = self._classes[self.config.default_priority_class] if value is None else value
        return base + max(-1000, min(1000, w.priority)) / 1000

    def _class(self, w: Workload) -> tuple[str, bool]:
        return (w.accelerator, w.disruptions >= self.config.max_disruptions)

    def _unqueue(self, key: str) -> Workload:
        self._version += 1
        w = self._waiting.pop(key)
        del self._entry[key]
        t = self._tenants[w.tenant]
        t.waiting -= 1
        t.counts[self._class(w)] -= 1
        self._add_demand(w, -1)
        return w

    def _add_demand(self, w: Workload, sign: int) -> None:
        if w.accelerator == "auto":
            self._auto_media += sign * w.remaining
        for kind in ("gpu", "cpu"):
            if w.accelerator in (kind, "auto"):
                self._demand[kind][0] += sign * w.remaining
                self._demand[kind][1] += sign

    def _compact(self, t: _Tenant) -> None:
        for cls, heap in t.heaps.items():
            t.heaps[cls] = [e for e in heap if self._entry.get(e[3]) == e[2]]
            heapq.heapify(t.heaps[cls])
        for heaps in (t.short, t.long):
            for cls, heap in heaps.items():
                heaps[cls] = [e for e in heap if self._entry.get(e[3]) == e[2]]
                heapq.heapify(heaps[cls])

    def _peek(self, heap: list[tuple[float, float, int, str]]) -> Workload | None:
        entry = self._peek_entry(heap)
        return None if entry is None else self._waiting[entry[3]]

    def _peek_entry(
        self, heap: list[tuple[float, float, int, str]]
    ) -> tuple[float, float, int, str] | None:
        """The live top entry: entries of ingests since admitted, withdrawn or resubmitted
        are dropped here, lazily."""
        while heap:
            _, _, seq, key = heap[0]
            if self._entry.get(key) == seq:
                return heap[0]
            heapq.heappop(heap)
        return None

    def _rtf_of(self, flavor: str, model: str) -> float:
        rtf = self._rtf.get((flavor, model))
        return rtf if rtf is not None else self._rtf[(flavor, DEFAULT_MODEL)]

    def _count_slots(self) -> None:
        for fs in self._flavors.values():
            fs.slots = self._slots_of(fs)
        self._kind_slots = {
            kind: sum(fs.slots for fs in self._flavors.values() if fs.flavor.gpu == kind)
            for kind in (True, False)
        }

    def _slots(self, fs: _FlavorState) -> int:
        return fs.slots

    def _slots_of(self, fs: _FlavorState) -> int:
        f = fs.flavor
        if f.name in self._holds:
            return 0
        if f.autoscaled and fs.total == 0 and (fs.reported or f.gpu):
            return f.max_pending
        if not fs.reported:
            return 0 if f.gpu else f.max_concurrent
        slots = fs.total - fs.others
        return max(0, slots if f.gpu else min(slots, f.max_concurrent))

    def _free(self, fs: _FlavorState) -> int:
        return self._slots(fs) - len(fs.running)

    def _over_budget(self, t: _Tenant, now: float) -> bool:
        budget = t.policy.gpu_seconds_budget
        return budget is not None and self.gpu_seconds_used(t.policy.name, now) >= budget

    def _eligible(self, w: Workload, t: _Tenant, now: float) -> list[_FlavorState]:
        on_demand = w.disruptions >= self.config.max_disruptions
        gpu_ok = w.accelerator != "cpu" and not self._over_budget(t, now)
        k = (w.accelerator, on_demand, gpu_ok)
        found = self._eligible_cache.get(k)
        if found is None:
            found = self._eligible_cache[k] = [
                fs
                for fs in self._flavors.values()
                if (fs.flavor.gpu and gpu_ok or not fs.flavor.gpu and w.accelerator != "gpu")
                and not (on_demand and fs.flavor.spot)
            ]
        return found

    def _wait(self, fs: _FlavorState, now: float) -> float:
        """Seconds until ``fs`` has a slot for the next ingest: the next running Job's end
        not claimed in this pass, or later when the waiting work that may run on its kind
        (GPU or CPU) needs longer to drain, spread over that kind's slots. Counting all of it
        errs long: a busy fast flavor then loses to a free slower one sooner, which keeps
        slots busy (measured in benchmarks/sched_sim.py: this beats counting only the work
        that must run there by a third in mean completion time)."""
        slots = self._slots(fs)
        if slots <= 0:
            return INF
        n = len(fs.running)
        if n < slots:
            return 0.0
        while fs.ends and (
            fs.ends[0][1] not in fs.running or self._running[fs.ends[0][1]].end != fs.ends[0][0]
        ):
            heapq.heappop(fs.ends)
        claimed = self._claims.get(fs.flavor.name, 0)
        if claimed:  # the slot after those claimed in this pass
            ends = sorted(self._running[k].end for k in fs.running)
            first = max(0.0, ends[min(claimed, n - 1)] - now)
        else:
            first = max(0.0, fs.ends[0][0] - now) if fs.ends else 0.0
        backlog = max(0.0, fs.end_sum - n * now)
        kind = "gpu" if fs.flavor.gpu else "cpu"
        kind_slots = self._kind_slots[fs.flavor.gpu]
        media, count = self._demand[kind]
        rtf = self._rtf_of(fs.flavor.name, DEFAULT_MODEL)
        demand = (max(0.0, media) * rtf + count * self.config.overhead_seconds) * slots / kind_slots
        return max(first, (backlog + demand) / slots)

    def _choose(self, w: Workload, t: _Tenant, now: float) -> _Choice:
        """The flavor where ``w`` would finish first, and whether it has a slot now."""
        eligible = self._eligible(w, t, now)
        if not eligible:
            if w.accelerator != "cpu" and self._over_budget(t, now):
                budget = t.policy.gpu_seconds_budget
                msg = f"tenant {t.policy.name} used its {budget:.0f} GPU-seconds; GPU work waits"
                return _Choice(None, False, INF, INF, Reason.BUDGET_EXHAUSTED, msg)
            return _Choice(None, False, INF, INF, Reason.NO_FLAVOR, "no flavor can run it")
        best: _Choice | None = None
        for fs in eligible:
            wait = self._wait(fs, now)
            if wait == INF:
                continue
            start = self.config.overhead_seconds
            if fs.flavor.autoscaled and fs.total == 0:
                start += fs.flavor.scale_up_seconds
            finish = wait + start + w.remaining * self._rtf_of(fs.flavor.name, w.model)
            if best is None or finish < best.finish:
                free = self._free(fs) > 0
                kind = Reason.WAITING_FOR_GPU if fs.flavor.gpu else Reason.WAITING_FOR_CPU
                best = _Choice(fs.flavor, free, wait, finish, kind, "", fs.slots)
        if best is None:
            gpu = any(fs.flavor.gpu for fs in eligible)
            names = ", ".join(fs.flavor.name for fs in eligible)
            what = "no GPU" if gpu else "no CPU slot"
            return _Choice(None, False, INF, INF, Reason.WAITING_FOR_CAPACITY, f"{what} in {names}")
        assert best.flavor is not None
        if best.free:
            best.reason = Reason.ADMITTED
            best.message = f"on {best.flavor.name}, expected done in ~{best.finish:.0f}s"
        else:
            # no time here: the expected start that status shows comes from position()
            n = best.flavor_slots
            best.message = f"waiting for {best.flavor.name}: {n} slot{'s' * (n != 1)}, all busy"
        return best

    def _candidate(self, t: _Tenant, now: float) -> tuple[Workload, _Choice] | None:
        """The tenant's ingest to start now, if any: a *critical* one first (its run alone,
        on the fastest flavor it may use, outlasts the drain of all waiting work: started
        last, it would set the makespan), then the head of each class in (aged priority,
        due) order, then the shortest of each class (which a slot the heads decline, say a
        slow one, finishes before a faster one frees)."""
        floor = self._critical_floor()
        for heap in t.long.values():
            entry = self._peek_entry(heap)
            # -entry[0] is the media left: even on the slowest flavor, too short to matter?
            if entry is None or self.config.overhead_seconds - entry[0] * floor[1] < floor[0]:
                continue
            w = self._waiting[entry[3]]
            if self._fits(w) and w.key not in self._claimed and self._critical(w, t, now):
                choice = self._choose(w, t, now)
                if choice.free:
                    return w, choice
                self._claim(w, choice)
        heads = sorted(e for h in t.heaps.values() if (e := self._peek_entry(h)) is not None)
        for entry in heads:
            w = self._waiting[entry[3]]
            if not self._fits(w):
                continue  # e.g. only a GPU is free and this must run on CPU: it keeps its reason
            choice = self._choose(w, t, now)
            if choice.free:
                return w, choice
            self._claim(w, choice)
        for heap in t.short.values():
            short = self._peek(heap)
            if short is not None and short.key not in self._claimed and self._fits(short):
                choice = self._choose(short, t, now)
                if choice.free:
                    return short, choice
                self._claim(short, choice)
        return None

    def _fits(self, w: Workload) -> bool:
        """Whether a slot of a kind ``w`` may use is free at all in this pass."""
        if w.accelerator == "gpu":
            return self._free_kinds[True] > 0
        if w.accelerator == "cpu":
            return self._free_kinds[False] > 0
        return self._free_kinds[True] + self._free_kinds[False] > 0

    def _critical(self, w: Workload, t: _Tenant, now: float) -> bool:
        eligible = self._eligible(w, t, now)
        if not eligible:
            return False
        best = min(eligible, key=lambda fs: self._rtf_of(fs.flavor.name, w.model))
        run = self.config.overhead_seconds + w.remaining * self._rtf_of(best.flavor.name, w.model)
        # half: the drain estimate errs short (pod starts, preemptions and spot reclaims are
        # not in it); benchmarks/sched_sim.py measured 1.0 -> 0.5 taking 3 % off the makespan
        return run >= 0.5 * self._drain(best.flavor.gpu)

    def _critical_floor(self) -> tuple[float, float]:
        """(Run below which nothing is critical, the slowest rtf): a cheap first test."""
        if "floor" not in self._drains:
            self._drains["floor"] = 0.5 * min(self._drain(True), self._drain(False))
            self._drains["slowest"] = max(self._rtf.values())
        return self._drains["floor"], self._drains["slowest"]

    def _drain(self, gpu: bool) -> float:
        """Seconds until the waiting work that may run on GPU (or CPU) flavors has run, were
        it spread perfectly: its own, and ``auto`` work in proportion to the kind's speed.
        Computed once per ``admit`` pass (nothing it reads changes within one)."""
        cached = self._drains.get(str(gpu))
        if cached is None:
            cached = self._drains[str(gpu)] = self._compute_drain(gpu)
        return cached

    def _compute_drain(self, gpu: bool) -> float:
        rates = {True: 0.0, False: 0.0}
        for fs in self._flavors.values():
            rates[fs.flavor.gpu] += fs.slots / self._rtf_of(fs.flavor.name, DEFAULT_MODEL)
        if rates[gpu] <= 0:
            return INF
        media, count = self._demand["gpu" if gpu else "cpu"]
        own = media - self._auto_media
        auto = self._auto_media * rates[gpu] / (rates[True] + rates[False])
        return (own + auto) / rates[gpu] + count * self.config.overhead_seconds / max(
            1, self._kind_slots[gpu]
        )

    def _claim(self, w: Workload, choice: _Choice) -> None:
        """``w`` waits for ``choice.flavor``: later ingests in this pass see that flavor's
        next free slot taken, so they do not all wait for the same one."""
        if choice.flavor is not None and w.key not in self._claimed:
            self._claimed.add(w.key)
            name = choice.flavor.name
            self._claims[name] = self._claims.get(name, 0) + 1

    def _batch(self, t: _Tenant, w: Workload, fs: _FlavorState) -> tuple[Workload, ...]:
        """Further short ingests of the same class, namespace and model to run in ``w``'s Job.

        As many as split the class's queue evenly over the free slots, and at least enough
        that transcription is ``batch_efficiency`` of the Job's time once the pod has
        started, when that many wait (on CPU flavors too: the trace of sched_sim.py finishes
        1.34 x its bound instead of 1.11 without); at most ``batch_max`` in all, found among
        the next 3 x ``batch_max`` of the class in order."""
        cfg = self.config
        if cfg.batch_max <= 1 or w.remaining > cfg.batch_short_seconds:
            return ()
        cls = self._class(w)
        free = sum(
            max(0, self._free(o))
            for o in self._eligible(w, t, 0.0)
            if o.flavor.gpu == fs.flavor.gpu
        )
        split = math.ceil((t.counts.get(cls, 0) + 1) / max(1, free))
        # transcription / (transcription + overhead) >= efficiency
        e = cfg.batch_efficiency
        enough = cfg.overhead_seconds * e / (1 - e) if e < 1 else INF
        run = w.remaining * self._rtf_of(fs.flavor.name, w.model)
        members: list[Workload] = []
        heap = t.heaps[cls]
        # looked at, not taken: a bounded look past other models and long ones
        passed: list[tuple[float, float, int, str]] = []
        while len(members) + 1 < cfg.batch_max and (len(members) + 1 < split or run < enough):
            if len(passed) >= 2 * cfg.batch_max or self._peek_entry(heap) is None:
                break
            entry = heapq.heappop(heap)
            m = self._waiting[entry[3]]
            if (
                m.remaining > cfg.batch_short_seconds
                or m.model != w.model
                or m.batch_group != w.batch_group
            ):
                passed.append(entry)
                continue
            members.append(self._unqueue(m.key))
            run += m.remaining * self._rtf_of(fs.flavor.name, m.model)
        for entry in passed:
            heapq.heappush(heap, entry)
        return tuple(members)

    def _start(
        self, w: Workload, fs: _FlavorState, now: float, members: tuple[Workload, ...]
    ) -> _Running:
        self._version += 1
        f = fs.flavor
        work = sum(m.remaining * self._rtf_of(f.name, m.model) for m in (w, *members))
        end = now + self.config.overhead_seconds + work
        if f.autoscaled and fs.total == 0:
            end += f.scale_up_seconds
        gpu_rate = f.resource_count * f.gpu_fraction if f.gpu else 0.0
        run = _Running(w, f.name, now, end, 1.0 / self._rtf_of(f.name, DEFAULT_MODEL), gpu_rate)
        run.members = members
        self._running[w.key] = run
        for m in members:
            self._member_of[m.key] = w.key
        fs.running.add(w.key)
        heapq.heappush(fs.ends, (end, w.key))
        fs.end_sum += end
        t = self._tenant(w.tenant)
        t.usage += run.speed
        t.running += 1
        t.gpu_rate += gpu_rate
        t.gpu_rate_started += gpu_rate * now
        return run

    def _stop(self, key: str, now: float | None, whole: bool = False) -> None:
        """``key`` leaves its Job's slot; the slot frees when no ingest of the Job is left
        (``whole``: at once, for every ingest of it)."""
        self._version += 1
        leader = self._member_of.pop(key, None)
        if leader is not None:  # one ingest of a batch: the Job and its slot go on
            job = self._running[leader]
            job.members = tuple(m for m in job.members if m.key != key)
            return
        run = self._running.pop(key, None)
        if run is None:
            return
        if run.members and not whole:  # the batch goes on: its next ingest holds the slot
            run.workload, run.members = run.members[0], run.members[1:]
            nxt = run.workload.key
            del self._member_of[nxt]
            for m in run.members:
                self._member_of[m.key] = nxt
            self._running[nxt] = run
            fs = self._flavors[run.flavor]
            fs.running.discard(key)
            fs.running.add(nxt)
            heapq.heappush(fs.ends, (run.end, nxt))
            return
        fs = self._flavors[run.flavor]
        fs.running.discard(key)
        fs.end_sum -= run.end
        for m in run.members:
            self._member_of.pop(m.key, None)
        t = self._tenants[run.workload.tenant]
        t.running -= 1
        t.usage = t.usage - run.speed if t.running else 0.0
        end = run.started if now is None else max(now, run.started)
        t.gpu_seconds += (end - run.started) * run.gpu_rate
        t.gpu_rate -= run.gpu_rate
        t.gpu_rate_started -= run.gpu_rate * run.started

    def _victims(self, now: float) -> list[tuple[_Running, str]]:
        """Victims for every tenant whose next ingests cannot start, least-served first; the
        usage moves with each pick so one call settles the shares without overshooting."""
        cfg = self.config
        usage = {name: t.usage for name, t in self._tenants.items()}
        claims: dict[str, tuple[float, set[str], int]] = {}  # aged priority, flavors, slots
        for name, t in self._tenants.items():
            heads = [w for h in t.heaps.values() if t.waiting and (w := self._peek(h))]
            choices = [(w, self._choose(w, t, now)) for w in heads]
            if not choices or any(c.free for _, c in choices):
                continue  # admit serves it without taking anything from anyone
            w, choice = min(choices, key=lambda wc: self._order(wc[0]))
            start = cfg.overhead_seconds
            usable = {  # flavors it would take at once if a slot freed there
                fs.flavor.name
                for fs in self._eligible(w, t, now)
                if start + w.remaining * self._rtf_of(fs.flavor.name, w.model) <= choice.finish
            }
            if usable:
                claims[name] = (self._class_value(w), usable, t.waiting)
        taken: set[str] = set()
        out: list[tuple[_Running, str]] = []
        while claims:
            found: tuple[_Running, str] | None = None
            for name in sorted(claims, key=lambda n: usage[n] / self._tenants[n].weight):
                value, usable, _ = claims[name]
                t = self._tenants[name]
                best: tuple[tuple[float, float, float], _Running] | None = None
                for run in self._running.values():
                    u = self._tenants[run.workload.tenant]
                    if u is t or run.flavor not in usable or run.workload.key in taken:
                        continue
                    held = usage[u.policy.name]
                    if (held - run.speed) / u.weight < (usage[name] + run.speed) / t.weight:
                        continue  # the slot would only move the unfairness, not shrink it
                    v_value = self._class_value(run.workload)
                    if v_value > value or run.end - now < cfg.min_remaining_to_preempt:
                        continue
                    count, last = self._preempted.get(run.workload.key, (0, -INF))
                    if (
                        count >= cfg.max_preemptions
                        and now - last < cfg.preemption_cooldown_seconds
                    ):
                        continue  # protected: bounded requeueing
                    rank = (v_value, -held / u.weight, -run.started)
                    if best is None or rank < best[0]:
                        best = (rank, run)
                if best is not None:
                    found = (best[1], name)
                    break
            if found is None:
                break
            run, name = found
            taken.add(run.workload.key)
            usage[name] += run.speed
            usage[run.workload.tenant] -= run.speed
            value, usable, left = claims[name]
            if left <= 1:
                del claims[name]
            else:
                claims[name] = (value, usable, left - 1)
            out.append(found)
        return out

    def _why(self, w: Workload, now: float) -> tuple[Reason, str]:
        choice = self._choose(w, self._tenants[w.tenant], now)
        if choice.free:  # a slot is free for it: the next admit takes it
            gpu = choice.flavor is not None and choice.flavor.gpu
            kind = Reason.WAITING_FOR_GPU if gpu else Reason.WAITING_FOR_CPU
            return kind, f"about to start: {choice.message}"
        return choice.reason, choice.message

    def _all_positions(self, now: float) -> dict[str, QueueInfo]:
        by_tenant: dict[str, list[Workload]] = {}
        for w in self._waiting.values():
            by_tenant.setdefault(w.tenant, []).append(w)
        # the i-th ingest of a tenant, in its own order, comes at (i + 1) / weight
        order: list[tuple[float, tuple[float, float], Workload]] = []
        for name, items in by_tenant.items():
            weight = self._tenants[name].weight
            items.sort(key=self._order)
            order += [((i + 1) / weight, self._order(w), w) for i, w in enumerate(items)]
        order.sort(key=lambda e: (e[0], e[1]))
        free_at: dict[str, list[float]] = {}
        for name, fs in self._flavors.items():
            ends = sorted(max(now, self._running[k].end) for k in fs.running)[: fs.slots]
            free_at[name] = ends + [now] * max(0, fs.slots - len(ends))
            heapq.heapify(free_at[name])
        seen: dict[frozenset[str], int] = {}
        out: dict[str, QueueInfo] = {}
        for _, _, w in order:
            eligible = self._eligible(w, self._tenants[w.tenant], now)
            names = frozenset(fs.flavor.name for fs in eligible)
            ahead = sum(n for other, n in seen.items() if other & names)
            seen[names] = seen.get(names, 0) + 1
            best: tuple[float, float, str] | None = None  # finish, start, flavor
            for fs in eligible:
                heap = free_at[fs.flavor.name]
                if heap:
                    run = self.config.overhead_seconds + w.remaining * self._rtf_of(
                        fs.flavor.name, w.model
                    )
                    if best is None or heap[0] + run < best[0]:
                        best = (heap[0] + run, heap[0], fs.flavor.name)
            start = INF
            if best is not None:
                start = best[1] - now
                heapq.heapreplace(free_at[best[2]], best[0])
            reason, message = self._why(w, now)
            out[w.key] = QueueInfo(ahead + 1, ahead, start, tuple(sorted(names)), reason, message)
        return out
