"""`vystra serve` and `vystra ingest` stopped the way service managers stop them.

Each runs as a subprocess on its own fresh ``VYSTRA_HOME`` (embedded Postgres), as a new user
would run it. SIGTERM after an ingest, in the middle of one, and SIGINT: whatever stops the
process, no Postgres of that data folder stays behind, and an interrupted ingest is neither
lost nor failed: the next start completes it, with the same segments as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from api_helpers import stream_events
from billing_helpers import upload_file, wait_finished
from helpers import free_port

from vystra.demo import Section
from vystra.pipeline import WRITE_BATCH

# small units, so an ingest of the talk writes several batches and can be stopped between them
SPEC = {
    "language": "en",
    "insights": False,
    "segmenting": {"targetSeconds": 5, "overlapSeconds": 1},
}
DEADLINE = 600.0  # generous bounds on waits; nothing is asserted about how long anything takes
STARTED: list[subprocess.Popen[Any]] = []


@pytest.fixture(autouse=True, scope="module")
def _stop_leftovers() -> Iterator[None]:
    """A failed test leaves no server (and no Postgres of its own) running."""
    yield
    for proc in STARTED:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=DEADLINE)


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VYSTRA_", "GROQ_"))}
    env.pop("DATABASE_URL", None)
    env["VYSTRA_HOME"] = str(home)
    return env


def vystra(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vystra.cli", *args],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


def postgres_of(home: Path) -> list[psutil.Process]:
    """Postgres processes serving ``home``'s data folder."""
    pgdata = str((home / "pgdata").resolve())
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and pgdata in " ".join(proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def assert_released(home: Path) -> None:
    assert postgres_of(home) == [], "the embedded Postgres outlived the last process"
    handles = json.loads((home / "pgdata" / ".handle_pids.json").read_text())
    assert not [pid for pid in handles if psutil.pid_exists(pid)], handles


class Served:
    """`vystra serve` in a subprocess; its output goes to a log file shown on failure."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = (home / "serve.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vystra.cli", "serve", "--port", self.url.rsplit(":", 1)[1]],
            env=env_for(home),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        STARTED.append(self.proc)
        deadline = time.monotonic() + DEADLINE
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"vystra serve did not start:\n{self.output()}")
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return (self.home / "serve.log").read_text(errors="replace")

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=DEADLINE)
        finally:
            self.log.close()


@pytest.fixture(scope="module")
def fresh_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve-home")


@pytest.fixture(scope="module")
def keys(fresh_home: Path) -> dict[str, str]:
    """Two tenants made with the CLI before any server runs (it stops its Postgres too)."""
    made = {}
    for name in ("first", "second"):
        done = vystra(fresh_home, "tenants", "create", name)
        assert done.returncode == 0, done.stderr
        made[name] = done.stdout.strip()
    assert_released(fresh_home)
    return made


def segments_of(client: httpx.Client, key: str, ingest_id: str) -> list[tuple[Any, ...]]:
    """Every segment of a finished ingest's video, as its event stream sends them."""
    headers = {"Authorization": f"Bearer {key}"}
    events = stream_events(client, f"/v1/ingests/{ingest_id}/events", headers)
    return [
        (d["ordinal"], d["start"], d["end"], d["text"]) for name, d in events if name == "segment"
    ]


def start_ingest(client: httpx.Client, key: str, video: Path) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    upload_id = upload_file(client, headers, video)
    created = client.post("/v1/ingests", headers=headers, json={"upload_id": upload_id, **SPEC})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def uninterrupted(
    fresh_home: Path, keys: dict[str, str], talk: tuple[Path, list[Section]]
) -> Iterator[list[tuple[Any, ...]]]:
    """The talk ingested by the first tenant, then the server stopped with SIGTERM."""
    server = Served(fresh_home)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        ingest_id = start_ingest(client, keys["first"], talk[0])
        headers = {"Authorization": f"Bearer {keys['first']}"}
        final = wait_finished(client, headers, ingest_id, timeout=DEADLINE)
        assert final["phase"] == "Succeeded" and final["attempts"] == 1, final
        segments = segments_of(client, keys["first"], ingest_id)
    assert server.stop(signal.SIGTERM) == 128 + signal.SIGTERM, server.output()
    yield segments


def test_sigterm_after_an_ingest_stops_the_embedded_postgres(
    fresh_home: Path, uninterrupted: list[tuple[Any, ...]]
) -> None:
    assert len(uninterrupted) > 4  # several batches: the next test can stop between them
    assert "Application shutdown complete" in (fresh_home / "serve.log").read_text()
    assert_released(fresh_home)


def test_sigterm_in_the_middle_of_an_ingest_and_a_restart(
    fresh_home: Path,
    keys: dict[str, str],
    talk: tuple[Path, list[Section]],
    uninterrupted: list[tuple[Any, ...]],
) -> None:
    key = keys["second"]
    headers = {"Authorization": f"Bearer {key}"}
    server = Served(fresh_home)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        ingest_id = start_ingest(client, key, talk[0])
        deadline = time.monotonic() + DEADLINE
        while True:  # stop it once its first batch of segments is stored
            ingest = client.get(f"/v1/ingests/{ingest_id}", headers=headers).json()
            assert ingest["phase"] in ("Queued", "Running"), ingest
            if ingest["progress"]["segments"] > 0:
                break
            assert time.monotonic() < deadline, ingest
            time.sleep(0.1)
    assert server.stop(signal.SIGTERM) == 128 + signal.SIGTERM, server.output()
    assert_released(fresh_home)

    server = Served(fresh_home)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        # handed back to the queue, not failed: this start runs it again, to the end
        final = wait_finished(client, headers, ingest_id, timeout=DEADLINE)
        assert final["phase"] == "Succeeded" and final["reason"] == "Indexed", final
        assert final["attempts"] == 2, final  # the interrupted run, then this one
        resumed = segments_of(client, key, ingest_id)
        video = client.get(f"/v1/videos/{final['video_id']}", headers=headers).json()
    # SIGINT (Ctrl-C) stops it as well
    assert server.stop(signal.SIGINT) in (0, 128 + signal.SIGINT), server.output()
    assert_released(fresh_home)

    assert video["status"] == "ready" and video["segments"] == len(resumed)
    assert [s[0] for s in resumed] == list(range(len(resumed)))
    # the restart resumed after the units the first run stored (at least its first batch,
    # transcribed from 0 just as a run without a stop makes them), then numbered on: every
    # unit once, in time order, about as many as without a stop (tests/test_resume.py checks
    # the seam word by word)
    assert resumed[:WRITE_BATCH] == uninterrupted[:WRITE_BATCH]
    assert [s[1] for s in resumed] == sorted(s[1] for s in resumed)
    assert abs(len(resumed) - len(uninterrupted)) <= 2


def test_cli_ingest_stopped_with_sigterm_is_not_failed_and_reruns(
    tmp_path: Path, talk: tuple[Path, list[Section]]
) -> None:
    home = tmp_path / "home"
    cmd = [sys.executable, "-m", "vystra.cli", "ingest", str(talk[0]), "--no-insights"]
    proc = subprocess.Popen(cmd, env=env_for(home), stderr=subprocess.PIPE, text=True)
    STARTED.append(proc)
    assert proc.stderr is not None
    for line in proc.stderr:  # one line per stage when stderr is not a terminal
        if "[transcribe" in line:
            break
    else:
        raise AssertionError(f"no transcribe stage; exit {proc.wait()}")
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=DEADLINE) == 128 + signal.SIGTERM, rest
    assert "vystra: terminated" in rest
    assert_released(home)

    listed = vystra(home, "videos", "--json")
    assert listed.returncode == 0, listed.stderr
    (video,) = json.loads(listed.stdout)
    assert video["status"] == "processing", video  # interrupted, not failed

    again = vystra(home, "ingest", str(talk[0]), "--no-insights", "--json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["status"] == "ready" and result["video_id"] == video["video_id"], result
    assert_released(home)


WRAPS_SIGTERM = """
import signal, sys
from vystra.db import open_database
from vystra.pipeline import Pipeline
from vystra.settings import get_settings
from vystra.shutdown import exit_on_sigterm

def on_progress(p):
    if p.stage == "transcribe":
        try:  # as an extension module being loaded does when the signal lands
            signal.raise_signal(signal.SIGTERM)
        except BaseException as exc:
            raise RuntimeError("wrapped by a library") from exc

exit_on_sigterm()
settings = get_settings()
with open_database(settings) as db:
    Pipeline(settings, db).ingest(sys.argv[1], tenant="default", on_progress=on_progress)
"""


def test_a_sigterm_wrapped_by_a_library_still_stops_without_failing_the_video(
    tmp_path: Path, talk: tuple[Path, list[Section]]
) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-c", WRAPS_SIGTERM, str(talk[0])],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert_released(home)
    listed = vystra(home, "videos", "--json")
    assert listed.returncode == 0, listed.stderr
    (video,) = json.loads(listed.stdout)
    assert video["status"] == "processing" and video["error"] is None, video


HOLDS_THE_IMPORT_LOCK = """
import _imp, os, signal, sys, threading, time
from vystra.shutdown import Terminated, exit_on_sigterm

exit_on_sigterm()
_imp.acquire_lock()  # as importlib holds it, between its acquire and its release
try:
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(200):  # the handler runs between these calls: it must not raise here
        time.sleep(0.001)
finally:
    _imp.release_lock()
try:
    time.sleep(DEADLINE)
except Terminated:
    # delivered again once the lock was free; another thread can still import
    loader = threading.Thread(target=__import__, args=("xml.dom.minidom",))
    loader.start()
    loader.join(DEADLINE)
    print("stopped; imports", "hang" if loader.is_alive() else "work")
    sys.exit(0)
sys.exit("SIGTERM was lost")
"""


def test_sigterm_never_leaves_the_import_lock_held() -> None:
    """A SIGTERM that lands inside the import machinery waits until it has let go of its locks:
    raised there, it would leave the import lock held, and the next import of any other thread
    (the visual stages') would wait forever."""
    script = f"DEADLINE = {DEADLINE}\n" + HOLDS_THE_IMPORT_LOCK
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=DEADLINE
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stopped; imports work", done.stdout
