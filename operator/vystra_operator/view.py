"""What the operator remembers of each object: compact, immutable records made from watch
events. Only the fields that decisions read are kept, so 5,000 VideoIngests cost a few MiB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vystra.k8s import TENANT_LABEL, Caller
from vystra.videoingest import Phase, Spec
from vystra_operator.jobs import (
    FINALIZER,
    INGESTS_ANNOTATION,
    LABEL_POOL,
    LABEL_UID,
    TENANT_ANNOTATION,
)


def ingest_uids(meta: dict[str, Any]) -> tuple[str, ...]:
    """The ingests a Job (or its pod) runs, in order: its label's, or a batch's list."""
    listed = (meta.get("annotations") or {}).get(INGESTS_ANNOTATION)
    if listed:
        return tuple(listed.split(","))
    return ((meta.get("labels") or {}).get(LABEL_UID, ""),)


def parse_time(value: str | None) -> float:
    if not value:
        return datetime.now(UTC).timestamp()
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Ingest:
    uid: str
    namespace: str
    name: str
    generation: int
    created: float
    spec: Spec
    phase: Phase | None
    reason: str | None
    message: str | None
    attempts: int
    video_id: str | None
    reused: bool
    processed: float
    duration: float
    segments: int
    disruptions: int
    last_disruption: str | None
    started_at: str | None
    conditions: tuple[tuple[tuple[str, Any], ...], ...]  # metav1.Conditions, frozen
    body: Any = None  # the metadata the Job is rendered from (name, uid, namespace)
    visual: float | None = None  # progress.visualSeconds
    caller: Caller = Caller()  # the API request that made it, read once from its annotations

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def terminal(self) -> bool:
        return self.phase is not None and self.phase.terminal

    def condition_list(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self.conditions]

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> Ingest:
        meta, status = obj["metadata"], obj.get("status") or {}
        progress = status.get("progress") or {}
        try:
            phase = Phase(status["phase"]) if status.get("phase") else None
        except ValueError:
            phase = None
        try:
            spec = Spec.from_body(obj)
        except (ValueError, TypeError):
            spec = Spec(source="")
        return cls(
            uid=meta["uid"],
            namespace=meta["namespace"],
            name=meta["name"],
            generation=int(meta.get("generation") or 1),
            created=parse_time(meta.get("creationTimestamp")),
            spec=spec,
            phase=phase,
            reason=status.get("reason"),
            message=status.get("message"),
            attempts=int(status.get("attempts") or 0),
            video_id=status.get("videoId"),
            reused=bool(status.get("reused")),
            processed=float(progress.get("processedSeconds") or 0),
            duration=float(progress.get("durationSeconds") or 0),
            segments=int(progress.get("segments") or 0),
            visual=(
                float(progress["visualSeconds"])
                if progress.get("visualSeconds") is not None
                else None
            ),
            disruptions=int(status.get("disruptions") or 0),
            last_disruption=status.get("lastDisruption"),
            started_at=status.get("startedAt"),
            conditions=tuple(tuple(sorted(c.items())) for c in status.get("conditions") or []),
            body={
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                    "labels": meta.get("labels") or {},
                    "annotations": meta.get("annotations") or {},
                },
                "spec": obj.get("spec") or {},
            },
            caller=Caller.of(meta),
        )


@dataclass(frozen=True)
class Job:
    uid: str
    namespace: str
    name: str
    ingest_uids: tuple[str, ...]  # one, or a batch of short ingests run in turn
    pool: str
    created: float
    finished: str | None  # Complete | Failed | None
    failure_reason: str | None
    failure_message: str | None
    attempts: int
    active: int
    finished_at: float | None
    deleting: bool
    held: bool  # our finalizer is on it
    tenant: str  # as bound when the Job was made
    suspended: bool = False  # admission: kueue, until Kueue admits it

    @property
    def batched(self) -> bool:
        return len(self.ingest_uids) > 1

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> Job:
        meta, status = obj["metadata"], obj.get("status") or {}
        labels = meta.get("labels") or {}
        finished = reason = message = None
        finished_at = None
        for cond in status.get("conditions") or []:
            if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
                finished = cond["type"]
                finished_at = parse_time(cond.get("lastTransitionTime"))
                if finished == "Failed":
                    reason, message = cond.get("reason"), cond.get("message")
        active = int(status.get("active") or 0)
        return cls(
            uid=meta["uid"],
            namespace=meta["namespace"],
            name=meta["name"],
            ingest_uids=ingest_uids(meta),
            pool=labels.get(LABEL_POOL, ""),
            created=parse_time(meta.get("creationTimestamp")),
            finished=finished,
            failure_reason=reason,
            failure_message=message,
            attempts=active + int(status.get("failed") or 0) + int(status.get("succeeded") or 0),
            active=active,
            finished_at=finished_at,
            deleting=bool(meta.get("deletionTimestamp")),
            held=FINALIZER in (meta.get("finalizers") or []),
            tenant=(meta.get("annotations") or {}).get(TENANT_ANNOTATION, ""),
            suspended=bool((obj.get("spec") or {}).get("suspend")),
        )


@dataclass(frozen=True)
class Pod:
    uid: str
    namespace: str
    name: str
    ingest_uids: tuple[str, ...]
    node: str | None
    created: float
    terminal: bool
    disrupted: bool  # a DisruptionTarget condition: evicted, preempted, spot reclaim
    unschedulable_since: float | None  # the scheduler found no node for it, since then

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> Pod:
        meta, status = obj["metadata"], obj.get("status") or {}
        return cls(
            uid=meta["uid"],
            namespace=meta["namespace"],
            name=meta["name"],
            ingest_uids=ingest_uids(meta),
            node=(obj.get("spec") or {}).get("nodeName"),
            created=parse_time(meta.get("creationTimestamp")),
            terminal=status.get("phase") in ("Succeeded", "Failed"),
            disrupted=any(
                c.get("type") == "DisruptionTarget" and c.get("status") == "True"
                for c in status.get("conditions") or []
            ),
            unschedulable_since=next(
                (
                    parse_time(c.get("lastTransitionTime"))
                    for c in status.get("conditions") or []
                    if c.get("type") == "PodScheduled"
                    and c.get("status") == "False"
                    and c.get("reason") == "Unschedulable"
                ),
                None,
            ),
        )


@dataclass(frozen=True)
class Node:
    uid: str
    name: str
    labels: tuple[tuple[str, str], ...]
    usable: bool  # Ready and schedulable
    allocatable: tuple[tuple[str, str], ...]

    def matches(self, selector: dict[str, str]) -> bool:
        labels = dict(self.labels)
        return all(labels.get(k) == v for k, v in selector.items())

    def count(self, resource: str) -> int:
        value = dict(self.allocatable).get(resource, "0")
        try:
            return int(value)
        except ValueError:
            return 0

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> Node:
        meta, status, spec = obj["metadata"], obj.get("status") or {}, obj.get("spec") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        return cls(
            uid=meta["uid"],
            name=meta["name"],
            labels=tuple(sorted((meta.get("labels") or {}).items())),
            usable=ready and not spec.get("unschedulable", False),
            allocatable=tuple(sorted((status.get("allocatable") or {}).items())),
        )


@dataclass(frozen=True)
class Namespace:
    """A namespace bound to a tenant by the platform (its ``vystra.io/tenant`` label)."""

    uid: str
    name: str
    tenant: str | None

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> Namespace:
        meta = obj["metadata"]
        return cls(meta["uid"], meta["name"], (meta.get("labels") or {}).get(TENANT_LABEL))


@dataclass(frozen=True)
class KueueWorkload:
    """Kueue's Workload for one of our Jobs: why Kueue has not admitted it (yet, or again)."""

    uid: str
    job_uid: str
    reason: str | None  # Kueue's, e.g. Pending (no quota) or Preempted
    message: str

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> KueueWorkload:
        meta, status = obj["metadata"], obj.get("status") or {}
        owner = next(
            (o["uid"] for o in meta.get("ownerReferences") or [] if o.get("kind") == "Job"), ""
        )
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        reason, message = None, ""
        for kind, waiting in (("QuotaReserved", "False"), ("Evicted", "True")):
            c = conditions.get(kind)
            if c is not None and c.get("status") == waiting:
                reason, message = c.get("reason"), c.get("message") or ""
                break
        return cls(meta["uid"], owner, reason, message)
