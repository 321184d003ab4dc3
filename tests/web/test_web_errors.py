"""What the page says when something is refused: a wrong key, a file that is not media, a file
too large, an ingest beyond the plan, and what the browser keeps of the key (nothing)."""

from __future__ import annotations

from pathlib import Path

from api_helpers import Caller, LiveServer
from billing_helpers import API_KEY, PLANS, WEBHOOK_SECRET, StripeMock, ensure_stripe_mock
from browser_helpers import sign_in
from conftest import accessibility_violations
from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr

from vystra.billing.usage import record_usage
from vystra.db import Database
from vystra.demo import Section
from vystra.settings import Settings
from vystra_api.main import create_app


def test_a_wrong_key_is_refused_and_the_right_one_is_not_kept(
    app_url: str, caller: Caller, page: Page
) -> None:
    page.goto(app_url + "/")
    page.get_by_label("Tenant API key").fill("vys_this-is-not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That API key is not valid. Check it and try again."
    )
    expect(page.get_by_label("Tenant API key")).to_have_attribute("aria-invalid", "true")
    assert accessibility_violations(page) == []

    sign_in(page, app_url, caller.key)
    stored = page.evaluate(
        "() => JSON.stringify([document.cookie, {...localStorage}, {...sessionStorage}])"
    )
    assert caller.key not in stored and "vystra_session" not in stored  # HttpOnly
    (cookie,) = page.context.cookies()
    assert cookie["name"] == "vystra_session" and cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict" and cookie["expires"] == -1  # a session cookie
    assert caller.key not in cookie["value"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    assert page.context.cookies() == []
    page.reload()
    expect(page.get_by_label("Tenant API key")).to_be_visible()


def test_files_that_are_not_media_get_a_clear_message(
    app_url: str, caller: Caller, page: Page, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes, not a video\n")
    fake = tmp_path / "holiday.mp4"  # a video by its name only
    fake.write_bytes(b"\x00\x01 this is not an MP4 file " * 200)
    sign_in(page, app_url, caller.key)

    page.locator("#files").set_input_files([str(notes), str(fake)])  # several at once
    refused = page.locator(".task", has_text="notes.txt")
    expect(refused.get_by_role("alert")).to_contain_text(
        "notes.txt is not a video or audio file, so it was not uploaded"
    )
    # the fake passes the type check, uploads, and its ingest fails with the pipeline's reason
    failed = page.locator(".task", has_text="holiday.mp4")
    expect(failed).to_have_attribute("data-stage", "failed", timeout=120_000)
    message = failed.get_by_role("alert").inner_text()
    print(f"\nnot media: {message}")
    assert "holiday.mp4" in message and "not an audio or video file" in message, message


def test_a_file_over_the_upload_limit_is_refused_before_it_is_sent(
    settings: Settings,
    db: Database,
    caller: Caller,
    browser: Browser,
    talk: tuple[Path, list[Section]],
) -> None:
    small = settings.model_copy(update={"upload_max_bytes": 10_000})
    with LiveServer(create_app(small, db=db)) as url:
        page = browser.new_page()
        try:
            sign_in(page, url, caller.key)
            page.locator("#files").set_input_files(str(talk[0]))
            alert = page.locator(".task").get_by_role("alert")
            expect(alert).to_contain_text("six_topic_talk.mp4 is too large")
            expect(alert).to_contain_text("limited to 10000 bytes")
        finally:
            page.close()


def test_an_ingest_beyond_the_plan_gets_the_plans_message(
    settings: Settings,
    db: Database,
    caller: Caller,
    browser: Browser,
    talk: tuple[Path, list[Section]],
    tmp_path: Path,
) -> None:
    """Billing on (against stripe-mock): the tenant's free plan has used its minutes, so the
    upload goes through and the ingest is refused with 402; the page says which limit."""
    stripe = StripeMock(ensure_stripe_mock(), tmp_path)
    stripe.start()
    billed = settings.model_copy(
        update={
            "billing_enabled": True,
            "stripe_api_key": SecretStr(API_KEY),
            "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "stripe_api_base": stripe.url,
            "billing_plans_yaml": PLANS,
            "billing_default_plan": "free",
            "billing_report_interval_seconds": 3600.0,
        }
    )
    with db.connect() as conn:  # 11 of the free plan's 10 minutes processed this month
        record_usage(conn, tenant=caller.tenant, ingest_id="earlier", seconds=660)
    try:
        with LiveServer(create_app(billed, db=db)) as url:
            page = browser.new_page()
            try:
                sign_in(page, url, caller.key)
                page.locator("#files").set_input_files(str(talk[0]))
                task = page.locator(".task", has_text="six_topic_talk.mp4")
                expect(task).to_have_attribute("data-stage", "failed", timeout=60_000)
                message = task.get_by_role("alert").inner_text()
            finally:
                page.close()
    finally:
        stripe.stop()
    assert message.startswith("six_topic_talk.mp4 was not ingested: your plan's limit is reached")
    assert "free plan includes 10 processed minutes" in message, message
