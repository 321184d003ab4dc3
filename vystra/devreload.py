"""``--reload`` for the long-running processes (API, operator) in a development loop.

skaffold's dev profile syncs changed Python files into the running pods; this restarts the
process when any of them changes. It runs the real entry point as a child and watches file
modification times (no inotify needed, so it also works on synced and network filesystems).
Never used in production: the chart turns it on only with ``devReload``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from importlib.util import find_spec
from pathlib import Path

POLL_SECONDS = 1.0


def package_dirs(packages: Iterable[str]) -> list[Path]:
    dirs: list[Path] = []
    for name in packages:
        spec = find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(Path(p) for p in spec.submodule_search_locations)
    return dirs


def snapshot(dirs: Sequence[Path]) -> dict[Path, float]:
    return {p: p.stat().st_mtime for d in dirs for p in d.rglob("*.py")}


class _Stop(Exception):
    pass


def _stop(*_: object) -> None:
    raise _Stop


def run(module: str, argv: Sequence[str], packages: Iterable[str]) -> int:
    """Run ``python -m module argv`` and restart it whenever a file of ``packages`` changes."""
    dirs = package_dirs(packages)
    signal.signal(signal.SIGTERM, _stop)  # a pod's stop signal must reach the child too
    while True:
        seen = snapshot(dirs)
        child = subprocess.Popen([sys.executable, "-m", module, *argv])
        try:
            while child.poll() is None:
                time.sleep(POLL_SECONDS)
                if snapshot(dirs) != seen:
                    print(f"{module}: code changed, restarting", file=sys.stderr, flush=True)
                    child.terminate()
                    try:
                        child.wait(10)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
                    break
            else:
                return child.returncode  # exited by itself: let the pod restart policy act
        except (KeyboardInterrupt, _Stop):
            child.terminate()
            return child.wait()


def strip_reload(argv: Sequence[str]) -> list[str]:
    return [a for a in argv if a != "--reload"]
