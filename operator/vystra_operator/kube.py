"""The operator's calls to the API server: raw JSON, a timeout on every call, and errors sorted
into what the caller can act on.

- ``Rejected``: the server refused this object for its own reasons (400, 403, 422: a bad
  ``spec.resources``, an admission webhook, a quota). Retrying cannot help.
- ``Transient``: 429, 5xx, timeouts, refused connections. Back off and retry (honouring
  ``Retry-After``).
- 404 and 409 are answers, not errors, for most callers; they come back as ``ApiException``
  with that status, except where a method says otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vystra.videoingest import GROUP, PLURAL, VERSION

log = logging.getLogger("vystra.operator")

REJECTED = (400, 403, 422)
TIMEOUT = (5.0, 15.0)  # (connect, read) seconds for every call but watches


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except ValueError:
        return str(exc.reason)


def classify(exc: Exception) -> Exception:
    """The exception a caller should see for ``exc``."""
    if isinstance(exc, ApiException):
        if exc.status in REJECTED:
            return Rejected(exc.status, _message(exc))
        if exc.status == 429 or exc.status >= 500 or exc.status == 0:
            retry = (exc.headers or {}).get("Retry-After") if exc.headers else None
            return Transient(f"{exc.status} {_message(exc)}", float(retry) if retry else None)
        return exc
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return Transient(f"{type(exc).__name__}: {exc}")
    return exc


def _body(response: Any) -> bytes:
    """Read a ``_preload_content=False`` response and give its connection back to the pool
    (an unreleased one is never reused: a TLS handshake per request)."""
    try:
        return response.data
    finally:
        response.release_conn()


class Kube:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)

    def call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Run one API method with a timeout; the parsed JSON answer."""
        try:
            raw = _body(method(*args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs))
        except Exception as exc:  # noqa: BLE001 - sorted below
            raise classify(exc) from exc
        return json.loads(raw) if raw else {}

    # -- VideoIngests ------------------------------------------------------------------------

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.call(
            self.custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            {"status": status},
            _content_type="application/merge-patch+json",
        )

    # -- Jobs --------------------------------------------------------------------------------

    def create_job(self, namespace: str, job: dict[str, Any]) -> dict[str, Any]:
        return self.call(self.batch.create_namespaced_job, namespace, job)

    def delete_job(self, namespace: str, name: str) -> None:
        self.call(
            self.batch.delete_namespaced_job, name, namespace, propagation_policy="Background"
        )

    # -- Events ------------------------------------------------------------------------------

    def create_event(self, namespace: str, event: dict[str, Any]) -> None:
        self.call(self.core.create_namespaced_event, namespace, event)

    # -- lists and watches (the informers) ----------------------------------------------------

    def watch_raw(
        self, method: Any, *args: Any, timeout_seconds: int, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Watch events as parsed JSON, one per line; ends when the server closes the watch.
        The read timeout is past the server's own, so a silent, dead connection ends too."""
        try:
            response = method(
                *args,
                watch=True,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_seconds,
                _preload_content=False,
                _request_timeout=(TIMEOUT[0], timeout_seconds + 10),
                **kwargs,
            )
        except Exception as exc:  # noqa: BLE001
            raise classify(exc) from exc
        try:
            buffer = b""
            for chunk in response.stream(64 * 1024, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        except Exception as exc:  # noqa: BLE001
            raise classify(exc) from exc
        finally:
            response.release_conn()
