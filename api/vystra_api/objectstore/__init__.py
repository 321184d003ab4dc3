"""Where uploaded videos live: a folder (one machine) or an S3 bucket (cluster).

Both hand clients presigned, expiring URLs, so the bytes go straight to storage and never
through a request handler's memory: S3 signs its own URLs; the folder store signs URLs that
the API itself serves (``PUT /v1/uploads/{id}/content``, ``GET /v1/media/...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from vystra.settings import Settings


@dataclass(frozen=True)
class PartTarget:
    number: int
    url: str
    size_bytes: int


@dataclass(frozen=True)
class UploadTarget:
    """How a client sends the bytes: one PUT to ``url``, or one PUT per part."""

    url: str | None
    headers: dict[str, str]
    expires_at: datetime
    multipart_id: str | None = None
    part_size: int | None = None
    parts: list[PartTarget] = field(default_factory=list)


class ObjectStoreError(Exception):
    """The store is unreachable or refused an operation (``code``: the store's error code)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ObjectStore(Protocol):
    kind: str

    def begin_upload(
        self,
        *,
        upload_id: str,
        key: str,
        size: int,
        content_type: str,
        expires_at: datetime,
        base_url: str,
    ) -> UploadTarget: ...

    def complete_multipart(
        self, key: str, multipart_id: str, parts: list[tuple[int, str]]
    ) -> None: ...

    def object_size(self, key: str) -> int | None: ...

    def delete(self, key: str) -> None: ...

    def abandon(self, key: str, multipart_id: str | None) -> None:
        """Drop what an upload that never completed left: its object, its multipart parts."""
        ...

    def prepare(self) -> None:
        """Once at start-up: the store's own clean-up rules, where it has them."""
        ...

    def source_for(self, key: str) -> str:
        """What the pipeline (or a VideoIngest spec) reads to fetch the object."""
        ...

    def sources(self, key: str) -> tuple[str, ...]:
        """Every way a video's recorded source may name the object."""
        ...

    def key_for_source(self, source: str) -> str | None:
        """The object key behind a video's recorded source, if it is in this store."""
        ...

    def media_url(self, key: str, *, base_url: str, ttl_seconds: int) -> str: ...

    def check(self) -> None: ...


def open_store(settings: Settings) -> ObjectStore:
    if settings.mode == "cluster":
        from vystra_api.objectstore.s3 import S3ObjectStore

        return S3ObjectStore(settings)
    from vystra_api.objectstore.local import LocalObjectStore

    return LocalObjectStore(settings)
