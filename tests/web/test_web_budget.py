"""Page weight: the JavaScript a first visit loads, compressed, within 300 KB."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

BUDGET_BYTES = 300 * 1024


def first_load_scripts(root: Path) -> list[Path]:
    """Every script index.html loads: module entries and their preloaded chunks."""
    html = (root / "index.html").read_text()
    refs = re.findall(r'<script[^>]+src="/([^"]+\.js)"', html)
    refs += re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="/([^"]+\.js)"', html)
    return [root / ref for ref in dict.fromkeys(refs)]


def test_first_load_javascript_fits_the_budget(web_build: Path) -> None:
    scripts = first_load_scripts(web_build)
    assert scripts and all(s.is_file() for s in scripts), scripts
    raw = sum(s.stat().st_size for s in scripts)
    packed = sum(len(gzip.compress(s.read_bytes(), compresslevel=9)) for s in scripts)
    css = sum(
        len(gzip.compress(s.read_bytes(), compresslevel=9))
        for s in (web_build / "assets").glob("*.css")
    )
    print(
        f"\nfirst-load JavaScript: {len(scripts)} file(s), {raw / 1024:.1f} KB,"
        f" {packed / 1024:.1f} KB gzip (budget {BUDGET_BYTES // 1024} KB);"
        f" CSS {css / 1024:.1f} KB gzip"
    )
    assert packed <= BUDGET_BYTES
