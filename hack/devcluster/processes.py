"""Detached daemons with pid files, so `make cluster-up` can return and `cluster-down` (or a
later test session) can find and stop what an earlier process started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def start_daemon(
    name: str,
    argv: list[str],
    pid_dir: Path,
    log_dir: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start `argv` in its own session (so a Ctrl-C in the caller's terminal does not reach it),
    appending stdout and stderr to <log_dir>/<name>.log. Returns the pid."""
    pid_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{name}.log", "ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        log.write(f"=== devcluster: starting {name} at {stamp}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    (pid_dir / f"{name}.pid").write_text(f"{proc.pid}\n{argv[0]}\n")
    return proc.pid


def daemon_pid(name: str, pid_dir: Path) -> int | None:
    """The pid of a running daemon, or None. The executable recorded next to the pid guards
    against a recycled pid that now belongs to some other program."""
    pid_file = pid_dir / f"{name}.pid"
    try:
        pid_text, exe = pid_file.read_text().splitlines()[:2]
        pid = int(pid_text)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (OSError, ValueError):
        return None
    if cmdline != exe or _is_zombie(pid):
        return None
    return pid


def daemon_alive(name: str, pid_dir: Path) -> bool:
    """Whether the recorded process still exists. Unlike daemon_pid this does not compare the
    executable, which right after the fork is still the parent's, so it suits start-up checks."""
    try:
        pid = int((pid_dir / f"{name}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def stop_daemon(name: str, pid_dir: Path, timeout: float = 15.0) -> bool:
    """SIGTERM the daemon's process group, SIGKILL it after `timeout`. True if one was running."""
    pid = daemon_pid(name, pid_dir)
    (pid_dir / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    kill_group(pid, timeout)
    return True


def stop_child(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Terminate a child's process group politely, then forcibly, and return the child's own
    exit status (128+signal for a signal death). The child is reaped through ``proc`` alone:
    a bare ``waitpid`` elsewhere would take its status, and ``Popen`` would then read it as 0,
    which turns a SIGTERM'd container into a successful one."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    # whatever is left of the group (the leader, or children it left behind) is killed now
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    code = proc.wait()
    return 128 - code if code < 0 else code


def kill_group(pgid: int, timeout: float) -> None:
    """Terminate a process group politely, then forcibly. Reaps the leader if it is our child."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pgid)
        if not _group_alive(pgid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _reap(pgid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # A group whose only member is a zombie we cannot reap counts as gone.
    return not _is_zombie(pgid) or _group_has_others(pgid)


def _group_has_others(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and int(stat.parent.name) != pgid and fields[0] != "Z":
            return True
    return False
