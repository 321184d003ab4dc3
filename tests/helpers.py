"""Helpers for tests: media making and running the CLI as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from vystra.media import ffmpeg_exe
from vystra.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


def cli_env(settings: Settings, tenant: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VYSTRA_", "GROQ_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        VYSTRA_HOME=str(settings.home),
        VYSTRA_TENANT=tenant,
        VYSTRA_FETCH_ALLOW=settings.fetch_allow,
    )
    return env


def run_cli(settings: Settings, tenant: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vystra.cli", *args],
        env=cli_env(settings, tenant),
        capture_output=True,
        text=True,
        timeout=600,
    )
