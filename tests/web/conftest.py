"""Fixtures for the web app: the API (which serves the built app) on a real loopback uvicorn
server, and Debian's Chromium driven by Playwright (no browser is downloaded).

The app must be built (`make install` runs `npm ci` and the build); a missing build fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from api_helpers import LiveServer
from browser_helpers import launch_chromium
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from vystra.db import Database
from vystra.settings import Settings
from vystra_api.main import create_app
from vystra_api.web import web_dir


@pytest.fixture(scope="session")
def web_build(settings: Settings) -> Path:
    root = web_dir(settings)
    if not (root / "index.html").is_file():
        pytest.fail(f"the web app is not built in {root}: run `make install` (or `make web`)")
    return root


@pytest.fixture(scope="session")
def app_url(settings: Settings, db: Database, web_build: Path) -> Iterator[str]:
    with LiveServer(create_app(settings, db=db)) as url:
        yield url


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


class Hosts:
    """Every host the page requested: the app must reach nothing but its own origin."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def add(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https", "ws", "wss"):
            self.seen.add(parsed.netloc)


@pytest.fixture
def hosts() -> Hosts:
    return Hosts()


@pytest.fixture
def context(browser: Browser, hosts: Hosts) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, locale="en-GB")
    ctx.set_default_timeout(30_000)
    ctx.on("request", lambda request: hosts.add(request.url))
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """Where screenshots go: docs/ with `pytest --web-screenshots`, else a temporary folder."""
    if request.config.getoption("--web-screenshots", default=False):
        docs = Path(__file__).resolve().parents[2] / "docs"
        docs.mkdir(exist_ok=True)
        return docs
    return tmp_path_factory.mktemp("screenshots")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--web-screenshots",
        action="store_true",
        help="write the web tests' screenshots to docs/ (run as `pytest tests/web ...`)",
    )


SCREENSHOT_MAX_BYTES = 120 * 1024
AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"


def shoot(page: Page, path: Path, *, full_page: bool = False) -> int:
    """A screenshot as a small PNG (256 colours are plenty for the app's flat UI)."""
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(page.screenshot(full_page=full_page))).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    size = path.stat().st_size
    assert size < SCREENSHOT_MAX_BYTES, f"{path.name}: {size} bytes"
    return size


def accessibility_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA checks on the page as it is (contrast, labels, names, ARIA)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text() + "\n;0")  # evaluated by the debugger: the CSP allows it
    result = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']}))
            .violations.map(v => `${v.id} (${v.impact}): ${v.nodes.length} node(s), e.g. `
                + v.nodes[0].html)"""
    )
    return list(result)
