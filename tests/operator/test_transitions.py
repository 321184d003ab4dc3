"""The VideoIngest state machine, from records to wanted statuses, without a cluster."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from vystra.db.reports import Report
from vystra.videoingest import ConditionType, Phase, Reason
from vystra_operator.transitions import (
    Condition,
    Usage,
    admitted,
    awaiting_report,
    cancelled_usage,
    disruption,
    observe_job,
    queued,
    rejected,
    requeued,
    set_conditions,
)
from vystra_operator.view import Ingest, Job, Pod

NOW = time.time()


def ingest(status: dict[str, Any] | None = None, **spec: Any) -> Ingest:
    return Ingest.from_object(
        {
            "metadata": {
                "name": "talk",
                "namespace": "vystra-acme",
                "uid": "u-1",
                "generation": 2,
                "creationTimestamp": "2026-12-01T10:00:00Z",
            },
            "spec": {"source": "s3://b/talk.mp4", **spec},
            "status": status or {},
        }
    )


def job(conditions: list[dict[str, Any]] | None = None, **status: Any) -> Job:
    return Job.from_object(
        {
            "metadata": {
                "name": "talk-vi-1234",
                "namespace": "vystra-acme",
                "uid": "j-1",
                "creationTimestamp": "2026-12-01T10:00:01Z",
                "labels": {"vystra.io/ingest-uid": "u-1", "vystra.io/pool": "gpu"},
                "finalizers": ["vystra.io/outcome"],
            },
            "status": {"conditions": conditions or [], **status},
        }
    )


def pod(node: str, name: str = "p", disrupted: bool = False, second: int = 2) -> Pod:
    conditions = [{"type": "DisruptionTarget", "status": "True"}] if disrupted else []
    return Pod.from_object(
        {
            "metadata": {
                "name": name,
                "namespace": "vystra-acme",
                "uid": f"uid-{name}",
                "creationTimestamp": f"2026-12-01T10:00:{second:02d}Z",
                "labels": {"vystra.io/ingest-uid": "u-1"},
            },
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": conditions},
        }
    )


def test_admission_sets_running_with_admitted_and_running_conditions():
    want = admitted(ingest(), "gpu", "talk-vi-1234", "a GPU is free")
    assert want.status["phase"] == Phase.RUNNING and want.status["jobName"] == "talk-vi-1234"
    assert want.status["reason"] == Reason.JOB_CREATED
    assert {c.type for c in want.conditions} == {ConditionType.ADMITTED, ConditionType.RUNNING}
    assert want.event is not None and want.event.reason == "Admitted"
    assert not want.terminal and want.usage is None


def test_admission_after_a_vanished_job_says_recreated():
    want = admitted(ingest({"phase": "Running"}), "cpu", "j", "a CPU slot is free")
    assert want.status["reason"] == Reason.JOB_RECREATED


def test_queued_is_written_once_per_reason():
    first = queued(ingest(), "WaitingForGPU", "all GPUs busy")
    assert first is not None and first.status["phase"] == Phase.QUEUED
    assert first.event is not None
    same = ingest({"phase": "Queued", "reason": "WaitingForGPU"})
    assert queued(same, "WaitingForGPU", "all GPUs busy") is None
    other = queued(same, "BudgetExhausted", "over budget")
    assert other is not None and other.event is None  # still Queued: no second Event


def test_a_running_job_writes_only_new_progress():
    running = ingest({"phase": "Running", "jobName": "talk-vi-1234", "pool": "gpu"})
    active = job(active=1)
    assert observe_job(running, active, [pod("gpu-0")], "acme", NOW, None) is None
    report = Report("u-1", "acme", "v1", processed=30, duration=90, segments=3)
    outcome = observe_job(running, active, [pod("gpu-0")], "acme", NOW, report)
    assert outcome is not None
    assert outcome.want.status == {
        "videoId": "v1",
        "reused": False,
        "progress": {
            "processedSeconds": 30,
            "durationSeconds": 90,
            "segments": 3,
            "percent": "33%",
        },
        "node": "gpu-0",
    }
    shown = ingest(
        {"phase": "Running", "videoId": "v1", "progress": outcome.want.status["progress"]}
    )
    assert observe_job(shown, active, [pod("gpu-0")], "acme", NOW, report) is None
    # the visual stages' own progress is new progress too
    seen = replace(report, visual=42.0)
    moved = observe_job(shown, active, [pod("gpu-0")], "acme", NOW, seen)
    assert moved is not None and moved.want.status["progress"]["visualSeconds"] == 42.0
    now_shown = ingest(
        {"phase": "Running", "videoId": "v1", "progress": moved.want.status["progress"]}
    )
    assert observe_job(now_shown, active, [pod("gpu-0")], "acme", NOW, seen) is None


def test_job_complete_meters_the_workers_final_report():
    running = ingest({"phase": "Running", "videoId": "v1", "progress": {"segments": 5}})
    done = [{"type": "Complete", "status": "True", "lastTransitionTime": "2026-12-01T10:01:31Z"}]
    complete = job(done, succeeded=1)
    report = Report("u-1", "acme", "v1", processed=90, duration=90, segments=7, done=True)
    assert awaiting_report(complete, None)
    assert awaiting_report(complete, replace(report, done=False))
    assert not awaiting_report(complete, report)
    outcome = observe_job(running, complete, [pod("gpu-0")], "acme", NOW, report)
    assert outcome is not None
    want = outcome.want
    assert want.status["phase"] == Phase.SUCCEEDED and want.status["node"] == "gpu-0"
    assert want.status["progress"]["segments"] == 7 and want.status["message"].startswith("7 ")
    assert want.status["attempts"] == 1 and want.terminal and want.release_job
    assert want.usage is not None
    assert (want.usage.tenant, want.usage.ingest_key, want.usage.seconds) == ("acme", "u-1", 90)
    assert want.usage.video_id == "v1" and not want.usage.reused
    types = {c.type: c.status for c in want.conditions}
    assert types[ConditionType.READY] and types[ConditionType.SUCCEEDED]
    assert not types[ConditionType.RUNNING]
    assert outcome.media_seconds == 90 and outcome.wall_seconds == 90  # 10:00:01 -> 10:01:31
    partial = replace(report, done=False, processed=30, segments=3)
    outcome = observe_job(running, complete, [], "acme", NOW, partial)
    assert outcome is not None and outcome.want.status["phase"] == Phase.FAILED
    assert outcome.want.status["reason"] == Reason.OUTCOME_MISSING and not outcome.want.usage
    assert "33% processed" in outcome.want.status["message"]
    reused = replace(report, reused=True)
    outcome = observe_job(running, complete, [], "acme", NOW, reused)
    assert outcome is not None and outcome.want.usage is not None and outcome.want.usage.reused


def test_a_cancelled_ingest_is_metered_for_what_it_processed():
    progress = {"processedSeconds": 178, "durationSeconds": 180, "segments": 20}
    running = ingest({"phase": "Running", "videoId": "v1", "progress": progress}, retain=True)
    assert cancelled_usage(running, "acme") == Usage("acme", "talk", "u-1", 178, "v1")
    started = ingest({"phase": "Running", "progress": {"processedSeconds": 0}})
    reused = ingest({"phase": "Running", "videoId": "v0", "reused": True, "progress": progress})
    ended = ingest({"phase": "Succeeded", "videoId": "v1", "progress": progress})
    for nothing_new in (started, reused, ended):  # ended: metered when it succeeded
        assert cancelled_usage(nothing_new, "acme") is None
    assert cancelled_usage(running, None) is None  # no tenant bound: nothing ran


def test_job_failed_keeps_the_workers_reason():
    running = ingest({"phase": "Running", "reason": "JobCreated"})
    failed = [{"type": "Failed", "status": "True", "reason": "PodFailurePolicy"}]
    by_policy = job(failed, failed=1)
    said = Report("u-1", "acme", reason="NoAudioTrack", message="no audio")
    assert awaiting_report(by_policy, None) and not awaiting_report(by_policy, said)
    outcome = observe_job(running, by_policy, [], "acme", NOW, said)
    assert outcome is not None
    assert outcome.want.status["reason"] == "NoAudioTrack"
    assert outcome.want.status["message"] == "no audio" and outcome.want.release_job
    outcome = observe_job(running, job(failed, failed=3), [], "acme", NOW, None)
    assert outcome is not None and outcome.want.status["reason"] == "PodFailurePolicy"
    exhausted = job([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}])
    assert not awaiting_report(exhausted, None)  # a crash reports nothing: no wait


def test_a_retry_is_reported_once_per_attempt():
    running = ingest({"phase": "Running", "attempts": 1})
    outcome = observe_job(running, job(active=1, failed=1), [], "acme", NOW, None)
    assert outcome is not None and outcome.want.status["attempts"] == 2
    assert outcome.want.status["reason"] == Reason.JOB_RETRYING
    again = ingest({"phase": "Running", "attempts": 2})
    assert observe_job(again, job(active=1, failed=1), [], "acme", NOW, None) is None


def test_an_existing_job_found_after_a_restart_makes_the_resource_running():
    outcome = observe_job(ingest({"phase": "Queued"}), job(active=1), [], "acme", NOW, None)
    assert outcome is not None and outcome.want.status["phase"] == Phase.RUNNING
    assert outcome.want.status["pool"] == "gpu"


def test_rejected_job_fails_the_resource_with_the_servers_message():
    want = rejected('Job.batch "x" is invalid: spec.template.spec.containers[0].resources')
    assert want.status["phase"] == Phase.FAILED and want.status["reason"] == "JobRejected"
    assert "is invalid" in want.status["message"] and want.terminal


def test_wants_merge_so_one_write_carries_both():
    q = queued(ingest(), "WaitingForGPU", "busy")
    assert q is not None
    merged = q.merged(admitted(ingest(), "gpu", "j", "free"))
    assert merged.status["phase"] == Phase.RUNNING and "queuedAt" in merged.status
    admitted_cond = [c for c in merged.conditions if c.type == ConditionType.ADMITTED]
    assert len(admitted_cond) == 1 and admitted_cond[0].status is True


def test_conditions_merge_by_type_and_keep_transition_times():
    current = [
        {
            "type": "Admitted",
            "status": "True",
            "reason": "JobCreated",
            "message": "m",
            "lastTransitionTime": "2026-12-01T10:00:00Z",
        }
    ]
    same = set_conditions(current, (Condition(ConditionType.ADMITTED, True, "X", "y"),), 3)
    assert same[0]["lastTransitionTime"] == "2026-12-01T10:00:00Z"
    assert same[0]["reason"] == "X" and same[0]["observedGeneration"] == 3
    flipped = set_conditions(current, (Condition(ConditionType.ADMITTED, False, "X", "y"),), 3)
    assert flipped[0]["lastTransitionTime"] != "2026-12-01T10:00:00Z"
    added = set_conditions(current, (Condition(ConditionType.READY, True, "C", "d"),), 3)
    assert [c["type"] for c in added] == ["Admitted", "Ready"]


def test_a_disrupted_pod_is_told_once():
    running = ingest({"phase": "Running", "disruptions": 1, "lastDisruption": "p-old"})
    assert disruption(running, [pod("spot-0", "p-old", disrupted=True)]) is None
    pods = [pod("spot-0", "p-old", True), pod("spot-1", "p-2", True, second=40)]
    want = disruption(running, pods)
    assert want is not None
    assert want.status["disruptions"] == 2 and want.status["lastDisruption"] == "p-2"
    assert want.status["reason"] == Reason.DISRUPTED and "resumes" in want.status["message"]
    assert {c.type: c.status for c in want.conditions} == {ConditionType.DISRUPTED: True}
    assert want.event is not None and want.event.type == "Warning"
    assert disruption(running, [pod("spot-0", "p-3")]) is None  # not disrupted
    told = ingest({"phase": "Running", "disruptions": 2, "lastDisruption": "p-2"})
    assert disruption(told, [pod("spot-1", "p-2", True)]) is None


def test_a_preempted_ingest_waits_again_and_says_why():
    running = ingest({"phase": "Running", "jobName": "talk-vi-1234"})
    want = requeued(running, Reason.PREEMPTED, "tenant b is under its fair share", "talk-vi-1234")
    assert want.status["phase"] == Phase.QUEUED and want.status["reason"] == Reason.PREEMPTED
    assert want.status["disruptions"] == 1 and want.status["lastDisruption"] == "talk-vi-1234"
    assert {c.type: c.status for c in want.conditions} == {
        ConditionType.DISRUPTED: True,
        ConditionType.ADMITTED: False,
        ConditionType.RUNNING: False,
    }
    assert not want.terminal and want.usage is None and not want.release_job


def test_a_withdrawn_ingest_waits_again_without_a_disruption():
    running = ingest({"phase": "Running", "jobName": "talk-vi-1234", "disruptions": 1})
    want = requeued(running, Reason.UNSCHEDULABLE, "pod p could not be scheduled on gpu")
    assert want.status["phase"] == Phase.QUEUED and want.status["reason"] == "Unschedulable"
    assert "disruptions" not in want.status  # not counted: spot limits stay as they were
    assert {c.type: (c.status, c.reason) for c in want.conditions} == {
        ConditionType.ADMITTED: (False, "Unschedulable"),
        ConditionType.RUNNING: (False, "Unschedulable"),
    }
    assert want.event is not None and want.event.reason == "Unschedulable"


def test_a_pod_the_scheduler_could_not_place_says_since_when():
    placed = pod("gpu-0")
    stuck_object = {
        "metadata": {"name": "p-2", "namespace": "v", "uid": "u", "labels": {}},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "lastTransitionTime": "2026-12-01T10:00:05Z",
                }
            ],
        },
    }
    stuck = Pod.from_object(stuck_object)
    assert placed.unschedulable_since is None
    assert stuck.unschedulable_since == pod("", second=5).created
