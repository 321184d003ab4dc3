"""The development reloader restarts its child when a watched file changes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PROGRAM = """
import os, pathlib, sys, time
pathlib.Path(sys.argv[1]).write_text(f"{VERSION} {os.getpid()}")
time.sleep(600)
"""


def wait_for(path: Path, prefix: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().startswith(prefix):
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{path} never started with {prefix!r}")


def test_a_changed_file_restarts_the_process(tmp_path: Path):
    package = tmp_path / "devpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    main = package / "main.py"
    main.write_text("VERSION = 1\n" + PROGRAM)
    out = tmp_path / "out.txt"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    reloader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from vystra import devreload;"
            " sys.exit(devreload.run('devpkg.main', sys.argv[1:], ['devpkg']))",
            str(out),
        ],
        env=env,
    )
    try:
        first = wait_for(out, "1 ")
        time.sleep(1.1)  # a new mtime even on filesystems with one-second resolution
        main.write_text("VERSION = 2\n" + PROGRAM)
        second = wait_for(out, "2 ")
        assert first.split()[1] != second.split()[1]  # a new process, not the old one
    finally:
        reloader.terminate()
        reloader.wait(20)
