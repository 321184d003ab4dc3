"""Stage 1, fetch: bring a source to a local file and hash it while reading.

Sources are local paths (or ``file://`` URLs), ``http(s)://`` URLs and ``s3://bucket/key``.
The sha256 is computed in the same pass that reads the bytes, so deduplication costs no
second read.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from vystra.errors import SourceError
from vystra.settings import Settings

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


def _http_chunks(url: str, settings: Settings) -> Iterator[bytes]:
    try:
        with httpx.stream(
            "GET", url, follow_redirects=True, timeout=settings.http_timeout_seconds
        ) as response:
            if response.status_code >= 400:
                raise SourceError(f"{url} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > settings.max_download_bytes:
                raise SourceError(
                    f"{url} is {declared} bytes, over the {settings.max_download_bytes} byte limit"
                )
            yield from response.iter_bytes(CHUNK_BYTES)
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot download {url}: {exc}") from exc


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
    try:
        body = s3_client(settings).get_object(Bucket=bucket, Key=key)["Body"]
        yield from body.iter_chunks(CHUNK_BYTES)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SourceError(f"cannot read {url}: {code}") from exc
    except BotoCoreError as exc:
        raise SourceError(f"cannot read {url}: {exc}") from exc
