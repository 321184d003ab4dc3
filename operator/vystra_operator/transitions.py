"""The VideoIngest state machine: what status each observation calls for.

Pure functions from records (view.py) to a ``Want``: the status fields to write, conditions to
set, the Event to post, usage to meter and whether the Job may go. No I/O, so every transition
is unit-tested without a cluster (tests/operator/test_transitions.py).

    (none) ──admitted──► Running ──Job Complete──► Succeeded
       │                   │  └───Job Failed────► Failed
       └──queued──► Queued ┘
    (any non-terminal) ──Job refused by the API server──► Failed (JobRejected)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from vystra.db.reports import Report
from vystra.videoingest import OPERATOR_REASONS, ConditionType, Phase, Reason, progress
from vystra_operator.view import Ingest, Job, Pod

POD_FAILURE_POLICY = "PodFailurePolicy"  # the Job's failure reason when a FailJob rule matched


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Condition:
    type: ConditionType
    status: bool
    reason: str
    message: str


@dataclass(frozen=True)
class Usage:
    """Plain facts for billing: the operator never hands it a VideoIngest body."""

    tenant: str
    ingest_id: str  # the resource's name
    ingest_key: str  # its uid: names are reused after a delete
    seconds: float
    video_id: str | None
    reused: bool = False  # the bytes were indexed before: metered only if never metered


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Want:
    status: dict[str, Any]
    conditions: tuple[Condition, ...] = ()
    event: Event | None = None
    usage: Usage | None = None
    release_job: bool = False  # the outcome is recorded once this is written: the Job may go
    terminal: bool = False
    stage_seconds: Mapping[str, float] | None = None  # the worker's, with a success

    def merged(self, later: Want) -> Want:
        """This want with a later one on top: one write carries both."""
        types = {c.type for c in later.conditions}
        return Want(
            status={**self.status, **later.status},
            conditions=tuple(c for c in self.conditions if c.type not in types) + later.conditions,
            event=later.event or self.event,
            usage=later.usage or self.usage,
            release_job=later.release_job or self.release_job,
            terminal=later.terminal or self.terminal,
            stage_seconds=later.stage_seconds or self.stage_seconds,
        )


@dataclass(frozen=True)
class Outcome:
    """What a finished Job means for its resource (media and wall seconds feed the scheduler's
    learnt speeds)."""

    want: Want
    media_seconds: float | None = None
    wall_seconds: float | None = None


def set_conditions(
    current: list[dict[str, Any]], updates: tuple[Condition, ...], generation: int
) -> list[dict[str, Any]]:
    """metav1.Conditions merged by type; lastTransitionTime moves only when status flips."""
    out = [dict(c) for c in current]
    for update in updates:
        value = "True" if update.status else "False"
        fields = {
            "status": value,
            "reason": update.reason,
            "message": update.message[:32768],
            "observedGeneration": generation,
        }
        for cond in out:
            if cond["type"] == update.type:
                if cond["status"] != value:
                    cond["lastTransitionTime"] = now_iso()
                cond.update(fields)
                break
        else:
            out.append({"type": str(update.type), "lastTransitionTime": now_iso(), **fields})
    return out


def admitted(ing: Ingest, pool: str, job_name: str, message: str) -> Want:
    recreated = ing.phase == Phase.RUNNING  # its Job vanished before an outcome was seen
    reason = Reason.JOB_RECREATED if recreated else Reason.JOB_CREATED
    text = f"Job {job_name} on the {pool} pool: {message}"
    return Want(
        status={
            "phase": Phase.RUNNING,
            "reason": reason,
            "message": text,
            "pool": pool,
            "jobName": job_name,
            "startedAt": ing.started_at or now_iso(),
            "queue": None,  # merge patch: no longer queued
        },
        conditions=(
            Condition(ConditionType.ADMITTED, True, reason, text),
            Condition(ConditionType.RUNNING, True, reason, text),
        ),
        event=Event("Normal", "Admitted", text),
    )


def queued(ing: Ingest, reason: str, message: str) -> Want | None:
    if ing.phase == Phase.QUEUED and ing.reason == reason:
        return None  # nothing new to say: no write
    return Want(
        status={"phase": Phase.QUEUED, "reason": reason, "message": message, "queuedAt": now_iso()},
        conditions=(Condition(ConditionType.ADMITTED, False, reason, message),),
        event=Event("Normal", "Queued", message) if ing.phase != Phase.QUEUED else None,
    )


def failed(reason: str, message: str) -> Want:
    return Want(
        status={
            "phase": Phase.FAILED,
            "reason": reason,
            "message": message,
            "finishedAt": now_iso(),
        },
        conditions=(
            Condition(ConditionType.RUNNING, False, reason, message),
            Condition(ConditionType.READY, False, reason, message),
            Condition(ConditionType.FAILED, True, reason, message),
        ),
        event=Event("Warning", reason, message),
        release_job=True,
        terminal=True,
    )


def rejected(message: str) -> Want:
    """The API server refused the Job for this resource's own reasons: retrying cannot help."""
    return failed(Reason.JOB_REJECTED, f"the API server refused the worker Job: {message}")


def worker_failure(report: Report | None, job: Job) -> tuple[str, str]:
    """The worker's own reason (e.g. NoAudioTrack) if it reported one, else the Job's."""
    if report is not None and report.reason and report.reason not in OPERATOR_REASONS:
        return report.reason, report.message or report.reason
    if job.failure_reason:
        return job.failure_reason, job.failure_message or job.failure_reason
    return Reason.JOB_FAILED, "the worker Job failed"


def awaiting_report(job: Job, report: Report | None) -> bool:
    """A finished Job whose worker's last report may still be on its way: a success's final
    figures, or the reason of the bad input that failed it by the pod failure policy."""
    if job.finished == "Complete":
        return report is None or not report.done
    if job.finished == "Failed" and job.failure_reason == POD_FAILURE_POLICY:
        return report is None or not report.reason
    return False


def reported(ing: Ingest, report: Report | None) -> dict[str, Any]:
    """The status fields a report changes; empty when status already shows it."""
    if report is None or report.video_id is None:
        return {}
    if (report.video_id, report.reused, report.processed, report.segments, report.visual) == (
        ing.video_id,
        ing.reused,
        ing.processed,
        ing.segments,
        ing.visual,
    ):
        return {}
    return {
        "videoId": report.video_id,
        "reused": report.reused,
        "progress": progress(report.processed, report.duration, report.segments, report.visual),
    }


def disruption(ing: Ingest, pods: list[Pod]) -> Want | None:
    """A pod of the Job disrupted (evicted, preempted by the cluster, spot reclaim), told once
    per pod: the Job's failure policy retries it without counting, and the retry resumes."""
    hit = max((p for p in pods if p.disrupted), key=lambda p: p.created, default=None)
    if hit is None or hit.name == ing.last_disruption:
        return None
    message = (
        f"pod {hit.name} was disrupted (evicted, preempted or reclaimed); the Job runs it"
        " again and the ingest resumes after its stored segments"
    )
    return _disrupted(ing, hit.name, Reason.DISRUPTED, message)


def requeued(ing: Ingest, reason: Reason, message: str, disrupted: str | None = None) -> Want:
    """Its Job is stopped and it waits again: preempted for a tenant under its fair share or
    reclaimed once too often on spot (``disrupted``: the Job or pod, counted as a disruption),
    or withdrawn because its pods could not be scheduled."""
    stopped = (
        _disrupted(ing, disrupted, reason, message)
        if disrupted is not None
        else Want(
            status={"reason": reason, "message": message},
            event=Event("Warning", reason, message),
        )
    )
    return replace(
        stopped,
        status={**stopped.status, "phase": Phase.QUEUED, "queuedAt": now_iso()},
        conditions=(
            *stopped.conditions,
            Condition(ConditionType.ADMITTED, False, reason, message),
            Condition(ConditionType.RUNNING, False, reason, message),
        ),
    )


def _disrupted(ing: Ingest, what: str, reason: Reason, message: str) -> Want:
    return Want(
        status={
            "reason": reason,
            "message": message,
            "disruptions": ing.disruptions + 1,
            "lastDisruption": what,
        },
        conditions=(Condition(ConditionType.DISRUPTED, True, reason, message),),
        event=Event("Warning", reason, message),
    )


def cancelled_usage(ing: Ingest, tenant: str | None) -> Usage | None:
    """What a resource deleted before it ended had processed: metered like a success, so
    cancelling at 99 % (and keeping the index with ``retain``) is not free."""
    if ing.terminal or tenant is None or ing.reused or ing.processed <= 0:
        return None
    return Usage(tenant, ing.name, ing.uid, ing.processed, ing.video_id)


def observe_job(
    ing: Ingest, job: Job, pods: list[Pod], tenant: str, now: float, report: Report | None
) -> Outcome | None:
    """Status that a Job's state and its worker's report call for; None when status already
    says it all. In a batch (several ingests in one Job) each ingest's outcome is its worker's
    report as soon as it lands; the Job's own end decides only for those left without one."""
    latest = max(pods, key=lambda p: p.created, default=None)
    final: dict[str, Any] = {"attempts": max(job.attempts, 1)}
    if latest is not None and latest.node:
        final["node"] = latest.node
    wall = (job.finished_at or now) - job.created
    if job.batched and report is not None and not report.done and _bad_input(report):
        base = failed(*worker_failure(report, job))
        return Outcome(replace(base, status={**final, **reported(ing, report), **base.status}))
    if job.batched and report is not None and report.done:
        return _succeeded(ing, job, tenant, report, final, wall)
    if job.finished == "Complete" and report is not None and not report.done:
        # it reported progress, then ended "successfully" without its outcome: the index is
        # partial; never call that a success (a re-apply resumes after the stored segments)
        shown = progress(report.processed, report.duration, report.segments)["percent"]
        base = failed(
            Reason.OUTCOME_MISSING,
            f"the worker exited without reporting its outcome, {shown} processed;"
            " apply the resource again to resume",
        )
        return Outcome(replace(base, status={**final, **reported(ing, report), **base.status}))
    if job.finished == "Complete":  # a worker image that reports nothing: its exit says
        return _succeeded(ing, job, tenant, report or Report(ing.uid, tenant), final, wall)
    if job.finished == "Failed":
        reason, message = worker_failure(report, job)
        base = failed(reason, message)
        return Outcome(replace(base, status={**final, **reported(ing, report), **base.status}))
    progressed = reported(ing, report)
    if progressed and latest is not None and latest.node:
        progressed["node"] = latest.node
    if ing.phase != Phase.RUNNING:
        text = f"Job {job.name} on the {job.pool} pool"
        return Outcome(
            Want(
                status={
                    **progressed,
                    "phase": Phase.RUNNING,
                    "pool": job.pool,
                    "jobName": job.name,
                    "reason": Reason.JOB_CREATED,
                    "message": text,
                },
                conditions=(
                    Condition(ConditionType.ADMITTED, True, Reason.JOB_CREATED, text),
                    Condition(ConditionType.RUNNING, True, Reason.JOB_CREATED, text),
                ),
            )
        )
    if job.attempts > 1 and job.attempts != ing.attempts:
        message = f"retrying after a failed pod: attempt {job.attempts}"
        return Outcome(
            Want(
                status={
                    **progressed,
                    "attempts": job.attempts,
                    "reason": Reason.JOB_RETRYING,
                    "message": message,
                },
                event=Event("Warning", Reason.JOB_RETRYING, message),
            )
        )
    # progress as segments land, at most as often as the worker reports (once a second)
    return Outcome(Want(status=progressed)) if progressed else None


def _bad_input(report: Report) -> bool:
    return bool(report.reason) and report.reason not in OPERATOR_REASONS


def _succeeded(
    ing: Ingest, job: Job, tenant: str, r: Report, final: dict[str, Any], wall: float
) -> Outcome:
    """Succeeded, metered. A single ingest's Job is let go once this is written, and its run
    teaches the flavor's speed; a batch's Job waits for all its ingests (the operator lets it
    go), and one ingest's share of its wall time is not known."""
    message = f"{r.segments} segments indexed"
    want = Want(
        status={
            **final,
            **reported(ing, r),
            "phase": Phase.SUCCEEDED,
            "reason": Reason.COMPLETED,
            "message": message,
            "finishedAt": now_iso(),
        },
        conditions=(
            Condition(ConditionType.RUNNING, False, Reason.COMPLETED, message),
            Condition(ConditionType.READY, True, Reason.COMPLETED, message),
            Condition(ConditionType.SUCCEEDED, True, Reason.COMPLETED, message),
        ),
        event=Event("Normal", Reason.COMPLETED, message),
        usage=Usage(tenant, ing.name, ing.uid, r.duration or r.processed, r.video_id, r.reused),
        release_job=not job.batched,
        terminal=True,
        stage_seconds=r.stages,
    )
    if job.batched:
        return Outcome(want)
    return Outcome(want, media_seconds=r.duration or None, wall_seconds=wall)
