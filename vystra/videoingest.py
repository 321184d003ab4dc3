"""The VideoIngest resource, typed: the one definition that the operator, the worker, the CLI
and both API backends read a spec and write a status through.

``crds/videoingest.yaml`` is the schema the API server enforces; ``tests/test_videoingest.py``
keeps this module and that schema in agreement (fields, enums, defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

GROUP = "vystra.io"
VERSION = "v1alpha1"
PLURAL = "videoingests"
KIND = "VideoIngest"
API_VERSION = f"{GROUP}/{VERSION}"


class Phase(StrEnum):
    PENDING = "Pending"  # seen, not yet placed
    QUEUED = "Queued"  # waiting for capacity
    RUNNING = "Running"  # its Job exists
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED)


class Accelerator(StrEnum):
    AUTO = "auto"
    GPU = "gpu"
    CPU = "cpu"


class ConditionType(StrEnum):
    ADMITTED = "Admitted"
    RUNNING = "Running"
    READY = "Ready"  # True once Succeeded: what `kubectl wait` and GitOps health checks read
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    DISRUPTED = "Disrupted"  # True once a pod was disrupted or the Job preempted


class Reason(StrEnum):
    """Reasons the operator writes. A worker reports the pipeline's own reasons (NoAudioTrack,
    CorruptMedia, QuotaExceeded, ...), which pass through as strings."""

    CREATED = "Created"
    JOB_CREATED = "JobCreated"
    JOB_RECREATED = "JobRecreated"
    JOB_REJECTED = "JobRejected"
    JOB_RUNNING = "JobRunning"
    JOB_RETRYING = "JobRetrying"
    JOB_FAILED = "JobFailed"
    JOB_LOST = "JobLost"
    COMPLETED = "Completed"
    WAITING_FOR_GPU = "WaitingForGPU"
    WAITING_FOR_CPU = "WaitingForCPU"
    WAITING_FOR_CAPACITY = "WaitingForCapacity"
    WAITING_FOR_KUEUE = "WaitingForKueue"  # admission: kueue: its Job waits for Kueue
    INVALID_SPEC = "InvalidSpec"
    TENANT_UNBOUND = "TenantUnbound"
    DISRUPTED = "Disrupted"  # a pod evicted or reclaimed: the Job retries, the ingest resumes
    PREEMPTED = "Preempted"  # its Job stopped for a tenant under its fair share: waits again
    UNSCHEDULABLE = "Unschedulable"  # its pods found no node in time: withdrawn, waits again
    OUTCOME_MISSING = "OutcomeMissing"  # the worker exited 0 mid-ingest, without its outcome


OPERATOR_REASONS = frozenset(r.value for r in Reason)


@dataclass(frozen=True)
class Segmenting:
    target_seconds: float = 15.0
    overlap_seconds: float = 3.0


@dataclass(frozen=True)
class Visual:
    enabled: bool = True
    interval_seconds: float = 10.0
    scene_threshold: float = 0.3
    ocr: bool = True


@dataclass(frozen=True)
class Resources:
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    """``spec`` with the CRD's defaults applied (the API server applies them too; a body read
    from an older object or written by hand may lack them)."""

    source: str
    title: str | None = None
    language: str | None = None
    model: str | None = None
    accelerator: Accelerator = Accelerator.AUTO
    priority: int = 0
    priority_class: str | None = None  # one the administrator defines; unknown: the default
    duration_hint_seconds: float | None = None
    segmenting: Segmenting = Segmenting()
    visual: Visual = Visual()
    insights: bool = True
    retain: bool = False
    resources: Resources = Resources()

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Spec:
        spec = body.get("spec") or {}
        seg = spec.get("segmenting") or {}
        vis = spec.get("visual") or {}
        res = spec.get("resources") or {}
        return cls(
            source=str(spec.get("source") or ""),
            title=spec.get("title") or None,
            language=spec.get("language") or None,
            model=spec.get("model") or None,
            accelerator=Accelerator(spec.get("accelerator") or "auto"),
            priority=int(spec.get("priority") or 0),
            priority_class=spec.get("priorityClass") or None,
            duration_hint_seconds=(
                float(spec["durationHintSeconds"]) if spec.get("durationHintSeconds") else None
            ),
            segmenting=Segmenting(
                float(seg.get("targetSeconds", Segmenting.target_seconds)),
                float(seg.get("overlapSeconds", Segmenting.overlap_seconds)),
            ),
            visual=Visual(
                bool(vis.get("enabled", Visual.enabled)),
                float(vis.get("intervalSeconds", Visual.interval_seconds)),
                float(vis.get("sceneThreshold", Visual.scene_threshold)),
                bool(vis.get("ocr", Visual.ocr)),
            ),
            insights=bool(spec.get("insights", True)),
            retain=bool(spec.get("retain", False)),
            resources=Resources(
                {k: str(v) for k, v in (res.get("requests") or {}).items()},
                {k: str(v) for k, v in (res.get("limits") or {}).items()},
            ),
        )


def progress(
    processed: float, duration: float, segments: int, visual: float | None = None
) -> dict[str, Any]:
    """``status.progress``; ``percent`` is a string for the printer column."""
    share = min(100, int(100 * processed / duration)) if duration > 0 else 0
    body: dict[str, Any] = {
        "processedSeconds": round(processed, 2),
        "durationSeconds": round(duration, 2),
        "segments": segments,
        "percent": f"{share}%",
    }
    if visual is not None:
        body["visualSeconds"] = round(visual, 2)
    return body
