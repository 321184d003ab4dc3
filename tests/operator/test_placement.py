from datetime import UTC, datetime, timedelta

from vystra_operator.placement import Candidate, Capacity, Speeds, expected_gpu_wait, place

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPEEDS = Speeds(gpu_rtf=0.05, cpu_rtf=0.5, overhead=20, typical_duration=600)


def cand(key, accel="gpu", priority=0, age=0, duration=600.0):
    return Candidate(key, accel, priority, T0 + timedelta(seconds=age), duration)


def test_gpu_work_is_admitted_by_priority_then_age_up_to_capacity():
    cands = [cand("old"), cand("new", age=10), cand("urgent", priority=5, age=20)]
    out = place(cands, Capacity(gpu_free=2, gpu_total=2, cpu_free=8), SPEEDS)
    assert out["urgent"].pool == "gpu" and out["old"].pool == "gpu"
    assert out["new"].pool is None and out["new"].reason == "WaitingForGPU"
    assert out["new"].queue_position == 1


def test_gpu_work_never_spills_to_cpu():
    out = place([cand("a")], Capacity(gpu_free=0, gpu_total=2, cpu_free=8), SPEEDS)
    assert out["a"].pool is None


def test_auto_goes_to_cpu_when_the_gpu_wait_is_longer_than_the_cpu_run():
    busy = Capacity(gpu_free=0, gpu_total=2, cpu_free=8)
    short = place([cand("short", "auto", duration=30)], busy, SPEEDS)
    assert short["short"].pool == "cpu"  # 35 s on CPU beats ~25 s of waiting + 21.5 s on GPU
    long = place([cand("long", "auto", duration=3600)], busy, SPEEDS)
    assert long["long"].pool is None  # 30 min on CPU: waiting for a GPU is faster


def test_auto_takes_a_free_gpu_first_and_the_queue_grows_the_wait():
    out = place([cand("a", "auto", duration=3600)], Capacity(1, 1, 8), SPEEDS)
    assert out["a"].pool == "gpu"
    ahead = [cand(f"g{i}", "gpu", age=i) for i in range(6)]
    late = cand("late", "auto", age=100, duration=300)
    alone = place([late], Capacity(gpu_free=0, gpu_total=2, cpu_free=8), SPEEDS)
    assert alone["late"].pool is None  # first in line: a GPU frees soon enough
    out = place([*ahead, late], Capacity(gpu_free=0, gpu_total=2, cpu_free=8), SPEEDS)
    wait = expected_gpu_wait(6, Capacity(0, 2, 8), SPEEDS)
    assert wait + 20 + 300 * 0.05 > 20 + 300 * 0.5
    assert out["late"].pool == "cpu"  # behind six GPU Jobs, CPU finishes first


def test_cpu_slots_are_bounded_and_no_gpu_pool_means_queued():
    out = place([cand("a", "cpu"), cand("b", "cpu", age=1)], Capacity(0, 0, 1), SPEEDS)
    assert out["a"].pool == "cpu" and out["b"].reason == "WaitingForCPU"
    out = place([cand("g", "gpu")], Capacity(0, 0, 4), SPEEDS)
    assert out["g"].pool is None and "no GPU" in out["g"].message
