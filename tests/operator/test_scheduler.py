"""The scheduling policy, rule by rule, without a cluster.

Expected values are worked out by hand in the comments from the configured speeds (overhead
20 s, GPU rtf 0.05, CPU rtf 0.5 unless a test says otherwise), not read back from the code.
"""

from __future__ import annotations

import pytest

from vystra_operator.flavors import Flavor, SchedulingConfig, TenantPolicy, parse_scheduling
from vystra_operator.scheduler import Reason, Scheduler, Workload

GPU = Flavor(name="gpu", resource="nvidia.com/gpu", rtf={"default": 0.05})
CPU = Flavor(name="cpu", rtf={"default": 0.5}, max_concurrent=8)


def config(*flavors: Flavor, **kw) -> SchedulingConfig:
    # placement.py's order unless a test says otherwise: priority, then age
    kw.setdefault("aging_per_hour", 0.0)
    kw.setdefault("size_weight", 0.0)
    kw.setdefault("batch_max", 1)  # one Job per ingest, unless a test is about batching
    return SchedulingConfig(flavors=list(flavors or (GPU, CPU)), **kw)


def wl(key, accel="gpu", cls="normal", created=0.0, duration=600.0, tenant="t", **kw):
    return Workload(f"{tenant}/{key}", tenant, accel, cls, created, duration, **kw)


def keys(admissions):
    return {a.key.split("/")[1]: a.flavor for a in admissions}


def busy_gpus(s: Scheduler, n: int, at: float = 0.0, tenant: str = "bg") -> None:
    """n GPU Jobs of 600 s media started at ``at``: each expected to end at at + 20 + 30."""
    for i in range(n):
        s.started(f"{tenant}/run{i}", "gpu", at, wl(f"run{i}", tenant=tenant, created=at))


# -- the policy placement.py had -----------------------------------------------------------


def test_gpu_work_is_admitted_by_priority_then_age_up_to_capacity():
    s = Scheduler(config())
    s.set_capacity("gpu", 2, 0)
    for w in (wl("old"), wl("new", created=10), wl("urgent", cls="high", created=20)):
        s.submit(w)
    assert keys(s.admit(30)) == {"urgent": "gpu", "old": "gpu"}
    assert s.reason("t/new")[0] == Reason.WAITING_FOR_GPU
    assert s.position("t/new", 30).position == 1


def test_gpu_work_never_spills_to_cpu():
    s = Scheduler(config())
    s.set_capacity("gpu", 2, 0)
    busy_gpus(s, 2)
    s.submit(wl("a"))
    assert s.admit(10) == []
    assert s.reason("t/a")[0] == Reason.WAITING_FOR_GPU


def test_auto_goes_to_cpu_when_the_gpu_wait_is_longer_than_the_cpu_run():
    s = Scheduler(config())
    s.set_capacity("gpu", 2, 0)
    busy_gpus(s, 2)  # both end at 50
    s.submit(wl("short", "auto", duration=30))
    s.submit(wl("long", "auto", duration=3600, created=1))
    # at 25 both GPUs have 25 s left, and both auto ingests may take a GPU: the wait is
    # (2 x 25 + 3630 x 0.05 + 2 x 20) / 2 GPUs = 135.75 s.
    # short: CPU 20 + 15 = 35 < GPU 135.75 + 21.5. long: CPU 1820 > GPU 135.75 + 200: waits.
    assert keys(s.admit(25)) == {"short": "cpu"}
    assert s.reason("t/long")[0] == Reason.WAITING_FOR_GPU


def test_auto_takes_a_free_gpu_first_and_the_queue_grows_the_wait():
    s = Scheduler(config())
    s.set_capacity("gpu", 1, 0)
    s.submit(wl("a", "auto", duration=3600))
    assert keys(s.admit(0)) == {"a": "gpu"}

    def late_alone_or_behind(ahead: int) -> dict[str, str]:
        s = Scheduler(config())
        s.set_capacity("gpu", 2, 0)
        busy_gpus(s, 2)
        for i in range(ahead):
            s.submit(wl(f"g{i}", created=i))
        s.submit(wl("late", "auto", created=100, duration=300))
        return keys(s.admit(25))

    # alone: wait (2 x 25 s left + its own 20 + 15) / 2 GPUs = 42.5 s; GPU 42.5 + 35 = 77.5
    # beats CPU 20 + 150 = 170: waits for a GPU
    assert late_alone_or_behind(0) == {}
    # behind six GPU Jobs of 20 + 30 s each: (50 + 6 x 50 + 35) / 2 = 192.5 s wait,
    # 192.5 + 35 = 227.5 > 170: CPU finishes first
    assert late_alone_or_behind(6) == {"late": "cpu"}


def test_cpu_slots_are_bounded_and_no_gpu_capacity_means_queued():
    s = Scheduler(config(CPU.model_copy(update={"max_concurrent": 1})))
    s.submit(wl("a", "cpu"))
    s.submit(wl("b", "cpu", created=1))
    assert keys(s.admit(5)) == {"a": "cpu"}
    assert s.reason("t/b")[0] == Reason.WAITING_FOR_CPU
    s = Scheduler(config())
    s.set_capacity("gpu", 0, 0)
    s.submit(wl("g"))
    assert s.admit(0) == []
    reason, message = s.reason("t/g")
    assert reason == Reason.WAITING_FOR_CAPACITY and "no GPU" in message


def test_capacity_used_by_other_pods_is_not_offered():
    s = Scheduler(config())
    s.set_capacity("gpu", 4, 3)  # one GPU left for Vystra
    for i in range(3):
        s.submit(wl(f"j{i}", created=i))
    assert keys(s.admit(0)) == {"j0": "gpu"}


# -- tenants ---------------------------------------------------------------------------------


def two_tenants(weights=(1.0, 2.0), **kw) -> Scheduler:
    tenants = [TenantPolicy(name="a", weight=weights[0]), TenantPolicy(name="b", weight=weights[1])]
    return Scheduler(config(GPU, tenants=tenants, **kw))


def test_weighted_fair_share_between_two_tenants_1_to_2():
    s = two_tenants()
    s.set_capacity("gpu", 6, 0)
    for i in range(30):
        s.submit(wl(f"a{i}", tenant="a", created=i))
        s.submit(wl(f"b{i}", tenant="b", created=100 + i))  # b's work is newer: no help from age
    admitted = s.admit(200)
    per = {t: sum(a.key.startswith(t) for a in admitted) for t in "ab"}
    assert per == {"a": 2, "b": 4}  # 6 GPUs split 1:2
    # the tenant's own order holds: a's two oldest
    assert {a.key for a in admitted if a.key.startswith("a")} == {"a/a0", "a/a1"}


def test_a_tenant_alone_borrows_everything_idle_and_gives_it_back_by_preemption():
    s = two_tenants(min_remaining_to_preempt=0)
    s.set_capacity("gpu", 6, 0)
    for i in range(10):
        s.submit(wl(f"a{i}", tenant="a", created=i, duration=3600))
    assert len(s.admit(10)) == 6  # b has nothing waiting: a borrows all six
    for i in range(10):
        s.submit(wl(f"b{i}", tenant="b", created=20 + i))
    assert s.admit(20) == []  # full
    victims = s.preemptions(110)
    # each GPU is 20 units (1/0.05). b takes a slot while a keeps at least b's usage per
    # weight once it moves: a 6 -> 5 (a 100 >= b 40/2), 4 (80 >= 60/2), 3 (60 >= 80/2),
    # 2 (40 >= 80/2); a fifth would leave a 20 < b 100/2. So a keeps 2 GPUs, b gets 4: 1:2
    assert len(victims) == 4 and all(v.key.startswith("a/") for v in victims)
    assert all(v.reason == Reason.PREEMPTED for v in victims)
    readmitted = s.admit(110)
    assert sorted(a.key[0] for a in readmitted) == ["b"] * 4
    assert s.preemptions(111) == []  # settled
    # queued again with what it processed: 100 s since its start, 20 of them start-up,
    # 80 s at 0.05 s per media second = 1600 s; ahead of a's work that never started
    requeued = s.workload(victims[0].key)
    assert requeued is not None and requeued.processed == pytest.approx(1600)
    assert requeued.disruptions == 1
    assert s.position(victims[0].key, 111).ahead < s.position("a/a9", 111).ahead


def test_preemption_of_one_ingest_is_bounded():
    s = two_tenants(min_remaining_to_preempt=0, max_preemptions=2)
    s.set_capacity("gpu", 2, 0)
    s.submit(wl("y", tenant="a", duration=200_000))  # 10,000 s on a GPU
    s.admit(0)
    s.submit(wl("x", tenant="a", duration=200_000, created=1))
    s.admit(1)
    counts: dict[str, int] = {}
    now = 1.0
    for round_ in range(6):
        s.submit(wl(f"b{round_}", tenant="b", created=now, duration=60))
        now += 10
        for p in s.preemptions(now):
            counts[p.key] = counts.get(p.key, 0) + 1
        for a in s.admit(now):
            if a.key.startswith("b/"):
                now += 30
                s.finished(a.key, now)  # b's short Job ends; a takes the GPU back
        s.admit(now)
    # the most recently started is taken each time (x, x), then x is protected: y, y;
    # then both are protected for the cooldown and b waits
    assert counts == {"a/x": 2, "a/y": 2}
    assert set(s.running()) == {"a/x", "a/y"}
    later = now + 3601
    s.submit(wl("b9", tenant="b", created=later))
    assert len(s.preemptions(later)) == 1  # after the cooldown, again (one: 1 GPU of 2 is fair)


def test_the_bound_holds_when_the_core_reports_the_stopped_job_and_resubmits():
    s = two_tenants(min_remaining_to_preempt=0, max_preemptions=1)
    s.set_capacity("gpu", 2, 0)
    s.submit(wl("y", tenant="a", duration=200_000))
    s.admit(0)
    s.submit(wl("x", tenant="a", duration=200_000, created=1))
    s.admit(1)
    s.submit(wl("b0", tenant="b", created=2, duration=60))
    (p,) = s.preemptions(10)
    assert p.key == "a/x"  # the most recently started
    # what the operator does next: its Job is gone, the ingest comes back with the seconds
    # its worker committed, and without a disruption count of its own
    s.finished("a/x", 12)
    s.submit(wl("x", tenant="a", duration=200_000, created=1, processed=90))
    assert s.workload("a/x").processed == 90 and s.workload("a/x").disruptions == 1
    assert keys(s.admit(12)) == {"b0": "gpu"}
    s.finished("b/b0", 40)
    assert keys(s.admit(40)) == {"x": "gpu"}
    s.submit(wl("b1", tenant="b", created=41, duration=60))
    assert [v.key for v in s.preemptions(50)] == ["a/y"]  # x is protected now


def test_aging_lets_old_low_priority_work_overtake_new_high_priority_work():
    # 100 points per hour; high - low = 1000 points: ten hours of waiting
    def first(high_created_hours: float) -> str:
        s = Scheduler(config(GPU, aging_per_hour=100))
        s.set_capacity("gpu", 1, 0)
        s.submit(wl("low", cls="low", created=0))
        s.submit(wl("high", cls="high", created=high_created_hours * 3600))
        return next(iter(keys(s.admit(12 * 3600))))

    assert first(9) == "high"  # aged 12 h + 1000 vs 3 h for high: 1200 < 1000 + 300
    assert first(11) == "low"  # 1200 > 1000 + 100


def test_within_a_class_the_earliest_due_goes_first():
    def first(size_weight: float) -> str:
        s = Scheduler(config(GPU, size_weight=size_weight))
        s.set_capacity("gpu", 1, 0)
        s.submit(wl("film", created=0, duration=7200))  # due at 7200 with size_weight 1
        s.submit(wl("clip", created=60, duration=60))  # due at 120
        for i in range(20):  # later work: the film's 380 s run is no risk to the makespan
            s.submit(wl(f"later{i}", created=200 + i))
        return next(iter(keys(s.admit(300))))

    assert first(1.0) == "clip"
    assert first(0.0) == "film"  # placement.py's order: oldest first


def test_unknown_priority_class_falls_back_to_the_default():
    s = Scheduler(config(GPU))
    s.set_capacity("gpu", 1, 0)
    s.submit(wl("bogus", cls="platinum", created=0))
    s.submit(wl("high", cls="high", created=5))
    assert keys(s.admit(10)) == {"high": "gpu"}  # "platinum" counts as normal (100 < 1000)


# -- flavors ---------------------------------------------------------------------------------

FAST = Flavor(
    name="h100", resource="nvidia.com/gpu", gpu_product="NVIDIA-H100", rtf={"default": 0.03}
)
SLOW = Flavor(name="l4", resource="nvidia.com/gpu", gpu_product="NVIDIA-L4", rtf={"default": 0.1})


def test_earliest_finish_across_two_gpu_products_and_cpu():
    s = Scheduler(config(FAST, SLOW, CPU))
    s.set_capacity("h100", 1, 0)
    s.set_capacity("l4", 2, 0)
    s.submit(wl("first", "auto", duration=1000))
    # all free: h100 20 + 30 = 50, l4 20 + 100 = 120, cpu 20 + 500 = 520
    assert keys(s.admit(0)) == {"first": "h100"}
    # h100 busy until 50. At 10, for 1000 s: the h100 frees in 40 s, plus its third (1 of
    # 3 GPU slots) of the GPU work waiting, itself: (20 + 30) / 3. h100: 40 + 16.7 + 50 =
    # 106.7 < l4 20 + 100 = 120: it waits for the h100
    s.submit(wl("big", "auto", duration=1000, created=1))
    assert s.admit(10) == []
    assert s.reason("t/big") == (Reason.WAITING_FOR_GPU, "waiting for h100: 1 slot, all busy")
    # a 100 s video: l4 20 + 10 = 30 < cpu 70 < h100 40 + (50 + 23) / 3 + 23 = 87.3
    s.submit(wl("clip", "auto", duration=100, created=2))
    assert keys(s.admit(10)) == {"clip": "l4"}
    assert FAST.selector() == {"nvidia.com/gpu.product": "NVIDIA-H100"}


def test_per_model_speed_changes_the_choice():
    fast_small = Flavor(name="l4", resource="nvidia.com/gpu", rtf={"default": 0.1, "tiny": 0.01})
    s = Scheduler(config(FAST, fast_small))
    s.set_capacity("h100", 1, 0)
    s.set_capacity("l4", 1, 0)
    s.submit(wl("tiny", duration=1000, model="tiny"))  # l4 20 + 10 < h100 20 + 30
    s.submit(wl("large", duration=1000, model="large-v3", created=1))  # h100 50 < l4 120
    assert keys(s.admit(5)) == {"tiny": "l4", "large": "h100"}


def test_mig_slices_are_a_flavor_of_their_own():
    mig = Flavor(
        name="mig-1g",
        resource="nvidia.com/mig-1g.10gb",
        gpu_fraction=1 / 7,
        rtf={"default": 0.2},
    )
    s = Scheduler(config(GPU, mig, tenants=[TenantPolicy(name="t", gpu_seconds_budget=1000)]))
    s.set_capacity("gpu", 0, 0)
    s.set_capacity("mig-1g", 7, 0)
    for i in range(9):
        s.submit(wl(f"m{i}", created=i))
    admitted = s.admit(0)
    assert len(admitted) == 7 and {a.flavor for a in admitted} == {"mig-1g"}
    for a in admitted:
        s.finished(a.key, 700)
    # seven slices for 700 s are 7 x 700 / 7 = 700 GPU-seconds, not 4,900
    assert s.gpu_seconds_used("t", 700) == pytest.approx(700)


def test_gpu_budget_exhausted_sends_auto_to_cpu_and_holds_gpu_work():
    s = Scheduler(config(tenants=[TenantPolicy(name="t", gpu_seconds_budget=100)]))
    s.set_capacity("gpu", 2, 0)
    s.submit(wl("spend", duration=3000))
    assert keys(s.admit(0)) == {"spend": "gpu"}
    assert s.gpu_seconds_used("t", 60) == pytest.approx(60)  # running Jobs count as they go
    s.finished("t/spend", 150)  # 150 GPU-seconds: over the budget of 100
    s.submit(wl("g", created=200))
    s.submit(wl("a", "auto", created=201))
    assert keys(s.admit(210)) == {"a": "cpu"}  # a GPU is free, but not for this tenant
    assert s.reason("t/g")[0] == Reason.BUDGET_EXHAUSTED
    s.set_gpu_seconds_used("t", 0)  # a new period
    assert keys(s.admit(220)) == {"g": "gpu"}


def test_autoscaled_flavor_admits_pending_pods_from_zero():
    auto = GPU.model_copy(update={"autoscaled": True, "max_pending": 2})
    s = Scheduler(config(auto))
    s.set_capacity("gpu", 0, 0)
    for i in range(4):
        s.submit(wl(f"j{i}", created=i))
    admitted = s.admit(10)
    assert keys(admitted) == {"j0": "gpu", "j1": "gpu"}
    assert "autoscaler" in admitted[0].message
    s.set_capacity("gpu", 1, 0)  # one node came: 2 Jobs on 1 GPU, nothing more for now
    assert s.admit(20) == []
    s.set_capacity("gpu", 4, 0)
    assert keys(s.admit(30)) == {"j2": "gpu", "j3": "gpu"}
    plain = Scheduler(config(GPU))
    plain.set_capacity("gpu", 0, 0)
    plain.submit(wl("x"))
    assert plain.admit(0) == []  # not autoscaled: no pod for a node that will never come


def test_spot_disruptions_move_an_ingest_to_on_demand():
    spot = GPU.model_copy(update={"name": "spot", "spot": True, "on_demand_fallback": "ondemand"})
    ondemand = GPU.model_copy(update={"name": "ondemand", "rtf": {"default": 0.08}})
    s = Scheduler(config(spot, ondemand, max_disruptions=2))
    s.set_capacity("spot", 1, 0)
    s.set_capacity("ondemand", 1, 0)
    s.submit(wl("once", duration=1000, disruptions=1))
    s.submit(wl("twice", duration=1000, disruptions=2, created=1))
    assert keys(s.admit(0)) == {"once": "spot", "twice": "ondemand"}


def test_a_held_flavor_takes_no_new_job_until_the_hold_ends():
    """Its pods could not be scheduled: new work goes elsewhere (auto to CPU) or waits (gpu);
    what runs there goes on; at the hold's end the flavor takes Jobs again."""
    s = Scheduler(config())
    s.set_capacity("gpu", 2, 0)
    s.started("t/running", "gpu", 0, wl("running"))
    s.hold("gpu", until=100)
    s.submit(wl("a", accel="auto", duration=60))
    s.submit(wl("g", created=1))
    assert keys(s.admit(10)) == {"a": "cpu"}
    assert s.admit(99) == []
    assert keys(s.admit(100)) == {"g": "gpu"}


# -- learning, resume, batching, position ---------------------------------------------------


def test_speeds_are_learnt_from_finished_jobs():
    s = Scheduler(config(learning_rate=0.5))
    s.set_capacity("gpu", 1, 0)
    s.submit(wl("a", duration=1000))
    s.admit(0)
    # 1000 media seconds in 20 s start + 80 s: 0.08 s per media second
    s.finished("t/a", 100, media_seconds=1000, wall_seconds=100)
    assert s.speeds()[("gpu", "default")] == pytest.approx(0.5 * 0.05 + 0.5 * 0.08)
    s.submit(wl("b", duration=1000, model="large-v3"))
    s.admit(100)
    s.finished("t/b", 220, media_seconds=1000, wall_seconds=120)  # 0.1, from the 0.065 prior
    assert s.speeds()[("gpu", "large-v3")] == pytest.approx(0.5 * 0.065 + 0.5 * 0.1)
    # large-v3 has no speed of its own in the flavor: it is the flavor's default speed too
    assert s.speeds()[("gpu", "default")] == pytest.approx(0.0825)


def test_a_model_with_its_own_speed_teaches_the_flavor_speed_through_the_ratio():
    f = Flavor(name="gpu", resource="nvidia.com/gpu", rtf={"default": 0.05, "small": 0.02})
    s = Scheduler(config(f, learning_rate=1.0))
    s.set_capacity("gpu", 1, 0)
    s.submit(wl("a", duration=1000, model="small"))
    s.admit(0)
    s.finished("t/a", 50, media_seconds=1000, wall_seconds=50)  # 30 s / 1000 = 0.03
    # small runs at 0.03 instead of 0.02: 1.5 times slower, so the default becomes 0.075
    assert s.speeds()[("gpu", "small")] == pytest.approx(0.03)
    assert s.speeds()[("gpu", "default")] == pytest.approx(0.075)


def test_resume_estimates_only_what_is_left():
    s = Scheduler(config())
    s.set_capacity("gpu", 2, 0)
    busy_gpus(s, 2)  # 50 s left on each
    # GPU wait: (2 x 50 + (3600 + 100) x 0.05 + 2 x 20) / 2 = 162.5 s.
    # fresh 3600 s: CPU 20 + 1800 > GPU 162.5 + 20 + 180: waits.
    # 3500 s done, 100 s left: CPU 20 + 50 = 70 < GPU 162.5 + 25: runs on CPU now.
    # Counted from zero it would have waited too (CPU 1820)
    s.submit(wl("fresh", "auto", duration=3600))
    s.submit(wl("resumed", "auto", duration=3600, processed=3500, created=1))
    admitted = s.admit(0)
    assert keys(admitted) == {"resumed": "cpu"}
    assert admitted[0].estimated_seconds == pytest.approx(20 + 100 * 0.5)


def test_short_ingests_are_batched_when_they_queue_deeper_than_the_slots():
    s = Scheduler(config(GPU, batch_max=4, batch_short_seconds=120))
    s.set_capacity("gpu", 2, 0)
    for i in range(10):
        s.submit(wl(f"c{i}", duration=60, created=i))
    first = s.admit(0)
    # 10 clips on 2 free GPUs: ceil(10/2) = 5, capped at 4 per Job; then 6 left on 1 GPU: 4
    assert [len(a.keys) for a in first] == [4, 4]
    assert first[0].keys == ("t/c0", "t/c1", "t/c2", "t/c3")
    assert first[0].estimated_seconds == pytest.approx(20 + 4 * 60 * 0.05)
    s.finished("t/c1", 5)  # one ingest of a batch done: the Job keeps its GPU
    assert s.admit(5) == []
    s.withdraw("t/c0")  # its first ingest done too: the next one holds the GPU
    assert s.admit(10) == []
    s.finished("t/c3", 20)
    s.finished("t/c2", 32)  # the last one: the Job's GPU frees
    assert keys(s.admit(32)) == {"c8": "gpu"}  # 2 left, 1 free GPU: ceil(2/1) = 2 in one Job


def test_a_batch_rebuilt_after_a_restart_holds_one_slot():
    s = Scheduler(config(GPU, batch_max=4, batch_short_seconds=120))
    s.set_capacity("gpu", 2, 0)
    # one Job of three, found running by a new leader: each joins one started before it
    for key, partner in (("c2", None), ("c0", "t/c2"), ("c1", "t/c0")):
        s.started(f"t/{key}", "gpu", 0, wl(key, duration=60), batch_of=partner)
    s.submit(wl("next", duration=3600))
    assert keys(s.admit(1)) == {"next": "gpu"}  # the other GPU
    s.submit(wl("after", duration=3600))
    assert s.admit(2) == []
    for i in (1, 0, 2):
        s.withdraw(f"t/c{i}")
    assert keys(s.admit(3)) == {"after": "gpu"}


def test_a_preempted_batch_frees_its_slot_and_every_ingest_waits_again():
    s = Scheduler(config(GPU, batch_max=4, batch_short_seconds=4000))
    s.set_capacity("gpu", 2, 0)
    for i in range(8):  # 4 x 3000 s at rtf 0.05 per Job: 620 s, worth preempting
        s.submit(wl(f"c{i}", duration=3000, created=i))
    batches = s.admit(0)
    assert [len(a.keys) for a in batches] == [4, 4]
    s.submit(wl("b1", tenant="b", duration=3600, created=10))
    (stop,) = s.preemptions(30)  # tenant t holds both GPUs: b takes one back
    assert (stop.key, *stop.batch) in [a.keys for a in batches]
    assert s.waiting_count() == 5
    assert keys(s.admit(30)) == {"b1": "gpu"}


def test_batches_look_past_another_model_and_keep_its_place():
    s = Scheduler(config(GPU, batch_max=3, batch_short_seconds=120))
    s.set_capacity("gpu", 1, 0)
    s.submit(wl("c0", duration=60, created=0))
    s.submit(wl("other", duration=60, created=1, model="small"))
    s.submit(wl("c2", duration=60, created=2))
    s.submit(wl("c3", duration=60, created=3))
    (job,) = s.admit(10)
    assert job.keys == ("t/c0", "t/c2", "t/c3")  # "other" is another model: not in this Job
    assert s.position("t/other", 10).position == 1  # and still first in line


def test_a_long_ingest_starts_first_only_when_it_would_otherwise_finish_last():
    def first(shorts: int) -> str:
        s = Scheduler(config(CPU.model_copy(update={"max_concurrent": 1})))
        for i in range(shorts):
            s.submit(wl(f"s{i}", "cpu", duration=600, created=i))
        s.submit(wl("long", "cpu", duration=3600, created=100))  # due last: 100 + 3600
        return next(iter(keys(s.admit(200))))

    # 1 CPU slot, 2 media s/s. 3 shorts: all waiting drains in (1800 + 3600) / 2 + 4 x 20 =
    # 2780 s; the long one alone runs 20 + 1800 = 1820 >= 2780 / 2: started last, it would
    # end last, so it goes first
    assert first(3) == "long"
    # 30 shorts: drain (18000 + 3600) / 2 + 31 x 20 = 11420 s; 1820 < 5710: due order holds
    assert first(30) == "s0"


def test_position_and_estimated_start():
    s = Scheduler(config(GPU))
    s.set_capacity("gpu", 1, 0)
    busy_gpus(s, 1)  # ends at 50
    for i in range(3):
        s.submit(wl(f"q{i}", duration=200 * (i + 1), created=i))
    info = s.position("t/q2", 10)
    # ahead: q0 (20 + 10 s) and q1 (20 + 20 s) after the running Job's 40 s left
    assert (info.position, info.ahead) == (3, 2)
    assert info.estimated_start_seconds == pytest.approx(40 + 30 + 40)
    assert s.position("t/nope", 10) is None


def test_positions_are_kept_for_their_max_age_whatever_changed():
    s = Scheduler(config(GPU))
    s.set_capacity("gpu", 1, 0)
    busy_gpus(s, 1)
    s.submit(wl("q1", created=1))
    assert s.position("t/q1", 10, max_age=5).position == 1
    s.submit(wl("q0", cls="high", created=0))  # now ahead of q1
    assert s.position("t/q1", 12, max_age=5).position == 1  # kept: at most 5 s old
    assert s.position("t/q0", 12, max_age=5).position == 1  # a key not in them: recomputed
    assert s.position("t/q1", 16, max_age=5).position == 2
    assert s.position("t/q1", 16).position == 2


def test_position_interleaves_tenants_by_weight():
    s = two_tenants()  # a 1, b 2
    s.set_capacity("gpu", 1, 0)
    busy_gpus(s, 1)  # ends at 50
    for i in range(4):
        s.submit(wl(f"a{i}", tenant="a", created=i))
        s.submit(wl(f"b{i}", tenant="b", created=10 + i))
    info = s.position("a/a1", 10)
    # turns at (rank + 1) / weight: a0 1, a1 2; b0 0.5, b1 1, b2 1.5, b3 2 (after a1, which
    # is due earlier). Ahead of a1: a0, b0, b1, b2. Each Job 20 + 30 s after the GPU frees.
    assert (info.position, info.ahead) == (5, 4)
    assert info.estimated_start_seconds == pytest.approx(40 + 4 * 50)


def test_rebuilt_after_a_restart_from_the_jobs_that_exist():
    s = Scheduler(config(GPU, CPU, tenants=[TenantPolicy(name="t", gpu_seconds_budget=500)]))
    s.set_capacity("gpu", 2, 0)
    # the operator restarts at 1000 and finds a Job made at 400, and one on a flavor that the
    # configuration no longer has
    s.started("t/old", "gpu", 400, wl("old", duration=36000))
    s.started("t/gone", "a100-retired", 400, wl("gone"))
    s.set_capacity("a100-retired", 4, 0)  # ignored too
    assert s.running() == {"t/old": "gpu"}
    assert s.gpu_seconds_used("t", 1000) == pytest.approx(600)  # charged since 400: over 500
    s.submit(wl("new", "auto", created=900))
    assert keys(s.admit(1000)) == {"new": "cpu"}  # one GPU is free, but the budget is spent


def test_withdraw_frees_waiting_and_running_work():
    s = Scheduler(config(GPU))
    s.set_capacity("gpu", 1, 0)
    s.submit(wl("a"))
    s.submit(wl("b", created=1))
    s.admit(0)
    s.withdraw("t/a")
    s.withdraw("t/b")
    assert s.waiting_count() == 0 and s.running() == {}
    s.submit(wl("c", created=2))
    assert keys(s.admit(1)) == {"c": "gpu"}


# -- configuration ---------------------------------------------------------------------------


def test_legacy_pools_file_still_parses():
    cfg = parse_scheduling(
        """
pools:
  - {name: gpu, gpu: true, rtf: 0.04, node_selector: {vystra.io/pool: gpu}}
  - {name: cpu, gpu: false, rtf: 0.3, max_concurrent: 4}
""",
        gpu_resource="nvidia.com/mig-2g.20gb",
    )
    gpu, cpu = cfg.flavors
    assert gpu.gpu and gpu.resource == "nvidia.com/mig-2g.20gb" and gpu.rtf == {"default": 0.04}
    assert not cpu.gpu and cpu.max_concurrent == 4 and cpu.rtf_for("large-v3") == 0.3


def test_flavors_file_with_classes_and_tenants():
    cfg = parse_scheduling(
        {
            "flavors": [
                {"name": "a100", "resource": "nvidia.com/gpu", "rtf": {"default": 0.04}},
                {"name": "cpu"},
            ],
            "priority_classes": [{"name": "batch", "value": 0}, {"name": "live", "value": 50}],
            "default_priority_class": "batch",
            "tenants": [{"name": "acme", "weight": 3, "gpu_seconds_budget": 36000}],
        }
    )
    assert cfg.flavor("a100").gpu and cfg.tenants[0].weight == 3
    with pytest.raises(ValueError, match="default_priority_class"):
        parse_scheduling({"flavors": [{"name": "cpu"}], "default_priority_class": "nope"})
    with pytest.raises(ValueError, match="on_demand_fallback"):
        parse_scheduling({"flavors": [{"name": "s", "spot": True, "on_demand_fallback": "x"}]})
    assert [f.name for f in parse_scheduling(None).flavors] == ["gpu", "cpu"]


def test_a_flavor_may_name_a_pod_priority_class_and_a_model_volume():
    cfg = parse_scheduling(
        """
pools:
  - name: gpu
    gpu: true
    priority_class_name: vystra-gpu
    model_volume:
      source: {persistentVolumeClaim: {claimName: whisper-models}}
      mount_path: /models
      whisper_model: faster-whisper-large-v3
  - {name: cpu, gpu: false}
"""
    )
    gpu, cpu = cfg.flavors
    assert gpu.priority_class_name == "vystra-gpu" and cpu.priority_class_name is None
    assert gpu.model_volume is not None and cpu.model_volume is None
    assert gpu.model_volume.env() == {"VYSTRA_WHISPER_MODEL": "/models/faster-whisper-large-v3"}


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        ({"source": {}}, "one volume source"),
        ({"source": {"nfs": {"server": "a", "path": "/"}, "emptyDir": {}}}, "one volume source"),
        ({"source": {"emptyDir": {}}, "mount_path": "models"}, "absolute"),
        ({"source": {"emptyDir": {}}, "mount_path": "/tmp/models"}, "/tmp"),
        ({"source": {"emptyDir": {}}, "whisper_model": "../etc"}, "inside the volume"),
        ({"source": {"emptyDir": {}}, "whisper_model": "/opt/model"}, "inside the volume"),
    ],
)
def test_a_model_volume_is_one_source_mounted_outside_scratch(volume, message):
    with pytest.raises(ValueError, match=message):
        parse_scheduling({"flavors": [{"name": "cpu", "model_volume": volume}]})


def test_spec_priority_orders_within_a_class_and_never_across_classes():
    s = Scheduler(config())
    s.set_capacity("gpu", 1, 0)
    s.submit(wl("plain", created=0))
    s.submit(wl("pushed", created=10, priority=5))  # younger, but the submitter ranks it up
    assert keys(s.admit(20)) == {"pushed": "gpu"}
    s = Scheduler(config())
    s.set_capacity("gpu", 1, 0)
    s.submit(wl("maxed", cls="low", priority=1000))  # low (0) + 1 < normal (100) - 1
    s.submit(wl("modest", created=10, priority=-1000))
    assert keys(s.admit(20)) == {"modest": "gpu"}
