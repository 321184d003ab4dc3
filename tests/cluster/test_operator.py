"""The operator on the real control plane: VideoIngests become Jobs on the right pool, run the
real pipeline through the node agent, and end in a terminal phase whatever happens."""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from vystra.billing import accounts
from vystra.db import grants, reports, store
from vystra.demo import TALK, make_talk_video
from vystra.embed import get_embedder
from vystra.k8s import GROUP, PLURAL, VERSION
from vystra.objectkeys import tenant_prefix
from vystra.search import search
from vystra.tenants import create_tenant

from .operator_env import (
    CONFIG_NAMESPACE,
    REPO,
    Operator,
    create_vi,
    get_vi,
    ingest_jobs,
    install_crd,
    prepare_config_namespace,
    vi_gone,
    wait_phase,
)

# plans bind resources made with kubectl too: the operator reads the tenant's from the database
PLANS = {
    "VYSTRA_BILLING_ENABLED": "true",
    "VYSTRA_BILLING_DEFAULT_PLAN": "open",
    "VYSTRA_BILLING_PLANS_YAML": yaml.safe_dump(
        [
            {"name": "open", "included_minutes": 100000, "overage": True, "gpu_allowed": True},
            {"name": "short", "included_minutes": 100000, "overage": True, "max_video_seconds": 30},
            {"name": "cpu-only", "included_minutes": 100000, "overage": True},
        ]
    ),
}


def subscribe(db, tenant: str, plan: str, status: str = "active") -> None:
    with db.connect() as conn:
        if not accounts.tenant_exists(conn, tenant):
            create_tenant(conn, tenant)
        accounts.apply_state(conn, tenant, as_of=datetime.now(UTC), status=status, plan=plan)


@pytest.fixture(scope="module")
def operator(cluster, db, s3, tmp_path_factory):
    install_crd(cluster)
    prepare_config_namespace(cluster, s3)
    op = Operator(
        cluster,
        db.url,
        tmp_path_factory.mktemp("operator"),
        env={"VYSTRA_OPERATOR_LOGIN_SWEEP_SECONDS": "2", **PLANS},
    )
    op.start()
    yield op
    op.stop()


@pytest.fixture
def ns(namespace, operator):
    """A namespace with nothing in it: the operator sets up what workers need."""
    return namespace


@pytest.fixture(scope="module")
def media_files(talk, media_dir) -> dict[str, Path]:
    """The talk, a three-times longer talk, a damaged file."""
    long_talk = media_dir / "long_talk.mp4"
    if not long_talk.exists():
        make_talk_video(long_talk, TALK * 3)
    broken = media_dir / "broken.mp4"
    broken.write_bytes(talk[0].read_bytes()[:30000])
    return {"talk": talk[0], "long": long_talk, "broken": broken}


@pytest.fixture(scope="module")
def clips(media_dir) -> dict[str, Path]:
    """Two short clips of different topics (distinct videos)."""
    out = {}
    for n, sections in enumerate((TALK[:1], TALK[1:2]), 1):
        path = media_dir / f"clip_{n}.mp4"
        if not path.exists():
            make_talk_video(path, sections)
        out[f"clip-{n}"] = path
    return out


@pytest.fixture
def media(s3, media_files, clips, ns) -> dict[str, str]:
    """The files as sources of the namespace's tenant: under its own prefix of the bucket."""
    keys = {}
    for name, path in {**media_files, **clips}.items():
        key = f"{tenant_prefix(ns)}{path.name}"
        s3.client().upload_file(str(path), s3.bucket, key)
        keys[name] = f"s3://{s3.bucket}/{key}"
    return keys


def job_pods(cluster, namespace: str, body: dict) -> list:
    uid = body["metadata"]["uid"]
    return cluster.core.list_namespaced_pod(
        CONFIG_NAMESPACE, label_selector=f"vystra.io/ingest-uid={uid}"
    ).items


def test_example_ingest_succeeds_and_is_searchable(cluster, ns, media, db, settings):
    # the example is the tenant talks' (namespace talks): here it is this namespace's tenant
    example = (REPO / "examples/videoingest.yaml").read_text()
    assert "source: s3://vystra/uploads/talks/six_topic_talk.mp4" in example
    example = example.replace("uploads/talks/", tenant_prefix(ns))
    assert f"source: {media['talk']}" in example
    applied = cluster.kubectl("apply", "-n", ns, "-f", "-", input=example)
    assert "six-topic-talk created" in applied.stdout
    body = wait_phase(cluster, ns, "six-topic-talk", ("Succeeded", "Failed"))
    status = body["status"]
    assert status["phase"] == "Succeeded", status
    assert status["progress"]["segments"] > 0 and status["progress"]["percent"] == "100%"
    assert status["pool"] == "gpu" and status["node"].startswith("vystra-gpu")
    assert status["attempts"] == 1 and status["videoId"] and status["observedGeneration"] == 1
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {
        "Admitted": "True",
        "Running": "False",
        "Ready": "True",
        "Succeeded": "True",
    }
    # the visual stages ran in the worker beside transcription, under its tenant's login
    assert status["progress"]["visualSeconds"] > 0
    with db.connect() as conn:
        visual = conn.execute(
            "SELECT visual_status, keyframe_count FROM videos WHERE id = %s", (status["videoId"],)
        ).fetchone()
    assert visual is not None and visual[0] == "ready" and visual[1] > 0
    waited = cluster.kubectl(
        "wait", "-n", ns, "--for=condition=Ready", "vi/six-topic-talk", "--timeout=5s"
    )
    assert "condition met" in waited.stdout

    table = cluster.kubectl("get", "vi", "-n", ns).stdout
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "PHASE", "ACCEL", "POOL", "PROGRESS", "SEGMENTS", "AGE"]
    assert row.split()[:6] == [
        "six-topic-talk",
        "Succeeded",
        "auto",
        "gpu",
        "100%",
        str(status["progress"]["segments"]),
    ]
    wide = cluster.kubectl("get", "videoingests", "-n", ns, "-o", "wide").stdout
    assert status["jobName"] in wide and status["node"] in wide

    events = cluster.kubectl(
        "get", "events", "-n", ns, "--field-selector", "involvedObject.name=six-topic-talk"
    ).stdout
    assert "Admitted" in events and "Completed" in events

    with db.connect() as conn:
        hits = search(
            conn, get_embedder(settings), "improvised music from New Orleans", tenant=ns, limit=1
        )
    assert hits and hits[0].video_id == status["videoId"] and "jazz" in hits[0].text.lower()


def test_pools_follow_the_accelerator(cluster, ns, media):
    create_vi(cluster, ns, "on-gpu", source=media["talk"], accelerator="gpu", insights=False)
    create_vi(cluster, ns, "on-cpu", source=media["talk"], accelerator="cpu", insights=False)
    for name, pool in (("on-gpu", "gpu"), ("on-cpu", "cpu")):
        body = wait_phase(cluster, ns, name, ("Succeeded", "Failed"))
        assert body["status"]["phase"] == "Succeeded" and body["status"]["pool"] == pool
        [pod] = job_pods(cluster, ns, body)
        node = cluster.core.read_node(pod.spec.node_name)
        assert node.metadata.labels["vystra.io/pool"] == pool
        assert pod.spec.node_selector["kubernetes.io/arch"] == "amd64"
        limits = pod.spec.containers[0].resources.limits or {}
        assert limits["ephemeral-storage"] == "21Gi"  # disk bounded like memory
        if pool == "gpu":
            assert limits["nvidia.com/gpu"] == "1"
            assert any(t.key == "nvidia.com/gpu" for t in pod.spec.tolerations)
        else:
            assert "nvidia.com/gpu" not in limits


def test_gpu_queue_priority_and_auto_spill_to_cpu(cluster, ns, media):
    # hinted long, so each runs in a Job of its own (short ones would share one, in order)
    own = {"accelerator": "gpu", "insights": False, "durationHintSeconds": 3600}
    create_vi(cluster, ns, "g-short", source=media["talk"], **own)
    create_vi(cluster, ns, "g-long", source=media["long"], **own)
    for name in ("g-short", "g-long"):
        wait_phase(cluster, ns, name, ("Running",), timeout=60)
    queued = {"source": media["talk"], "accelerator": "gpu", "durationHintSeconds": 3600}
    create_vi(cluster, ns, "q-low", priorityClass="low", **queued)
    time.sleep(0.5)  # q-high is younger: only its priority class can put it first
    create_vi(cluster, ns, "q-high", priorityClass="high", **queued)
    for name in ("q-low", "q-high"):
        body = wait_phase(cluster, ns, name, ("Queued",), timeout=30)
        assert body["status"]["reason"] == "WaitingForGPU", body["status"]
    create_vi(
        cluster, ns, "auto-short", source=media["talk"], accelerator="auto", durationHintSeconds=30
    )
    auto = wait_phase(cluster, ns, "auto-short", ("Running", "Succeeded"), timeout=60)
    assert auto["status"]["pool"] == "cpu", auto["status"]
    assert "expected done in" in auto["status"]["message"], auto["status"]

    # when the first GPU frees, the high-priority ingest goes first
    high = wait_phase(cluster, ns, "q-high", ("Running", "Succeeded", "Failed"), timeout=300)
    low = get_vi(cluster, ns, "q-low")
    assert high["status"]["pool"] == "gpu"
    assert low["status"]["phase"] == "Queued", low["status"]
    for name in ("g-short", "g-long", "q-low", "q-high", "auto-short"):
        assert wait_phase(cluster, ns, name, ("Succeeded", "Failed"))["status"]["phase"] == (
            "Succeeded"
        )


def test_short_ingests_queued_behind_busy_gpus_share_one_job(cluster, ns, media, db):
    """Both GPUs busy, three short ingests wait; when a GPU frees they run in one Job, in turn,
    each under its own login. The damaged one fails alone with the pipeline's reason while the
    others succeed; each is Succeeded as soon as its worker reports it, and the Job is let go
    once all three have their outcome."""
    long = {"accelerator": "gpu", "insights": False, "durationHintSeconds": 3600}
    for name in ("busy-1", "busy-2"):  # longer than batches take: each gets its own Job
        create_vi(cluster, ns, name, source=media["talk"], **long)
    for name in ("busy-1", "busy-2"):
        wait_phase(cluster, ns, name, ("Running",), timeout=60)
    short = {"accelerator": "gpu", "insights": False, "durationHintSeconds": 30}
    sources = {"clip-1": "clip-1", "clip-bad": "broken", "clip-2": "clip-2"}
    uids = {
        name: create_vi(cluster, ns, name, source=media[kind], **short)["metadata"]["uid"]
        for name, kind in sources.items()
    }
    ended = {name: wait_phase(cluster, ns, name, ("Succeeded", "Failed")) for name in sources}
    jobs = [j for j in ingest_jobs(cluster, ns) if j.metadata.labels["vystra.io/ingest"] in sources]
    [job] = jobs  # one Job ran all three, in the order they were made
    listed = job.metadata.annotations["vystra.io/ingest-uids"].split(",")
    assert listed == [uids[n] for n in sources]
    for name in ("clip-1", "clip-2"):
        status = ended[name]["status"]
        assert status["phase"] == "Succeeded", status
        assert status["jobName"] == job.metadata.name and status["progress"]["segments"] > 0
    assert ended["clip-1"]["status"]["videoId"] != ended["clip-2"]["status"]["videoId"]
    events = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "reason=Admitted")
    assert events.stdout.count("one Job for 3 short ingests") == 3, events.stdout
    bad = ended["clip-bad"]["status"]
    assert bad["phase"] == "Failed" and bad["reason"] == "CorruptMedia", bad
    # the worker wrote each under its own login: each origin is its own
    with db.connect() as conn:
        origins = dict(
            conn.execute(
                "SELECT uid, reused FROM cluster_origins WHERE uid = ANY(%s)",
                ([uids["clip-1"], uids["clip-2"]],),
            ).fetchall()
        )
    assert origins == {uids["clip-1"]: False, uids["clip-2"]: False}

    def released() -> bool:
        j = cluster.batch.read_namespaced_job(job.metadata.name, CONFIG_NAMESPACE)
        return "vystra.io/outcome" not in (j.metadata.finalizers or [])

    cluster.wait_for(released, 30, "the batch's Job let go")
    for name in ("busy-1", "busy-2"):
        assert wait_phase(cluster, ns, name, ("Succeeded", "Failed"))["status"]["phase"] == (
            "Succeeded"
        )


def test_bad_video_fails_once_with_the_pipeline_reason(cluster, ns, media):
    create_vi(cluster, ns, "broken", source=media["broken"])
    body = wait_phase(cluster, ns, "broken", ("Succeeded", "Failed"))
    status = body["status"]
    assert status["phase"] == "Failed"
    assert status["reason"] == "CorruptMedia" and "damaged" in status["message"]
    assert status["attempts"] == 1  # the pod failure policy stops retries of bad input
    assert {c["type"]: c["status"] for c in status["conditions"]}["Failed"] == "True"
    events = cluster.kubectl("get", "events", "-n", ns).stdout
    assert "CorruptMedia" in events


def test_a_worker_holds_only_its_own_ingests_access(cluster, ns, media, db, s3):
    """The Job carries a database login of its own and a URL signed for its one object; no
    platform credential. The login is dropped once the outcome is recorded."""
    create_vi(cluster, ns, "scoped", source=media["talk"], accelerator="cpu", insights=False)
    body = wait_phase(cluster, ns, "scoped", ("Succeeded", "Failed"))
    assert body["status"]["phase"] == "Succeeded", body["status"]
    [job] = [
        j for j in ingest_jobs(cluster, ns) if j.metadata.labels["vystra.io/ingest"] == "scoped"
    ]
    [container] = job.spec.template.spec.containers
    env = {e.name: e for e in container.env}
    [login] = json.loads(env["VYSTRA_WORKER_LOGINS"].value)
    assert login["user"] == grants.role_name(body["metadata"]["uid"])
    assert "password" not in env["DATABASE_URL"].value and "user" not in env["DATABASE_URL"].value
    signed = login["sourceUrl"]
    assert media["talk"].split("/", 3)[3] in signed and "X-Amz-Signature=" in signed
    assert "GROQ_API_KEY" not in env and env["VYSTRA_INSIGHTS_DEFERRED"].value == "true"
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env)
    assert all(ref.secret_ref is None for ref in container.env_from or [])
    assert s3.secret_key not in str(job.to_dict())

    def dropped() -> bool:
        with db.connect() as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (login["user"],)
            ).fetchone()
        return row is None

    cluster.wait_for(dropped, 30, "the worker's login dropped")


def test_an_evicted_worker_resumes_after_its_stored_segments(cluster, ns, media, db):
    """A pod evicted mid-ingest (as a spot reclaim or a node drain does) is retried by its Job
    without counting as a failure; the retry keeps the stored segments and goes on from there,
    and the resource says what happened."""
    create_vi(cluster, ns, "evicted", source=media["long"], accelerator="cpu", insights=False)

    def stored() -> dict | None:
        status = get_vi(cluster, ns, "evicted").get("status") or {}
        return status if (status.get("progress") or {}).get("segments", 0) >= 4 else None

    video_id = cluster.wait_for(stored, 300, "the first segments stored")["videoId"]
    with db.connect() as conn:
        before = store.get_segments(conn, ns, video_id)
    body = get_vi(cluster, ns, "evicted")
    [pod] = [p for p in job_pods(cluster, ns, body) if p.status.phase == "Running"]
    cluster.core.create_namespaced_pod_eviction(
        pod.metadata.name,
        CONFIG_NAMESPACE,
        client.V1Eviction(
            metadata=client.V1ObjectMeta(name=pod.metadata.name, namespace=CONFIG_NAMESPACE)
        ),
    )
    status = wait_phase(cluster, ns, "evicted", ("Succeeded", "Failed"), timeout=600)["status"]
    assert status["phase"] == "Succeeded", status
    assert status["disruptions"] == 1 and status["lastDisruption"] == pod.metadata.name
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["Disrupted"] == ("True", "Disrupted")
    events = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "reason=Disrupted")
    assert "resumes after its stored segments" in events.stdout
    with db.connect() as conn:
        after = store.get_segments(conn, ns, video_id)
    assert [s.ordinal for s in after] == list(range(len(after)))  # none lost, none twice
    assert after[: len(before)] == before  # the stored units were kept, not redone
    assert len(after) == status["progress"]["segments"] > len(before)


def test_a_tenant_cannot_ingest_objects_that_are_not_its_own(cluster, ns, media, s3):
    """Without the chart's admission policy the operator refuses them itself, before any Job
    or request: the same answer for another tenant's existing object as for a missing one."""
    theirs = f"{tenant_prefix('someone-else')}{uuid.uuid4().hex[:6]}.mp4"
    s3.client().copy_object(
        Bucket=s3.bucket, Key=theirs, CopySource=f"{s3.bucket}/{media['talk'].split('/', 3)[3]}"
    )
    sources = {
        "theirs": f"s3://{s3.bucket}/{theirs}",
        "theirs-bare": theirs,
        "missing": f"{tenant_prefix('nobody')}x.mp4",
        "outside": f"s3://{s3.bucket}/talks/x.mp4",
        "climbs": f"{tenant_prefix(ns)}../someone-else/x.mp4",
        "other-bucket": f"s3://elsewhere/{tenant_prefix(ns)}x.mp4",
    }
    for name, source in sources.items():
        create_vi(cluster, ns, name, source=source, accelerator="cpu", insights=False)
    for name, source in sources.items():
        status = wait_phase(cluster, ns, name, ("Succeeded", "Failed"))["status"]
        assert status["phase"] == "Failed" and status["reason"] == "SourceForbidden", status
        assert status["message"].startswith(f"{source} is not this tenant's"), status
        assert "attempts" not in status
    assert not ingest_jobs(cluster, ns)


def test_plan_video_length(cluster, ns, media, db):
    """Enforced once the video is probed; made with kubectl, not through the API, and bound by
    the tenant's plan all the same. (A short test name: the namespace is the tenant's name.)"""
    subscribe(db, ns, "short")
    create_vi(cluster, ns, "too-long", source=media["talk"], accelerator="cpu")
    status = wait_phase(cluster, ns, "too-long", ("Succeeded", "Failed"))["status"]
    assert status["phase"] == "Failed" and status["reason"] == "QuotaExceeded"
    assert "processes videos up to 30 s" in status["message"], status
    assert status["attempts"] == 1
    with db.connect() as conn:
        assert store.list_videos(conn, ns) == []  # refused before anything was stored


def test_a_plan_refuses_before_any_job(cluster, ns, media, db):
    """No GPU on the short plan; nothing at all while a subscription is past due."""
    subscribe(db, ns, "short")
    create_vi(cluster, ns, "wants-gpu", source=media["talk"], accelerator="gpu")
    status = wait_phase(cluster, ns, "wants-gpu", ("Succeeded", "Failed"))["status"]
    assert status["reason"] == "QuotaExceeded" and "does not include GPU" in status["message"]
    subscribe(db, ns, "short", status="past_due")
    create_vi(cluster, ns, "lapsed", source=media["talk"], accelerator="cpu")
    status = wait_phase(cluster, ns, "lapsed", ("Succeeded", "Failed"))["status"]
    assert status["reason"] == "QuotaExceeded" and "past_due" in status["message"], status
    assert not ingest_jobs(cluster, ns)


def test_plan_cpu_auto(cluster, ns, media, db):
    """With a GPU free, `auto` goes to the GPU flavor (the example above); made with kubectl
    by a tenant whose plan has no GPU, it runs on CPU instead, and is not refused."""
    subscribe(db, ns, "cpu-only")
    create_vi(cluster, ns, "auto", source=media["talk"], accelerator="auto", insights=False)
    status = wait_phase(cluster, ns, "auto", ("Succeeded", "Failed"))["status"]
    assert status["phase"] == "Succeeded" and status["pool"] == "cpu", status
    assert status["attempts"] == 1, status
    [job] = ingest_jobs(cluster, ns)
    assert "nvidia.com/gpu" not in (job.spec.template.spec.containers[0].resources.limits or {})


def test_invalid_specs_are_rejected_at_apply(cluster, ns, media):
    proc = cluster.kubectl(
        "apply", "-n", ns, "-f", str(REPO / "examples/videoingest-invalid.yaml"), check=False
    )
    assert proc.returncode != 0
    assert 'spec.accelerator: Unsupported value: "tpu"' in proc.stderr
    assert 'spec.source: Invalid value: "ftp://example.org/video.mp4"' in proc.stderr
    with pytest.raises(client.exceptions.ApiException) as rejected:  # CEL rule
        create_vi(
            cluster,
            ns,
            "overlap",
            source=media["talk"],
            segmenting={"targetSeconds": 10, "overlapSeconds": 12},
        )
    assert rejected.value.status == 422
    assert "overlapSeconds must be below segmenting.targetSeconds" in rejected.value.body
    create_vi(cluster, ns, "fixed-source", source=media["talk"], accelerator="cpu")
    proc = cluster.kubectl(
        "patch",
        "vi",
        "fixed-source",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec": {"source": "s3://vystra/other.mp4"}}',
        check=False,
    )
    assert proc.returncode != 0 and "spec.source is immutable" in proc.stderr
    explained = cluster.kubectl("explain", "videoingest.spec.accelerator").stdout
    assert "auto prefers the GPU pool" in explained


def test_deleting_a_running_ingest_kills_it_and_removes_its_data(cluster, ns, media, db):
    create_vi(cluster, ns, "doomed", source=media["long"], accelerator="cpu")

    def storing():
        status = get_vi(cluster, ns, "doomed").get("status") or {}
        segments = (status.get("progress") or {}).get("segments", 0)
        return status if status.get("phase") == "Running" and segments > 0 else None

    status = cluster.wait_for(storing, 240, "segments while running")  # progress is live
    assert status["progress"]["percent"] != "100%"
    body = get_vi(cluster, ns, "doomed")
    [pod] = job_pods(cluster, ns, body)
    cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "doomed")
    vi_gone(cluster, ns, "doomed", timeout=5)  # no finalizer holds the resource itself
    cluster.wait_for(lambda: job_pods(cluster, ns, body) == [], 60, "the worker pod gone")
    cluster.wait_for_gone(
        lambda: cluster.batch.read_namespaced_job(status["jobName"], CONFIG_NAMESPACE),
        60,
        "the Job",
    )

    def video_gone() -> bool:
        with db.connect() as conn:
            return store.get_video(conn, ns, status["videoId"]) is None

    cluster.wait_for(video_gone, 60, "the video deleted once no pod of it runs")
    with db.connect() as conn:
        assert store.get_segments(conn, ns, status["videoId"]) == []
        # what it processed before the delete is metered, once
        metered = conn.execute(
            "SELECT ingest_id, video_id, seconds FROM usage_records WHERE ingest_key = %s",
            (body["metadata"]["uid"],),
        ).fetchall()
    assert pod.metadata.name not in cluster.kubectl("get", "pods", "-n", ns).stdout
    [(ingest_id, video_id, seconds)] = metered
    assert (ingest_id, video_id) == ("doomed", status["videoId"])
    processed = status["progress"]["processedSeconds"]
    assert processed <= seconds <= status["progress"]["durationSeconds"]


def test_operator_killed_repeatedly_loses_nothing(cluster, ns, operator, media_dir, s3, db):
    names = []
    for i in range(5):
        path = media_dir / f"pair_{i}.mp4"
        if not path.exists():
            make_talk_video(path, TALK[i : i + 2])
        key = f"{tenant_prefix(ns)}{path.name}"
        s3.client().upload_file(str(path), s3.bucket, key)
        names.append(f"pair-{i}")
        create_vi(
            cluster,
            ns,
            names[-1],
            source=f"s3://{s3.bucket}/{key}",
            accelerator=("gpu", "cpu", "auto")[i % 3],
            insights=False,
        )
    for delay in (1.0, 3.0, 6.0):
        time.sleep(delay)
        operator.kill()
        operator.start()
    bodies = [wait_phase(cluster, ns, n, ("Succeeded", "Failed"), timeout=400) for n in names]
    assert [b["status"]["phase"] for b in bodies] == ["Succeeded"] * len(names), [
        b["status"] for b in bodies
    ]
    jobs = ingest_jobs(cluster, ns)
    per_ingest = [j.metadata.labels["vystra.io/ingest"] for j in jobs]
    assert sorted(per_ingest) == sorted(names)  # one Job each, never a duplicate
    with db.connect() as conn:
        metered = conn.execute(
            "SELECT ingest_id, count(*) FROM usage_records WHERE tenant = %s GROUP BY ingest_id",
            (ns,),
        ).fetchall()
        assert sorted(metered) == [(n, 1) for n in sorted(names)]  # metered exactly once
        videos = store.list_videos(conn, ns)
        assert len(videos) == len(names)
        for video in videos:
            rows = conn.execute(
                "SELECT count(*), count(DISTINCT ordinal), max(ordinal) + 1 FROM segments"
                " WHERE video_id = %s",
                (video.id,),
            ).fetchone()
            assert rows[0] == rows[1] == rows[2] == video.segment_count > 0


def test_operator_metrics(operator, ns):
    text = urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics").read()
    text = text.decode()
    for name in (
        "vystra_operator_reconciles_total",
        "vystra_operator_queue_depth",
        "vystra_operator_jobs_created_total",
        "vystra_operator_admission_wait_seconds",
        "vystra_operator_job_duration_seconds",
        "vystra_operator_failures_total",
        "vystra_operator_succeeded_total",
    ):
        assert name in text
    # the exposition parses (prometheus-client's own parser), and every family of ours is
    # named as Prometheus recommends: a prefix, base units, _total only on counters
    families = list(text_string_to_metric_families(text))
    ours = [f for f in families if f.name.startswith("vystra_")]
    assert ours and all(f.name.startswith("vystra_operator_") for f in ours)
    for family in ours:
        assert re.fullmatch(r"[a-z_]+", family.name), family.name
        assert not family.name.endswith("_total"), family.name  # the parser strips it
        assert not re.search(r"_(ms|milliseconds|minutes|hours)(_|$)", family.name), family.name
    # the workers' stage times, from the reports of the ingests that succeeded under it
    timed = {
        sample.labels["stage"]
        for family in ours
        if family.name == "vystra_operator_stage_seconds"
        for sample in family.samples
        if sample.name.endswith("_count") and sample.value > 0
    }
    assert {"fetch", "probe", "audio", "transcribe"} <= timed <= reports.STAGES, timed
