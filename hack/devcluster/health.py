"""Readiness probes over loopback HTTP(S) and a small polling helper."""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Timeout(TimeoutError):
    pass


class Fatal(RuntimeError):
    """Raised by a check when waiting longer cannot help (the process being waited on died)."""


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.2,
) -> T:
    """Call `check` until it returns something truthy; raise Timeout naming `what` otherwise.
    Exceptions raised by `check` count as "not yet" and the last one is reported, except
    Fatal, which ends the wait at once."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Fatal:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f": {last_error!r}" if last_error else ""
            raise Timeout(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def https_ok(
    url: str, ca: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> bool:
    """True when GET `url` answers 200. Without `ca` the server certificate is not verified
    (the controller manager and scheduler serve self-signed certificates)."""
    if ca is None:
        context = ssl._create_unverified_context()
    else:
        context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
