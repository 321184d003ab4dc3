"""Stage 1, fetch: bring a source to a local file and hash it while reading.

Sources are local paths (or ``file://`` URLs), ``http(s)://`` URLs and ``s3://bucket/key``.
The sha256 is computed in the same pass that reads the bytes, so deduplication costs no
second read. http(s) goes through one fetcher that checks every hop with
:mod:`vystra.urlguard` and connects to the addresses it checked, under one deadline and a
byte limit.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

import httpcore

from vystra.errors import SourceError
from vystra.settings import Settings
from vystra.urlguard import Target, resolve

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FetchedMedia:
    source: str  # as the user gave it, normalised (absolute path for local files)
    path: Path  # readable local file
    sha256: str
    size: int


def normalise_source(source: str) -> str:
    """Absolute path for local files, the URL unchanged otherwise."""
    scheme = urlparse(source).scheme.lower()
    if scheme in ("http", "https", "s3"):
        return source
    if scheme == "file":
        return str(Path(unquote(urlparse(source).path)).resolve())
    return str(Path(source).expanduser().resolve())


@contextmanager
def fetch(source: str, settings: Settings) -> Iterator[FetchedMedia]:
    """Yield the source as a local, hashed file; downloaded copies are removed on exit."""
    normalised = normalise_source(source)
    scheme = urlparse(normalised).scheme.lower()
    if scheme not in ("http", "https", "s3"):
        path = Path(normalised)
        if not path.is_file():
            raise SourceError(f"no such file: {source}")
        try:
            with path.open("rb") as fh:
                digest, size = _hash_stream(iter(lambda: fh.read(CHUNK_BYTES), b""), None)
        except OSError as exc:
            raise SourceError(f"cannot read {source}: {exc.strerror}") from exc
        yield FetchedMedia(normalised, path, digest, size)
        return

    workdir = Path(tempfile.mkdtemp(prefix="vystra-fetch-"))
    target = workdir / (Path(urlparse(normalised).path).name or "media")
    try:
        chunks = (
            _s3_chunks(normalised, settings)
            if scheme == "s3"
            else _http_chunks(normalised, settings)
        )
        with target.open("wb") as out:
            digest, size = _hash_stream(chunks, out, settings.max_download_bytes, normalised)
        yield FetchedMedia(normalised, target, digest, size)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _hash_stream(
    chunks: Iterable[bytes], out, limit: int | None = None, source: str = ""
) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if limit is not None and size > limit:
            raise SourceError(f"{source} is larger than the {limit} byte limit")
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
    return digest.hexdigest(), size


REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


class _Deadline:
    """One deadline for a whole download: every socket operation waits at most until then,
    and a watchdog shuts the sockets at that moment, so a server that sends a byte a second
    (in headers, TLS handshake or body) is cut off on time rather than kept alive forever."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self, cap: float | None) -> float:
        left = self.at - time.monotonic()
        if left <= 0 or self.expired:
            self.expired = True
            raise httpcore.ReadTimeout("deadline passed")
        return left if cap is None else min(left, cap)

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.at

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, self._deadline.remaining(timeout)
        )
        return _BoundedStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to the addresses :func:`vystra.urlguard.resolve` checked for this hop."""

    def __init__(self, target: Target, deadline: _Deadline) -> None:
        self._target = target
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if (host, port) != (self._target.host, self._target.port):
            raise httpcore.ConnectError("not the checked host")  # fail closed, never re-resolve
        error: Exception = httpcore.ConnectError("no address")
        for address in self._target.addresses:
            try:
                stream = self._inner.connect_tcp(
                    address, port, self._deadline.remaining(timeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
                continue
            self._deadline.watch(stream.get_extra_info("socket"))
            return _BoundedStream(stream, self._deadline)
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not sources")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _header(response: httpcore.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _http_chunks(url: str, settings: Settings) -> Iterator[bytes]:
    """GET ``url`` through at most MAX_REDIRECTS redirects, each hop checked and pinned.

    No proxy from the environment, no connection reuse between hops, no content decoding.
    """
    deadline = _Deadline(settings.fetch_deadline_seconds)
    timeout = settings.http_timeout_seconds
    extensions = {"timeout": {k: timeout for k in ("connect", "read", "write", "pool")}}
    current = url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            target = resolve(current, settings, shown=url)
            headers = [
                (b"Host", target.host_header.encode()),
                (b"User-Agent", b"vystra"),
                (b"Accept", b"*/*"),
                (b"Accept-Encoding", b"identity"),
            ]
            request_url = httpcore.URL(
                scheme=target.scheme.encode(),
                host=target.host.encode(),
                port=target.port,
                target=target.path.encode(),
            )
            backend = _PinnedBackend(target, deadline)
            with (
                httpcore.ConnectionPool(network_backend=backend, retries=0) as pool,
                pool.stream("GET", request_url, headers=headers, extensions=extensions) as response,
            ):
                location = _header(response, b"location")
                if response.status in REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                if response.status >= 300:
                    raise SourceError(f"{url} answered HTTP {response.status}")
                declared = _header(response, b"content-length")
                if declared and declared.isdigit() and int(declared) > settings.max_download_bytes:
                    raise SourceError(
                        f"{url} is {declared} bytes, over the"
                        f" {settings.max_download_bytes} byte limit"
                    )
                yield from response.iter_stream()
                return
        raise SourceError(f"{url} redirected more than {MAX_REDIRECTS} times")
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
        if deadline.passed():
            raise SourceError(
                f"cannot download {url}: it took longer than {deadline.seconds:g} s"
            ) from None
        raise SourceError(f"cannot download {url}: {exc or type(exc).__name__}") from None
    except httpcore.UnsupportedProtocol as exc:
        raise SourceError(f"cannot download {url}: {exc}") from None
    finally:
        deadline.cancel()


def s3_client(settings: Settings):
    import boto3
    from botocore.config import Config

    # S3-compatible servers on a custom endpoint (MinIO, R2) are reached path-style
    style = "path" if settings.s3_endpoint_url else "auto"
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )


def _s3_chunks(url: str, settings: Settings) -> Iterator[bytes]:
    from botocore.exceptions import BotoCoreError, ClientError

    parsed = urlparse(url)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not bucket or not key:
        raise SourceError(f"{url} is not of the form s3://bucket/key")
    if settings.presigned_source_url:
        yield from _presigned_chunks(settings.presigned_source_url, url, settings)
        return
    try:
        body = s3_client(settings).get_object(Bucket=bucket, Key=key)["Body"]
        yield from body.iter_chunks(CHUNK_BYTES)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SourceError(f"cannot read {url}: {code}") from exc
    except BotoCoreError as exc:
        raise SourceError(f"cannot read {url}: {exc}") from exc


def _presigned_chunks(presigned: str, shown: str, settings: Settings) -> Iterator[bytes]:
    """The object through the URL the operator signed for it: the platform's own endpoint,
    which the guard for tenants' URLs would refuse as internal; no redirect is followed."""
    timeout = settings.http_timeout_seconds
    extensions = {"timeout": {k: timeout for k in ("connect", "read", "write", "pool")}}
    try:
        with httpcore.stream("GET", presigned, extensions=extensions) as response:
            if response.status != 200:  # S3 names the refusal (AccessDenied, expired) in XML
                raise SourceError(f"cannot read {shown}: HTTP {response.status}")
            yield from response.iter_stream()
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise SourceError(f"cannot read {shown}: {exc or type(exc).__name__}") from None


def post_checked(
    url: str, body: bytes, headers: dict[str, str], settings: Settings, seconds: float
) -> int:
    """POST ``body`` to ``url`` on the addresses :func:`vystra.urlguard.resolve` checked (the
    same rules as sources: a tenant's URL never reaches the platform's network), no redirect
    followed, all of it within ``seconds``; the answer's status. :class:`SourceError` if the
    URL may not be reached or the connection fails."""
    target = resolve(url, settings)
    deadline = _Deadline(seconds)
    request_url = httpcore.URL(
        scheme=target.scheme.encode(),
        host=target.host.encode(),
        port=target.port,
        target=target.path.encode(),
    )
    sent = [
        (b"Host", target.host_header.encode()),
        (b"User-Agent", b"vystra"),
        (b"Content-Length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in headers.items()),
    ]
    extensions = {"timeout": {k: seconds for k in ("connect", "read", "write", "pool")}}
    try:
        with httpcore.ConnectionPool(
            network_backend=_PinnedBackend(target, deadline), retries=0
        ) as pool:
            response = pool.request(
                "POST", request_url, headers=sent, content=body, extensions=extensions
            )
            return response.status
    except httpcore.TimeoutException as exc:
        raise SourceError(f"{url} did not answer within {seconds:.0f} s") from exc
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise SourceError(f"cannot reach {url}: {exc or type(exc).__name__}") from exc
    finally:
        deadline.cancel()
