"""The web app end to end in real headless Chromium, against the real API in local mode.

Sign in → upload the generated six-topic talk through the page → watch the live progress reach
done while segments appear → search a paraphrase → press the first result → the player is at
that moment and the spoken transcript line is highlighted → share link → delete.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
from api_helpers import Caller
from browser_helpers import sign_in
from conftest import Hosts, accessibility_violations, shoot
from playwright.sync_api import Page, expect

from vystra.demo import Section

INGEST_TIMEOUT_MS = 600_000  # two shared cores: Whisper may wait for other work

# records, in the page, every state the task card goes through (a render each SSE event)
RECORD_TASK = """
() => {
  window.__states = [];
  const seen = () => {
    const card = document.querySelector('.task');
    if (!card) return;
    const bar = card.querySelector('progress');
    window.__states.push({
      at: performance.now(),
      stage: card.dataset.stage,
      percent: bar ? Number(bar.value) : null,
      segments: card.querySelectorAll('.segment').length,
      count: Number(card.querySelector('[data-testid=segment-count]')?.textContent ?? 0),
    });
  };
  new MutationObserver(seen).observe(document.body, {subtree: true, childList: true,
    characterData: true, attributes: true});
}
"""


def every_field_is_labelled(page: Page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
              .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
              .map(el => el.outerHTML)"""
    )


def test_upload_watch_search_play_delete(
    app_url: str,
    caller: Caller,
    page: Page,
    hosts: Hosts,
    talk: tuple[Path, list[Section]],
    screenshots: Path,
) -> None:
    path, sections = talk
    media: list[int] = []  # statuses of the player's requests for the video's bytes
    page.on("response", lambda r: media.append(r.status) if "/v1/media/" in r.url else None)
    sign_in(page, app_url, caller.key)
    assert every_field_is_labelled(page) == []

    # upload through the file picker; the page follows the ingest over Server-Sent Events
    page.evaluate(RECORD_TASK)
    started = time.perf_counter()
    page.locator("#files").set_input_files(str(path))
    card = page.locator(".task").first
    expect(card).to_have_attribute("data-stage", "done", timeout=INGEST_TIMEOUT_MS)
    ingest_s = time.perf_counter() - started
    states = page.evaluate("() => window.__states")
    video_id = page.get_by_role("link", name="Open video").get_attribute("href").split("/")[-1]

    with httpx.Client(base_url=app_url, headers=caller.headers, timeout=30) as api:
        video = api.get(f"/v1/videos/{video_id}").json()
    assert video["status"] == "ready" and video["segments"] > 0
    expect(card.get_by_test_id("segment-count")).to_have_text(str(video["segments"]))
    expect(card.get_by_role("progressbar")).to_have_attribute("value", "100")
    # segments appeared while the ingest was still running, with the bar part-way
    uploading = [s for s in states if s["stage"] == "uploading"]
    live = [s for s in states if s["stage"] == "ingesting" and s["segments"] > 0]
    assert uploading, "the upload's own progress was never shown"
    assert live, f"no segment was shown before the ingest ended: {states[-5:]}"
    assert any(0 < (s["percent"] or 0) < 100 for s in live), live[:5]
    first_segment_ms = live[0]["at"] - states[0]["at"]
    print(f"\nweb ingest: {ingest_s:.1f} s to done, first segment after {first_segment_ms:.0f} ms")

    # the library lists the new video beside the finished task, with its last segments
    expect(page.locator(f"tr[data-video-id='{video_id}']")).to_be_visible()
    shoot(page, screenshots / "web-library.png", full_page=True)
    assert accessibility_violations(page) == []

    page.reload()  # and still does on a new visit
    row = page.locator(f"tr[data-video-id='{video_id}']")
    expect(row.get_by_role("link", name=video["title"])).to_be_visible()
    expect(row).to_contain_text("ready")
    expect(row).to_contain_text("en")

    # search a paraphrase: no word of "sourdough" in it
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
    box = page.get_by_label("Find a moment")
    box.fill("baking bread with wild yeast")
    box.press("Enter")
    expect(page.get_by_role("status").filter(has_text="found")).to_be_visible()
    assert "/search?q=baking+bread" in page.url  # the results page has its own link
    first = page.locator("a.moment").first
    expect(first.locator("mark").first).to_be_visible()  # matched words are highlighted
    # each moment shows the keyframe on screen when it starts, loaded with the session cookie
    thumb = first.locator("img.thumb")
    expect(thumb).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    assert every_field_is_labelled(page) == []
    shoot(page, screenshots / "web-search.png")
    assert accessibility_violations(page) == []

    href = first.get_attribute("href")
    moment_t = float(href.split("t=")[1])  # the moment's start, to a tenth
    first.focus()
    first.press("Enter")  # keyboard again: the result opens the player at that second
    # a screen reader lands on the new page's heading
    expect(page.get_by_role("heading", level=1, name=video["title"])).to_be_focused()
    page.wait_for_function(
        "() => performance.getEntriesByName('vystra:press-to-play').length > 0", timeout=30_000
    )
    press_to_play = page.evaluate(
        "() => performance.getEntriesByName('vystra:press-to-play')[0].duration"
    )
    player = page.locator("video")
    now = player.evaluate("v => v.currentTime")
    sourdough = next(s for s in sections if s.topic == "sourdough")
    print(f"press a result → playing at {now:.2f} s: {press_to_play:.0f} ms")
    assert moment_t <= now < moment_t + 15  # played from the result's second, not from 0
    assert sourdough.start - 3 <= now <= sourdough.end, (now, sourdough)
    assert not player.evaluate("v => v.paused")

    # the line being spoken is highlighted, and it is the sourdough passage
    active = page.locator(".transcript li[aria-current='true']")
    expect(active).to_have_count(1)
    line = active.locator("button")
    start, end = float(line.get_attribute("data-start")), float(line.get_attribute("data-end"))
    now = player.evaluate("v => v.currentTime")
    assert start <= now + 0.1 and now < end + 2.0, (start, end, now)
    words = {"sourdough", "bread", "starter", "flour", "yeast", "kitchen", "dough"}
    assert words & set(active.inner_text().lower().replace(",", " ").split()), active.inner_text()
    player.evaluate("v => v.pause()")
    shoot(page, screenshots / "web-video.png")
    assert accessibility_violations(page) == []
    page.emulate_media(color_scheme="dark")  # the dark palette meets the same bar
    assert accessibility_violations(page) == []
    page.emulate_media(color_scheme="light")

    # a transcript line seeks the player; the share link carries the moment
    target = page.locator(".transcript li button").nth(2)
    target_start = float(target.get_attribute("data-start"))
    target.click()
    expect(page.locator(".transcript li").nth(2)).to_have_attribute("aria-current", "true")
    assert abs(player.evaluate("v => v.currentTime") - target_start) < 1.5
    assert 206 in media, media  # the player seeks with Range requests on the signed URL

    # chapters from the insights seek too
    chapters = video["insights"]["chapters"]
    assert chapters, video["insights"]
    page.locator(".chapters button").last.click()
    assert abs(player.evaluate("v => v.currentTime") - chapters[-1]["start"]) < 1.5
    share = page.get_by_label("Link to this moment", exact=False)
    assert urlparse(share.input_value()).path == f"/v/{video_id}"

    # a shared link opens the app at that second (the API serves index.html for /v/{id})
    page.goto(f"{app_url}/v/{video_id}?t=30")
    page.wait_for_function("() => document.querySelector('video')?.currentTime >= 29.5")
    assert page.locator("video").evaluate("v => v.currentTime") < 40
    for fmt in ("srt", "vtt"):
        with page.expect_download() as download:
            page.get_by_role("link", name="SRT" if fmt == "srt" else "WebVTT").click()
        assert download.value.suggested_filename == f"{video_id}.{fmt}"

    # phone width: nothing overflows sideways, on the video page nor in the library
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("link", name="Library").click()
    expect(page.locator(f"tr[data-video-id='{video_id}']")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

    # delete from the library
    page.set_viewport_size({"width": 1100, "height": 800})
    row = page.locator(f"tr[data-video-id='{video_id}']")
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Confirm delete").click()
    expect(page.get_by_role("status").filter(has_text="Deleted")).to_be_visible()
    expect(row).to_have_count(0)
    with httpx.Client(base_url=app_url, headers=caller.headers, timeout=30) as api:
        assert api.get(f"/v1/videos/{video_id}").status_code == 404

    assert hosts.seen == {urlparse(app_url).netloc}, hosts.seen  # no third-party request
