"""Each operation once, as a generator of HTTP requests: it yields a :class:`Request`, is sent
the response, and returns the result. The sync and async clients only carry requests out, so
an upload's parts, its retries and its completion are written once for both."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from vystra_client import models

T = TypeVar("T")
Flow = Generator["Request", httpx.Response, T]

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
}


@dataclass
class Request:
    method: str
    url: str  # a path under the API, or an absolute presigned URL
    params: list[tuple[str, str]] = field(default_factory=list)
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry: bool = False  # the same request may be sent again (nothing is done twice)
    api_key: bool = True  # presigned URLs carry their own authorisation


def call(method: str, path: str, parse: Callable[[Any], T], **kwargs: Any) -> Flow[T]:
    """One request; its JSON answer parsed (nothing for 204)."""
    response = yield Request(method, path, retry=method in ("GET", "DELETE"), **kwargs)
    return parse(response.json() if response.status_code != 204 else None)


def created(path: str, body: dict[str, Any], parse: Callable[[Any], T], key: str | None) -> Flow[T]:
    """A POST that creates something, with an Idempotency-Key, so a retry creates nothing more."""
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    response = yield Request("POST", path, json=body, headers=headers, retry=True)
    return parse(response.json())


def upload_file(path: Path, content_type: str | None) -> Flow[models.Upload]:
    """Create the upload, PUT the file (in parts when the API asks for parts, each retried
    alone), then complete it."""
    size = path.stat().st_size
    kind = content_type or CONTENT_TYPES.get(path.suffix.lower(), "video/mp4")
    body = {"filename": path.name[:255], "size_bytes": size, "content_type": kind}
    target = yield from created("/v1/uploads", body, lambda d: d, None)
    if target["url"]:
        yield Request(
            "PUT",
            target["url"],
            content=path.read_bytes(),
            headers=target["headers"],
            retry=True,
            api_key=False,
        )
        done = yield Request("POST", f"/v1/uploads/{target['id']}/complete", retry=True)
        return models.upload(done.json())
    etags, offset = [], 0
    with path.open("rb") as file:
        for part in target["parts"]:
            file.seek(offset)
            chunk = file.read(part["size_bytes"])
            offset += part["size_bytes"]
            answer = yield Request("PUT", part["url"], content=chunk, retry=True, api_key=False)
            etags.append({"number": part["number"], "etag": answer.headers["etag"]})
    done = yield Request(
        "POST", f"/v1/uploads/{target['id']}/complete", json={"parts": etags}, retry=True
    )
    return models.upload(done.json())


def ingest_body(upload_id: str | None, url: str | None, spec: dict[str, Any]) -> dict[str, Any]:
    if (upload_id is None) == (url is None):
        raise ValueError("give exactly one of upload_id and url")
    return {**spec, **({"upload_id": upload_id} if upload_id else {"url": url})}


def search_params(
    query: str,
    mode: str,
    limit: int,
    video_ids: list[str] | None,
    modality: list[str] | None,
    cursor: str | None,
) -> list[tuple[str, str]]:
    params = [("q", query), ("mode", mode), ("limit", str(limit))]
    params += [("video_id", v) for v in video_ids or ()]
    params += [("modality", m) for m in modality or ()]
    return params + ([("cursor", cursor)] if cursor else [])


def parse_events(lines: list[str]) -> tuple[str, dict[str, Any], str | None] | None:
    """One Server-Sent Event from its lines (those before the blank line); None for a comment
    or a retry hint."""
    event, data, event_id = "message", [], None
    for line in lines:
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
    if not data:
        return None
    return event, json.loads("\n".join(data)), event_id
