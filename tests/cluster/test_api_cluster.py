"""The API in cluster mode against the real control plane: ingests are VideoIngest resources in
the tenant's namespace, uploads go to the S3 server with presigned URLs."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import Caller, LiveServer, stream_events
from chart_helpers import CHART, Helm
from groq_standin import GroqStandIn
from kubernetes import client
from otlp_receiver import OtlpReceiver
from pydantic import SecretStr
from vystra_client import Client, NotFound

from vystra import webhooks
from vystra.k8s import GROUP, PLURAL, TENANT_LABEL, VERSION
from vystra.tenants import create_tenant
from vystra_api.main import create_app

from .operator_env import CONFIG_NAMESPACE, Operator, install_crd, prepare_config_namespace

PREFIX = "vystra-api-"
FULL_VALUES = CHART / "ci" / "full-values.yaml"
INSIGHTS = {"summary": "A talk on six topics.", "keywords": ["sourdough"], "topics": ["baking"]}


@pytest.fixture(scope="module")
def groq() -> Iterator[GroqStandIn]:
    stand_in = GroqStandIn()
    stand_in.default_reply = json.dumps(INSIGHTS)
    yield stand_in
    stand_in.close()


def in_cluster_mode(settings, cluster, s3, **more: object):  # noqa: ANN001, ANN201
    """The API's settings in cluster mode, on the dev cluster and its S3 server."""
    update = {
        "mode": "cluster",
        "kubeconfig": Path(cluster.kubeconfig),
        "s3_endpoint_url": s3.endpoint_url,
        "s3_bucket": s3.bucket,
        "tenant_namespace_prefix": PREFIX,
    }
    return settings.model_copy(update={**update, **more})


@pytest.fixture(scope="module")
def api_url(cluster, db, s3, settings, groq) -> Iterator[str]:
    install_crd(cluster)
    cluster_settings = in_cluster_mode(
        settings,
        cluster,
        s3,
        # the LLM key stays here: workers leave insights pending for the API to write
        groq_api_key="gsk-api-only",
        groq_base_url=groq.url,
        insights_poll_seconds=0.5,
    )
    with pytest.MonkeyPatch.context() as mp:  # boto3 reads its credentials from the environment
        for key, value in s3.env().items():
            mp.setenv(key, value)
        with LiveServer(create_app(cluster_settings, db=db)) as url:
            yield url


def new_caller(db) -> Caller:  # noqa: ANN001
    name = f"t-{uuid.uuid4().hex[:10]}"
    with db.connect() as conn:
        return Caller(name, create_tenant(conn, name))


def custom(cluster) -> client.CustomObjectsApi:  # noqa: ANN001
    return client.CustomObjectsApi(cluster.api_client)


def test_ingests_are_resources_in_the_tenants_namespace(cluster, db, api_url) -> None:
    """Without the operator: create, read, list, isolate and delete VideoIngests."""
    a, b = new_caller(db), new_caller(db)
    with httpx.Client(base_url=api_url, timeout=60) as api:
        ready = api.get("/readyz").json()
        assert ready["kubernetes"] == "ok" and ready["mode"] == "cluster"
        created = api.post(
            "/v1/ingests",
            headers=a.headers,
            json={"url": "https://media.example/talk.mp4", "priority": 5, "accelerator": "cpu"},
        )
        assert created.status_code == 201, created.text
        ingest = created.json()
        body = custom(cluster).get_namespaced_custom_object(
            GROUP, VERSION, PREFIX + a.tenant, PLURAL, ingest["id"]
        )
        assert body["metadata"]["labels"][TENANT_LABEL] == a.tenant
        assert body["spec"]["source"] == "https://media.example/talk.mp4"
        assert body["spec"]["priority"] == 5 and body["spec"]["accelerator"] == "cpu"
        assert ingest["phase"] == "Pending"

        # the worker writes status; the API reports it
        custom(cluster).patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            PREFIX + a.tenant,
            PLURAL,
            ingest["id"],
            {
                "status": {
                    "phase": "Running",
                    "videoId": "v123",
                    "progress": {"processedSeconds": 30, "durationSeconds": 120, "segments": 2},
                }
            },
        )
        seen = api.get(f"/v1/ingests/{ingest['id']}", headers=a.headers).json()
        assert seen["phase"] == "Running" and seen["video_id"] == "v123"
        assert seen["progress"]["percent"] == 25.0 and seen["progress"]["segments"] == 2

        listed = api.get("/v1/ingests", headers=a.headers).json()["items"]
        assert [i["id"] for i in listed] == [ingest["id"]]
        assert api.get("/v1/ingests", headers=b.headers).json()["items"] == []
        for method in ("GET", "DELETE"):
            assert (
                api.request(method, f"/v1/ingests/{ingest['id']}", headers=b.headers).status_code
                == 404
            )
        assert api.get(f"/v1/ingests/{ingest['id']}/events", headers=b.headers).status_code == 404

        assert api.delete(f"/v1/ingests/{ingest['id']}", headers=a.headers).status_code == 204
        gone = api.get(f"/v1/ingests/{ingest['id']}", headers=a.headers)
        assert gone.status_code in (200, 404)  # 200 only while a finalizer runs


def test_presigned_s3_upload(cluster, db, s3, api_url) -> None:
    caller = new_caller(db)
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(1000)
    with httpx.Client(base_url=api_url, headers=caller.headers, timeout=60) as api:
        upload = api.post(
            "/v1/uploads",
            json={"filename": "clip.mp4", "size_bytes": len(data), "content_type": "video/mp4"},
        ).json()
        assert upload["url"].startswith(s3.endpoint_url)
        assert api.post(f"/v1/uploads/{upload['id']}/complete").json()["error"] == "NotUploaded"
        # the store itself enforces the signed size and type
        assert (
            httpx.put(upload["url"], content=data + b"x", headers=upload["headers"]).status_code
            >= 400
        )
        assert (
            httpx.put(
                upload["url"], content=data, headers={"Content-Type": "text/plain"}
            ).status_code
            >= 400
        )
        put = httpx.put(upload["url"], content=data, headers=upload["headers"])
        assert put.status_code == 200, put.text
        done = api.post(f"/v1/uploads/{upload['id']}/complete").json()
        assert done["status"] == "complete" and done["key"].startswith(f"uploads/{caller.tenant}/")
        head = s3.client().head_object(Bucket=s3.bucket, Key=done["key"])
        assert head["ContentLength"] == len(data)


@pytest.fixture(scope="module")
def collector() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def operator(cluster, db, s3, tmp_path_factory, api_url, collector) -> Iterator[Operator]:
    """The operator, and its workers, sending traces to a collector on loopback (the chart's
    `tracing.endpoint`, which its ConfigMap gives both)."""
    prepare_config_namespace(cluster, s3)
    tracing_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    cluster.core.patch_namespaced_config_map(
        "vystra-worker", CONFIG_NAMESPACE, {"data": tracing_env}
    )
    op = Operator(cluster, db.url, tmp_path_factory.mktemp("operator-api"), env=tracing_env)
    op.start()
    yield op
    op.stop()
    prepare_config_namespace(cluster, s3)  # the ConfigMap as the other tests expect it


def test_full_flow_through_the_operator(
    cluster, db, s3, api_url, operator, talk, groq, collector
) -> None:
    path, sections = talk
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    data = path.read_bytes()
    caller = new_caller(db)
    namespace = PREFIX + caller.tenant  # created by the API on the first ingest
    with db.connect() as conn:  # an endpoint for the outcome (delivery: test_api_webhooks.py)
        webhooks.create_endpoint(
            conn, caller.tenant, "wh-0123456789ab", "http://127.0.0.1:9/", ["ingest.succeeded"]
        )
    try:
        with httpx.Client(base_url=api_url, headers=caller.headers, timeout=60) as api:
            upload = api.post(
                "/v1/uploads",
                json={"filename": path.name, "size_bytes": len(data), "content_type": "video/mp4"},
            ).json()
            assert httpx.put(upload["url"], content=data, headers=upload["headers"]).is_success
            assert api.post(f"/v1/uploads/{upload['id']}/complete").json()["status"] == "complete"
            ingest = api.post(
                "/v1/ingests",
                json={"upload_id": upload["id"], "title": "Cluster talk", "accelerator": "cpu"},
                headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"},
            ).json()
            events = stream_events(api, f"/v1/ingests/{ingest['id']}/events", caller.headers, 600)
            final = events[-1][1]
            assert events[-1][0] == "end" and final["phase"] == "Succeeded", (
                final,
                operator.logs()[-3000:],
            )
            assert any(n == "segment" for n, _ in events)
            # the caller's trace went on through the operator's admission and the worker's
            # stages (this API records no spans itself, and passes the caller's trace on)
            stages = {"fetch", "probe", "audio", "transcribe"}
            spans = collector.wait_for(caller_trace, {"admit", "ingest", *stages})
            by_name = {s.name: s for s in spans}
            admit, run = by_name["admit"], by_name["ingest"]
            assert (admit.service, admit.parent_id) == ("vystra-operator", caller_span)
            assert (run.service, run.parent_id) == ("vystra-worker", caller_span)
            assert admit.end_ns <= run.start_ns and run.attributes["vystra.tenant"] == caller.tenant
            for stage in stages:
                assert (by_name[stage].service, by_name[stage].parent_id) == (
                    "vystra-worker",
                    run.span_id,
                ), stage
            # the operator queued the outcome's webhook event with the status, once
            with db.connect() as conn:
                queued = conn.execute(
                    "SELECT event_type, payload FROM webhook_deliveries WHERE tenant = %s",
                    (caller.tenant,),
                ).fetchall()
            assert [(t, p["data"]["video_id"]) for t, p in queued] == [
                ("ingest.succeeded", final["video_id"])
            ]
            assert queued[0][1]["data"]["ingest_id"] == ingest["id"]
            found = api.get("/v1/search", params={"q": "baking bread with wild yeast"}).json()
            sourdough = next(s for s in sections if s.topic == "sourdough")
            top = found["results"][0]
            assert top["video_id"] == final["video_id"] and top["title"] == "Cluster talk"
            assert top["start"] < sourdough.end and top["end"] > sourdough.start
            media = httpx.get(top["link"].split("#")[0], headers={"Range": "bytes=0-99"})
            assert media.status_code == 206 and media.content == data[:100]
            vtt = api.get(f"/v1/videos/{final['video_id']}/subtitles.vtt")
            assert vtt.text.startswith("WEBVTT") and "sourdough" in vtt.text.lower()

            # insights: written by the API with its key from the stored units
            deadline = time.monotonic() + 60
            while (video := api.get(f"/v1/videos/{final['video_id']}").json())[
                "insights_status"
            ] in ("pending", "generating") and time.monotonic() < deadline:
                time.sleep(0.5)
            assert video["insights_status"] == "ready", video["insights_status"]
            assert video["insights"]["summary"] == INSIGHTS["summary"]
            assert video["insights"]["generator"].startswith("groq:")
            prompts = [r["messages"][1]["content"].lower() for r in groq.requests]
            assert any("sourdough" in p for p in prompts)
    finally:
        cluster.core.delete_namespace(namespace)


class LoseFirstPartAnswers(httpx.BaseTransport):
    """The network between the SDK and the object store: the first PUT of each part reaches the
    store, and its answer is lost on the way back (a reset connection)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.puts: dict[str, int] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        part = request.url.params.get("partNumber")
        if request.method == "PUT" and part is not None:
            self.puts[part] = self.puts.get(part, 0) + 1
            if self.puts[part] == 1:
                response.read()
                response.close()
                raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_the_sdk_in_cluster_mode_uploads_in_parts_and_runs_the_flow(
    cluster, db, s3, settings, api_url, operator, talk, tmp_path
) -> None:
    """The SDK against the cluster-mode API with S3 multipart uploads: a file of three parts
    lands byte for byte though every part's first answer is lost (each part is sent again),
    and the talk (one part) goes through the operator to search."""
    path, sections = talk
    caller = new_caller(db)
    namespace = PREFIX + caller.tenant
    parted = in_cluster_mode(
        settings, cluster, s3, upload_multipart_threshold_bytes=1, upload_part_bytes=5 * 1024**2
    )
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(12 * 1024**2 + 12345))  # parts of 5, 5 and 2 MiB
    try:
        with pytest.MonkeyPatch.context() as mp:
            for key, value in s3.env().items():
                mp.setenv(key, value)
            lossy = LoseFirstPartAnswers()
            with (
                LiveServer(create_app(parted, db=db)) as url,
                Client(url, caller.key, timeout=120, transport=lossy) as vystra,
            ):
                stored = vystra.upload_file(big)
                assert stored.status == "complete" and stored.size_bytes == big.stat().st_size
                assert lossy.puts == {"1": 2, "2": 2, "3": 2}
                got = s3.client().get_object(Bucket=s3.bucket, Key=stored.key)["Body"].read()
                assert hashlib.sha256(got).digest() == hashlib.sha256(big.read_bytes()).digest()

                upload = vystra.upload_file(path)
                ingest = vystra.create_ingest(
                    upload_id=upload.id, title="SDK talk", accelerator="cpu", insights=False
                )
                events = list(vystra.events(ingest.id))
                final = events[-1].ingest
                assert events[-1].type == "end" and final is not None
                assert final.phase == "Succeeded", (final, operator.logs()[-3000:])
                assert any(e.type == "segment" for e in events)
                top = vystra.search("baking bread with wild yeast", limit=1).results[0]
                sourdough = next(s for s in sections if s.topic == "sourdough")
                assert top.video_id == final.video_id and top.start < sourdough.end
                vystra.delete_video(top.video_id)
                with pytest.raises(NotFound):
                    vystra.get_video(top.video_id)
    finally:
        cluster.core.delete_namespace(namespace)


def test_a_reindex_runs_as_a_job_made_from_the_charts_template(cluster, db, s3, settings) -> None:
    """POST /v1/admin/reindex in cluster mode records the run and creates a Job from the chart's
    suspended CronJob, told which run to carry out; tenants' keys cannot."""
    namespace = f"vystra-reindex-{uuid.uuid4().hex[:6]}"
    core, batch = client.CoreV1Api(cluster.api_client), client.BatchV1Api(cluster.api_client)
    core.create_namespace({"metadata": {"name": namespace}})
    (cron,) = [
        d
        for d in Helm().template("-f", str(FULL_VALUES), "--namespace", namespace)
        if d["kind"] == "CronJob"
    ]
    batch.create_namespaced_cron_job(namespace, cron)
    admin = {"Authorization": "Bearer admin-key-for-tests"}
    cluster_settings = in_cluster_mode(
        settings,
        cluster,
        s3,
        reindex_job_template=f"{namespace}/{cron['metadata']['name']}",
        admin_key=SecretStr("admin-key-for-tests"),
    )
    tenant = new_caller(db)
    with LiveServer(create_app(cluster_settings, db=db)) as url, httpx.Client(base_url=url) as api:
        refused = api.post("/v1/admin/reindex", headers=tenant.headers, json={})
        assert refused.status_code == 401
        bad = api.post("/v1/admin/reindex", headers=admin, json={"model": "/no/such/model"})
        assert bad.status_code == 400 and "does not exist" in bad.json()["message"]
        created = api.post("/v1/admin/reindex", headers=admin, json={"model": "e5-multilingual"})
        assert created.status_code == 202, created.text
        run = created.json()
        assert run["status"] == "pending" and run["model"] == "e5-multilingual"
        assert api.get(f"/v1/admin/reindex/{run['id']}", headers=admin).json() == run
    (job,) = batch.list_namespaced_job(
        namespace, label_selector=f"vystra.io/reindex-run={run['id']}"
    ).items
    pod = job.spec.template.spec
    assert pod.containers[0].command == ["vystra"]
    assert pod.containers[0].args == ["reindex", "--run", run["id"], "-q"]
    assert pod.automount_service_account_token is False
    secret = next(e for e in pod.containers[0].env if e.name == "DATABASE_URL")
    assert secret.value_from.secret_key_ref.key == "DATABASE_URL"
    # without the chart's template nothing could carry a run out: refused, and the run says why
    untemplated = in_cluster_mode(settings, cluster, s3, admin_key=SecretStr("admin-key-for-tests"))
    with LiveServer(create_app(untemplated, db=db)) as url, httpx.Client(base_url=url) as api:
        assert api.post("/v1/admin/reindex", headers=admin, json={}).status_code == 501
        latest = api.get("/v1/admin/reindex", headers=admin).json()["items"][0]
    assert latest["status"] == "failed" and "VYSTRA_REINDEX_JOB_TEMPLATE" in latest["error"]
    core.delete_namespace(namespace)
