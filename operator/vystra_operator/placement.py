"""Admission and placement: which waiting VideoIngests start now, and on which pool.

Pure functions over a snapshot, so the policy is tested without a cluster and the reconcile
loop can recompute it from scratch after any restart.

Policy: candidates are taken by priority (high first), then age (old first). ``gpu`` work
waits for a free GPU; ``cpu`` work waits for a CPU slot; ``auto`` work takes a free GPU, or
runs on CPU when it would finish there sooner: when the expected wait for a GPU plus the run on
it is longer than the run on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    key: str  # namespace/name
    accelerator: str  # auto | gpu | cpu
    priority: int
    created: datetime
    duration: float  # expected seconds of media


@dataclass(frozen=True)
class Capacity:
    gpu_free: int  # GPUs allocatable in the GPU pool minus GPU Jobs running
    gpu_total: int
    cpu_free: int  # CPU Job slots left


@dataclass(frozen=True)
class Speeds:
    gpu_rtf: float  # processing seconds per media second on a GPU
    cpu_rtf: float
    overhead: float  # pod start and model load per Job
    typical_duration: float  # media length assumed for Jobs already queued or running


@dataclass(frozen=True)
class Decision:
    pool: str | None  # None: stays queued
    reason: str
    message: str
    queue_position: int = 0


def order(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (-c.priority, c.created, c.key))


def expected_gpu_wait(ahead: int, capacity: Capacity, speeds: Speeds) -> float:
    """Seconds until a GPU frees for work with ``ahead`` GPU Jobs queued before it."""
    if capacity.gpu_total == 0:
        return float("inf")
    job_seconds = speeds.overhead + speeds.typical_duration * speeds.gpu_rtf
    # every GPU is busy: the first frees after about half a Job, then one per Job per GPU
    rounds = ahead // capacity.gpu_total
    return job_seconds * (rounds + 0.5)


def place(candidates: list[Candidate], capacity: Capacity, speeds: Speeds) -> dict[str, Decision]:
    gpu_free, cpu_free = capacity.gpu_free, capacity.cpu_free
    gpu_queue = cpu_queue = 0
    decisions: dict[str, Decision] = {}
    for c in order(candidates):
        wants_gpu = c.accelerator in ("gpu", "auto")
        if wants_gpu and gpu_free > 0:
            gpu_free -= 1
            decisions[c.key] = Decision("gpu", "Admitted", "a GPU is free")
            continue
        if c.accelerator == "auto":
            wait = expected_gpu_wait(gpu_queue, capacity, speeds)
            gpu_done = wait + speeds.overhead + c.duration * speeds.gpu_rtf
            cpu_done = speeds.overhead + c.duration * speeds.cpu_rtf
            if cpu_free > 0 and cpu_done < gpu_done:
                cpu_free -= 1
                decisions[c.key] = Decision(
                    "cpu",
                    "Admitted",
                    f"GPU wait ~{wait:.0f}s: done on CPU in ~{cpu_done:.0f}s, on GPU in"
                    f" ~{gpu_done:.0f}s",
                )
                continue
        if c.accelerator == "cpu":
            if cpu_free > 0:
                cpu_free -= 1
                decisions[c.key] = Decision("cpu", "Admitted", "a CPU slot is free")
                continue
            cpu_queue += 1
            decisions[c.key] = Decision(
                None, "WaitingForCPU", f"all CPU slots busy; position {cpu_queue}", cpu_queue
            )
            continue
        gpu_queue += 1
        message = (
            f"no GPU in the pool; position {gpu_queue}"
            if capacity.gpu_total == 0
            else f"all {capacity.gpu_total} GPUs busy; position {gpu_queue}"
        )
        decisions[c.key] = Decision(None, "WaitingForGPU", message, gpu_queue)
    return decisions
