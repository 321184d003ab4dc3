"""Debian's Chromium driven by Playwright (no browser is downloaded), for the web app's tests
in local mode (tests/web) and in cluster mode (tests/cluster)."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def launch_chromium(playwright: Playwright) -> Browser:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium package")
    # Playwright gives the browser a fresh profile folder of its own on each launch
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000
    )


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(url + "/")
    field = page.get_by_label("Tenant API key")
    field.fill(key)
    field.press("Enter")  # the keyboard is enough
    expect(page.get_by_role("heading", name="Library", level=1)).to_be_visible()
