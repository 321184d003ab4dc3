"""Uploads in a folder under ``VYSTRA_HOME``, behind HMAC-signed, expiring URLs served by the API.

A signature covers the method, the object key, the declared size and content type, and the
expiry, so a URL lets its holder write exactly one object of that size and type until then.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from vystra.settings import Settings
from vystra_api.objectstore import ObjectStoreError, UploadTarget


class SignatureError(Exception):
    """A signed URL is expired or was not signed by us for this request."""


class SizeError(Exception):
    """The body is larger or smaller than the size the upload declared."""


def _signing_key(settings: Settings) -> bytes:
    if settings.upload_signing_key:
        return settings.upload_signing_key.encode()
    path = settings.home_dir / "upload-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


class LocalObjectStore:
    kind = "local"

    def __init__(self, settings: Settings) -> None:
        self.root = settings.home_dir / "objects"
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._key = _signing_key(settings)
        except FileExistsError:  # another process created it a moment ago
            self._key = _signing_key(settings)

    # signing
    def sign(self, *parts: object) -> str:
        message = "\n".join(str(p) for p in parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, signature: str, expires: int, *parts: object) -> None:
        if expires < time.time():
            raise SignatureError("this URL has expired; request a new one")
        expected = self.sign(*parts, expires).encode()
        if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
            raise SignatureError("the URL signature does not match this request")

    # the ObjectStore protocol
    def begin_upload(
        self,
        *,
        upload_id: str,
        key: str,
        size: int,
        content_type: str,
        expires_at: datetime,
        base_url: str,
    ) -> UploadTarget:
        expires = int(expires_at.timestamp())
        signature = self.sign("PUT", key, size, content_type, expires)
        query = urlencode({"expires": expires, "signature": signature})
        return UploadTarget(
            url=f"{base_url.rstrip('/')}/v1/uploads/{upload_id}/content?{query}",
            headers={"Content-Type": content_type},
            expires_at=expires_at,
        )

    def complete_multipart(self, key: str, multipart_id: str, parts: list[tuple[int, str]]) -> None:
        raise ObjectStoreError("the local store takes uploads in one PUT")

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ObjectStoreError(f"object key {key!r} escapes the store")
        return path

    def object_size(self, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        for parent in path.parents:  # drop the now empty upload folders
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def abandon(self, key: str, multipart_id: str | None) -> None:
        self.delete(key)  # a PUT in flight writes a partial file that it removes itself

    def prepare(self) -> None:
        pass  # nothing outlives the process but finished objects

    def source_for(self, key: str) -> str:
        return str(self.path(key))

    def sources(self, key: str) -> tuple[str, ...]:
        return (self.source_for(key),)

    def key_for_source(self, source: str) -> str | None:
        path = Path(source)
        if path.is_absolute() and path.is_relative_to(self.root.resolve()):
            return str(path.relative_to(self.root.resolve()))
        return None

    def media_url(self, key: str, *, base_url: str, ttl_seconds: int) -> str:
        expires = int(time.time()) + ttl_seconds
        query = urlencode({"expires": expires, "signature": self.sign("GET", key, expires)})
        return f"{base_url.rstrip('/')}/v1/media/{quote(key)}?{query}"

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise ObjectStoreError(f"{self.root} is not writable")

    async def write(self, key: str, size: int, chunks: AsyncIterator[bytes]) -> None:
        """Stream the body to a temporary file; it replaces ``key`` only if exactly ``size``."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
        written = 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    written += len(chunk)
                    if written > size:
                        raise SizeError(f"the body is larger than the declared {size} bytes")
                    out.write(chunk)
            if written != size:
                raise SizeError(f"the body has {written} bytes, the upload declared {size}")
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
