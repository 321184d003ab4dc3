"""The web app in cluster mode, in real headless Chromium: the page uploads a video straight to
the object store (S3 on the dev cluster) in presigned parts, one of which is cut and retried;
the ingest is a VideoIngest the operator runs as a Job; the page follows it to done over
Server-Sent Events, searches, and plays the answer from the object store at its moment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import LiveServer
from browser_helpers import launch_chromium, sign_in
from helpers import run_ffmpeg
from playwright.sync_api import Page, Route, expect, sync_playwright

from vystra.tenants import create_tenant
from vystra_api.main import create_app

from .operator_env import Operator, install_crd, prepare_config_namespace

PREFIX = "vystra-web-"
PART = 5 * 1024**2  # S3's smallest part


@pytest.fixture(scope="module")
def app_url(cluster, db, s3, settings) -> Iterator[str]:
    install_crd(cluster)
    cluster_settings = settings.model_copy(
        update={
            "mode": "cluster",
            "kubeconfig": Path(cluster.kubeconfig),
            "s3_endpoint_url": s3.endpoint_url,
            "s3_bucket": s3.bucket,
            "tenant_namespace_prefix": PREFIX,
            "upload_multipart_threshold_bytes": PART,
            "upload_part_bytes": PART,
        }
    )
    with pytest.MonkeyPatch.context() as mp:  # boto3 reads its credentials from the environment
        for key, value in s3.env().items():
            mp.setenv(key, value)
        with LiveServer(create_app(cluster_settings, db=db)) as url:
            yield url


@pytest.fixture(scope="module")
def operator(cluster, db, s3, tmp_path_factory) -> Iterator[Operator]:
    prepare_config_namespace(cluster, s3)
    op = Operator(cluster, db.url, tmp_path_factory.mktemp("operator-web"))
    op.start()
    yield op
    op.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        context.set_default_timeout(30_000)
        yield context.new_page()
        browser.close()


def test_upload_in_parts_to_the_object_store_then_search_and_play(
    cluster, db, app_url, operator, talk, page: Page, tmp_path: Path
) -> None:
    path, sections = talk
    big = tmp_path / "talk-grain.mp4"  # the talk with a grainy picture: several parts
    run_ffmpeg(
        *("-i", str(path), "-vf", "noise=alls=60:allf=t", "-c:v", "libx264"),
        *("-b:v", "1200k", "-maxrate", "1200k", "-bufsize", "2400k", "-c:a", "copy", str(big)),
    )
    count = -(-big.stat().st_size // PART)
    assert count >= 3, count
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    with db.connect() as conn:
        key = create_tenant(conn, tenant)

    cut: list[str] = []
    parts: list[tuple[str, int]] = []  # (part number, status) of the PUTs to the store

    def cut_once(route: Route) -> None:
        if not cut:
            cut.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(lambda url: "partNumber=2&" in url or url.endswith("partNumber=2"), cut_once)
    page.on(
        "response",
        lambda r: (
            parts.append((r.url.split("partNumber=")[1].split("&")[0], r.status))
            if r.request.method == "PUT" and "partNumber=" in r.url
            else None
        ),
    )
    try:
        sign_in(page, app_url, key)
        page.locator("#files").set_input_files(str(big))
        card = page.locator(".task").first
        expect(card).to_have_attribute("data-stage", "done", timeout=600_000)
        assert cut, "the second part's upload was never cut"
        # every part stored once, the cut one on its retry
        assert sorted(parts, key=lambda p: int(p[0])) == [
            (str(n), 200) for n in range(1, count + 1)
        ]

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
        cluster.core.delete_namespace(PREFIX + tenant)
    sourdough = next(s for s in sections if s.topic == "sourdough")
    assert moment_t <= now < moment_t + 15 and sourdough.start - 3 <= now <= sourdough.end
