"""charts/vystra on the real control plane: rendered objects accepted by the API server, RBAC
as each service account sees it, then `helm install` -> a VideoIngest applied with kubectl
succeeds and is searchable through the API the chart runs -> `helm upgrade` -> `helm
uninstall`, with the web app driven in Chromium in between. The node agent runs the chart's
pods as local processes, so they share the host network: ports come from values, and the API
is reached on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from browser_helpers import launch_chromium, sign_in
from chart_helpers import CHART, CI_VALUES, EXAMPLE_VALUES, Helm
from helpers import run_ffmpeg
from kubernetes import client
from playwright.sync_api import Response, Route, expect, sync_playwright

from vystra.db import store
from vystra.k8s import GROUP, PLURAL, TENANT_LABEL, VERSION
from vystra.objectkeys import tenant_prefix
from vystra.tenants import create_tenant

from .operator_env import free_port, get_vi, wait_phase

RELEASE = "vystra"  # the default name: the operator's own default resource names
PART = 5 * 1024**2
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
MONITORING_KINDS = ("servicemonitors", "prometheusrules")


@dataclass
class Release:
    namespace: str
    values: dict
    helm: Helm
    api_url: str
    ops_url: str  # readiness and metrics, never on the public port
    tenant_namespaces: list[str] = field(default_factory=list)  # made by the tests
    notes: str = ""  # what `helm install` printed after NOTES:

    def pods(self, cluster, component: str) -> list[client.V1Pod]:  # noqa: ANN001
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}"
        return cluster.core.list_namespaced_pod(self.namespace, label_selector=selector).items

    def logs(self, cluster, component: str) -> str:  # noqa: ANN001
        return "\n".join(
            cluster.pod_log(self.namespace, p.metadata.name) for p in self.pods(cluster, component)
        )


def monitoring_crds() -> list[Path]:
    """The ServiceMonitor and PrometheusRule CRDs from the pinned prometheus-operator module
    (Go module cache)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", PROMETHEUS_OPERATOR],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    folder = Path(json.loads(out.stdout)["Dir"]) / "example" / "prometheus-operator-crd"
    return [folder / f"monitoring.coreos.com_{kind}.yaml" for kind in MONITORING_KINDS]


def test_rendered_chart_is_valid_for_the_api_server(cluster, namespace) -> None:
    """helm lint --strict, then every object of every CI and example values file through a
    server-side dry run: the API server's own schemas (v1.34.4), the prometheus-operator's
    CRDs, with strict field validation."""
    helm = Helm()
    for values in CI_VALUES + EXAMPLE_VALUES:
        lint = helm("lint", "--strict", str(CHART), "-f", str(values))
        assert "0 chart(s) failed" in lint.stdout
    for crd in monitoring_crds():
        cluster.kubectl("apply", "--server-side", "-f", str(crd))
    for kind in MONITORING_KINDS:
        cluster.wait_for_crd(f"{kind}.monitoring.coreos.com")
    for values in CI_VALUES + EXAMPLE_VALUES:
        rendered = helm(
            "template", RELEASE, str(CHART), "-f", str(values), "--namespace", namespace
        ).stdout
        kinds = sorted({d["kind"] for d in yaml.safe_load_all(rendered) if d})
        result = cluster.kubectl(
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "-n",
            namespace,
            "-f",
            "-",
            input=rendered,
            check=False,
        )
        assert result.returncode == 0, f"{values.name}: {result.stderr}"
        assert result.stdout.count("(server dry run)") == rendered.count("\nkind: "), kinds
    # and the API server rejects what the chart must never produce: a field it does not know
    bad = rendered.replace("maxUnavailable:", "maxUnavailabel:", 1)
    result = cluster.kubectl(
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-n",
        namespace,
        "-f",
        "-",
        input=bad,
        check=False,
    )
    assert result.returncode != 0 and "maxUnavailabel" in result.stderr


@pytest.fixture(scope="module")
def release(cluster, db, s3) -> Iterator[Release]:
    namespace = f"vystra-chart-{uuid.uuid4().hex[:6]}"
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    api_port, ops_port = free_port(), free_port()
    values = {
        "listenAddress": "127.0.0.1",  # pods share the host's network here
        "secrets": {
            "databaseUrl": db.url,
            "awsAccessKeyId": s3.access_key,
            "awsSecretAccessKey": s3.secret_key,
        },
        "objectStore": {"endpoint": s3.endpoint_url, "region": "us-east-1", "bucket": s3.bucket},
        # uploads above 5 MiB go in 5 MiB parts (S3's smallest): the browser test uses parts
        "config": {
            "VYSTRA_WHISPER_THREADS": 1,
            "VYSTRA_UPLOAD_MULTIPART_THRESHOLD_BYTES": PART,
            "VYSTRA_UPLOAD_PART_BYTES": PART,
        },
        "operator": {
            "metricsPort": free_port(),
            "healthPort": free_port(),
            "replicas": 1,  # one pod per port: pods share the host's network here
            "logFormat": "plain",
        },
        # one pod per port: a rolling update would start the new pod beside the old one
        "api": {
            "replicaCount": 1,
            "port": api_port,
            "opsPort": ops_port,
            "strategy": {"type": "Recreate"},
        },
        "test": {"url": f"http://127.0.0.1:{ops_port}"},
    }
    helm = Helm(cluster.kubeconfig, namespace)
    result = Release(
        namespace, values, helm, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ops_port}"
    )
    try:
        installed = helm(
            "install",
            RELEASE,
            str(CHART),
            "-f",
            "-",
            "--wait",
            "--timeout",
            "5m",
            input=yaml.safe_dump(values),
        )
        result.notes = installed.stdout.split("NOTES:\n", 1)[1]
        yield result
    finally:
        helm("uninstall", RELEASE, "--wait", check=False)
        cleanup_namespaces(cluster, namespace, *result.tenant_namespaces)


def cleanup_namespaces(cluster, *namespaces: str) -> None:  # noqa: ANN001
    """VideoIngests keep the operator's finalizer once no operator runs: drop it, then delete."""
    for ns in namespaces:
        for vi in cluster.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]:
            cluster.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                ns,
                PLURAL,
                vi["metadata"]["name"],
                {"metadata": {"finalizers": None}},
            )
        cluster.core.delete_namespace(ns)


def wait_ready(cluster, release: Release) -> httpx.Response:  # noqa: ANN001
    """The node agent runs no probes: poll /readyz as the kubelet's readiness probe would."""

    def ready() -> httpx.Response | None:
        try:
            response = httpx.get(f"{release.ops_url}/readyz", timeout=10)
        except httpx.TransportError:
            return None  # still starting
        return response if response.status_code == 200 else None

    try:
        return cluster.wait_for(ready, 120, "the API's /readyz")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{release.logs(cluster, 'api')[-3000:]}") from None


def test_install_runs_operator_and_api(cluster, release) -> None:
    assert cluster.kubectl("get", "crd/videoingests.vystra.io", "-o", "name").stdout.strip()
    for component in ("operator", "api"):
        pods = release.pods(cluster, component)
        assert [p.status.phase for p in pods] == ["Running"], component
        assert pods[0].spec.service_account_name == f"{RELEASE}-{component}"
    ready = wait_ready(cluster, release)
    assert ready.json() == {
        "status": "ready",
        "mode": "cluster",
        "database": "ok",
        "object_store": "ok",
        "kubernetes": "ok",
    }
    for path in ("/readyz", "/metrics"):  # the port behind the Service and any Ingress
        assert httpx.get(f"{release.api_url}{path}").status_code == 404, path
    assert httpx.get(f"{release.api_url}/healthz").json() == {"status": "ok"}
    # the public port's requests, counted and served on the operations port
    assert "vystra_http_request_duration_seconds" in httpx.get(f"{release.ops_url}/metrics").text
    # NOTES.txt: warnings first (a Secret from values, one API replica), then what to do
    assert release.notes.startswith("WARNING:") and len(release.notes.splitlines()) <= 30
    assert "kind: VideoIngest" in release.notes and "/v1/search" in release.notes
    test = release.helm("test", RELEASE, "--logs", "--timeout", "3m")
    assert "Phase:          Succeeded" in test.stdout, test.stdout


def can_i(cluster, release, account: str, *args: str) -> bool:  # noqa: ANN001
    user = f"system:serviceaccount:{release.namespace}:{RELEASE}-{account}"
    result = cluster.kubectl("auth", "can-i", *args, f"--as={user}", check=False)
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


def test_rbac_grants_each_account_only_what_it_needs(cluster, release) -> None:
    ns, other = release.namespace, "some-tenant"

    def allowed(account: str, *args: str) -> bool:
        return can_i(cluster, release, account, *args)

    # the operator: Jobs in the release's namespace only, status anywhere, no Secrets at all
    assert allowed("operator", "create", "jobs", "-n", ns)
    assert not allowed("operator", "create", "jobs", "-n", other)
    assert allowed(
        "operator", "patch", "videoingests.vystra.io", "--subresource=status", "-n", other
    )
    assert allowed("operator", "list", "nodes")
    assert not allowed("operator", "bind", "clusterroles/vystra-worker")
    for verb in ("get", "create", "update"):
        assert not allowed("operator", verb, "secrets", "-n", other)
        assert not allowed("operator", verb, "secrets", "-n", ns)
    assert not allowed("operator", "create", "serviceaccounts", "-n", other)
    assert not allowed("operator", "create", "rolebindings", "-n", other)
    assert not allowed("operator", "delete", "namespaces")
    # the worker: nothing at all (it has no token either)
    assert not allowed("worker", "get", "videoingests.vystra.io", "-n", other)
    assert not allowed(
        "worker", "patch", "videoingests.vystra.io", "--subresource=status", "-n", other
    )
    assert not allowed("worker", "list", "secrets", "-n", ns)
    assert not allowed("worker", "delete", "jobs", "-n", ns)
    assert not allowed("worker", "create", "videoingests.vystra.io", "-n", ns)
    # the API: tenant namespaces and VideoIngests, and re-index Jobs from its one CronJob
    assert allowed("api", "create", "namespaces")
    assert allowed("api", "create", "videoingests.vystra.io", "-n", other)
    assert not allowed("api", "delete", "namespaces")
    assert not allowed("api", "list", "secrets", "-n", ns)
    assert allowed("api", "create", "jobs", "-n", ns)
    assert allowed("api", "get", f"cronjobs/{RELEASE}-reindex", "-n", ns)
    assert not allowed("api", "get", "cronjobs/another", "-n", ns)
    assert not allowed("api", "delete", "jobs", "-n", ns)
    assert not allowed("api", "create", "jobs", "-n", other)
    for account in ("operator", "worker", "api"):
        assert not allowed(account, "*", "*", "--all-namespaces"), f"{account} is cluster-admin"


def test_videoingest_applied_with_kubectl_is_searchable_through_the_api(
    cluster, db, s3, release, talk
) -> None:
    path, sections = talk
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    with db.connect() as conn:
        key = create_tenant(conn, tenant)
    source_key = f"{tenant_prefix(tenant)}{path.name}"
    s3.client().upload_file(str(path), s3.bucket, source_key)
    # as NOTES.txt says: the tenant's namespace, bound to the tenant by an administrator
    tenant_ns = f"vystra-{tenant}"
    cluster.kubectl("create", "namespace", tenant_ns)
    cluster.kubectl("label", "namespace", tenant_ns, f"{TENANT_LABEL}={tenant}")
    release.tenant_namespaces.append(tenant_ns)
    manifest = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "VideoIngest",
        "metadata": {"name": "keynote"},
        "spec": {
            "source": f"s3://{s3.bucket}/{source_key}",
            "title": "Chart talk",
            "accelerator": "cpu",
        },
    }
    cluster.kubectl("apply", "-n", tenant_ns, "-f", "-", input=yaml.safe_dump(manifest))
    try:
        final = wait_phase(cluster, tenant_ns, "keynote", ("Succeeded", "Failed"), 600)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{release.logs(cluster, 'operator')[-3000:]}") from None
    assert final["status"]["phase"] == "Succeeded", final["status"]
    video_id = final["status"]["videoId"]

    # the worker ran in the release's namespace: the tenant's namespace holds no Secret of
    # the platform's, nor a worker account
    assert cluster.core.list_namespaced_secret(tenant_ns).items == []
    assert [
        a.metadata.name for a in cluster.core.list_namespaced_service_account(tenant_ns).items
    ] == ["default"]
    [job] = cluster.batch.list_namespaced_job(
        release.namespace, label_selector=f"vystra.io/ingest-namespace={tenant_ns}"
    ).items
    assert job.metadata.name == final["status"]["jobName"]

    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=release.api_url, headers=headers, timeout=60) as api:
        listed = api.get("/v1/ingests").json()["items"]
        assert [(i["id"], i["phase"]) for i in listed] == [("keynote", "Succeeded")]
        found = api.get("/v1/search", params={"q": "baking bread with wild yeast"}).json()
    sourdough = next(s for s in sections if s.topic == "sourdough")
    top = found["results"][0]
    assert top["video_id"] == video_id and top["title"] == "Chart talk"
    assert top["start"] < sourdough.end and top["end"] > sourdough.start

    # every permission the operator used was granted: no 403 in the reconcile loop, and no
    # Kopf warning about a watch it was not allowed (it degrades silently otherwise)
    logs = release.logs(cluster, "operator")
    assert "became leader" in logs, logs[-3000:]
    for refusal in ("403", "Forbidden", "Not enough permissions"):
        assert refusal not in logs, logs[-3000:]


def test_the_web_app_uploads_in_parts_to_minio_and_plays_the_answer(
    cluster, db, release, talk, tmp_path: Path
) -> None:
    """The web app that the chart's API serves, in real headless Chromium: the page uploads a
    video straight to MinIO in presigned parts (the second part's first PUT is cut, and
    retried alone), the chart's operator runs the ingest as a Job, the page follows it to done
    over Server-Sent Events, searches, and plays the answer from the store at its moment."""
    path, sections = talk
    grainy = tmp_path / "talk-grain.mp4"  # the talk with a noisy picture: several parts
    run_ffmpeg(
        *("-i", str(path), "-vf", "noise=alls=60:allf=t", "-c:v", "libx264"),
        *("-b:v", "1200k", "-maxrate", "1200k", "-bufsize", "2400k", "-c:a", "copy", str(grainy)),
    )
    count = -(-grainy.stat().st_size // PART)
    assert count >= 3, count
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    with db.connect() as conn:
        key = create_tenant(conn, tenant)
    cut: list[str] = []
    parts: list[tuple[int, int]] = []  # (part number, status) of the PUTs that reached MinIO

    def cut_once(route: Route) -> None:
        if cut:
            route.continue_()
        else:
            cut.append(route.request.url)
            route.abort("connectionreset")

    def part(response: Response) -> None:
        if response.request.method == "PUT" and "partNumber=" in response.url:
            parts.append((int(response.url.split("partNumber=")[1].split("&")[0]), response.status))

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.set_default_timeout(30_000)
            page.route(lambda url: "partNumber=2&" in url or url.endswith("partNumber=2"), cut_once)
            page.on("response", part)
            sign_in(page, release.api_url, key)
            page.locator("#files").set_input_files(str(grainy))
            card = page.locator(".task").first
            expect(card).to_have_attribute("data-stage", "done", timeout=600_000)
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
            box = page.get_by_label("Find a moment")
            box.fill("baking bread with wild yeast")
            box.press("Enter")
            first = page.locator("a.moment").first
            expect(first.locator("mark").first).to_be_visible()
            moment_t = float(first.get_attribute("href").split("t=")[1])
            first.press("Enter")
            page.wait_for_function(
                "() => { const v = document.querySelector('video');"
                " return v && v.readyState >= 2 && v.currentTime > 0; }",
                timeout=60_000,
            )
            now = page.locator("video").evaluate("v => v.currentTime")
        finally:
            browser.close()
            made = [n.metadata.name for n in cluster.core.list_namespace().items]
            if f"vystra-{tenant}" in made:  # by the API, on the ingest
                cleanup_namespaces(cluster, f"vystra-{tenant}")
    assert cut, "the second part's upload was never cut"
    assert sorted(parts) == [(n, 200) for n in range(1, count + 1)], parts  # each stored once
    sourdough = next(s for s in sections if s.topic == "sourdough")
    assert moment_t <= now < moment_t + 15 and sourdough.start - 3 <= now <= sourdough.end


def deployment_revisions(cluster, release) -> dict[str, str]:  # noqa: ANN001
    apps = client.AppsV1Api(cluster.api_client)
    return {
        d.metadata.name: d.metadata.annotations.get("deployment.kubernetes.io/revision")
        for d in apps.list_namespaced_deployment(release.namespace).items
    }


def test_upgrade_with_changed_values_rolls_the_deployments(cluster, release) -> None:
    before = deployment_revisions(cluster, release)
    old_pods = {p.metadata.name for c in ("operator", "api") for p in release.pods(cluster, c)}
    values = {**release.values, "config": {**release.values["config"], "VYSTRA_HNSW_EF_SEARCH": 64}}
    release.helm(
        "upgrade",
        RELEASE,
        str(CHART),
        "-f",
        "-",
        "--wait",
        "--timeout",
        "5m",
        input=yaml.safe_dump(values),
    )
    after = deployment_revisions(cluster, release)
    assert before.keys() == after.keys() == {f"{RELEASE}-operator", f"{RELEASE}-api"}
    assert all(int(after[name]) == int(before[name]) + 1 for name in before), (before, after)

    def rolled() -> bool:
        pods = [p for c in ("operator", "api") for p in release.pods(cluster, c)]
        names = {p.metadata.name for p in pods}
        return (
            len(pods) == 2
            and not names & old_pods
            and all(p.status.phase == "Running" for p in pods)
        )

    cluster.wait_for(rolled, 120, "new operator and API pods")
    env = cluster.core.read_namespaced_config_map(f"{RELEASE}-worker", release.namespace).data
    assert env["VYSTRA_HNSW_EF_SEARCH"] == "64"
    wait_ready(cluster, release)


def test_uninstall_keeps_crds_and_data(cluster, db, release) -> None:
    release.helm("uninstall", RELEASE, "--wait", "--timeout", "3m")
    apps = client.AppsV1Api(cluster.api_client)
    assert apps.list_namespaced_deployment(release.namespace).items == []
    names = {r.metadata.name for r in cluster.rbac.list_cluster_role().items}
    assert not names & {f"{RELEASE}-operator", f"{RELEASE}-api", f"{RELEASE}-worker"}
    # documented: CRDs, VideoIngests and indexed videos stay
    assert cluster.kubectl("get", "crd/videoingests.vystra.io", "-o", "name").stdout.strip()
    for ns in release.tenant_namespaces:
        vi = get_vi(cluster, ns, "keynote")
        assert vi["status"]["phase"] == "Succeeded"
        with db.connect() as conn:
            tenant = cluster.core.read_namespace(ns).metadata.labels[TENANT_LABEL]
            video = store.get_video(conn, tenant, vi["status"]["videoId"])
        assert video is not None
