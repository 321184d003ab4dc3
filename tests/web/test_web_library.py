"""The library's pages and the search filters, on videos written through the store, and an
ingest started from a URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from api_helpers import Caller, seed_video
from browser_helpers import sign_in
from playwright.sync_api import Page, expect

from vystra.db import Database, store
from vystra.embed import get_embedder
from vystra.settings import Settings

TOPICS = {
    "en": "Volcanoes form when magma rises through cracks in the crust and erupts as lava.",
    "fr": "Le pain au levain lève lentement grâce aux levures sauvages de la farine.",
}


@pytest.fixture
def library(caller: Caller, db: Database, settings: Settings) -> dict[str, list[str]]:
    """23 videos: 21 in English, 2 in French, created one after the other."""
    embedder = get_embedder(settings)
    made: dict[str, list[str]] = {"en": [], "fr": []}
    for n in range(23):
        lang = "fr" if n in (3, 17) else "en"
        video_id = seed_video(db, embedder, caller.tenant, f"Talk {n:02d} ({lang})", [TOPICS[lang]])
        with db.connect() as conn:
            store.set_transcription(
                conn, video_id, language=lang, model="seeded", embedding_model="seeded"
            )
        made[lang].append(video_id)
    return made


def test_library_pages_and_search_filters(
    app_url: str, caller: Caller, page: Page, library: dict[str, list[str]]
) -> None:
    sign_in(page, app_url, caller.key)
    rows = page.locator("table.videos tbody tr")
    expect(rows).to_have_count(20)
    pager = page.get_by_role("navigation", name="Video pages")
    expect(pager.get_by_role("button", name="Newer")).to_be_disabled()
    pager.get_by_role("button", name="Older").click()
    expect(rows).to_have_count(3)
    expect(pager).to_contain_text("Page 2")
    expect(pager.get_by_role("button", name="Older")).to_be_disabled()
    pager.get_by_role("button", name="Newer").click()
    expect(rows).to_have_count(20)

    # the language filter appears because videos have languages; it keeps French videos only
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Find a moment").fill("bread that rises slowly")
    page.get_by_label("Language").select_option("fr")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status").filter(has_text="found")).to_be_visible()
    groups = page.locator(".result-group h2")
    expect(groups).to_have_count(2)
    assert all("(fr)" in title for title in groups.all_inner_texts())
    assert "lang=fr" in page.url

    # one video only
    wanted = library["en"][5]
    page.get_by_label("Language").select_option("")
    page.get_by_label("Video", exact=True).select_option(wanted)
    page.get_by_label("Mode").select_option("keyword")
    page.get_by_label("Find a moment").fill("magma")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("a.moment")).to_have_count(1)
    assert page.locator("a.moment").get_attribute("href").startswith(f"/v/{wanted}?t=")
    expect(page.locator("a.moment mark")).to_have_text("magma")


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = partial(Quiet, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()


def test_an_ingest_from_a_url_shows_its_outcome(
    app_url: str, caller: Caller, page: Page, http_folder: tuple[str, Path]
) -> None:
    base, folder = http_folder
    (folder / "lecture.mp4").write_bytes(b"not really a video " * 100)
    sign_in(page, app_url, caller.key)
    page.get_by_label("Or ingest from a URL").fill(f"{base}/lecture.mp4")
    page.get_by_role("button", name="Ingest URL").click()
    task = page.locator(".task", has_text="lecture.mp4")
    expect(task).to_have_attribute("data-stage", "failed", timeout=120_000)
    expect(task.get_by_role("alert")).to_contain_text("NotMedia")
