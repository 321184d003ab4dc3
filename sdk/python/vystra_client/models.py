"""What the API answers, as typed objects. Fields the API adds later are ignored, so an older
client keeps working against a newer API."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


def _from(cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Upload:
    id: str
    key: str
    filename: str
    content_type: str
    size_bytes: int
    status: str  # pending | complete
    expires_at: str
    created_at: str


@dataclass(frozen=True)
class Ingest:
    id: str
    phase: str  # Pending | Queued | Running | Succeeded | Failed
    progress: dict[str, Any]
    spec: dict[str, Any]
    reason: str | None = None
    message: str | None = None
    source: str | None = None
    upload_id: str | None = None
    video_id: str | None = None
    stage: str | None = None
    attempts: int = 0
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


@dataclass(frozen=True)
class Video:
    id: str
    title: str
    status: str  # processing | ready | failed
    duration_s: float | None
    segments: int
    language: str | None
    error_reason: str | None
    error: str | None
    created_at: str
    updated_at: str
    transcript: list[dict[str, Any]] = field(default_factory=list)  # detail only
    insights: dict[str, Any] | None = None  # detail only
    insights_status: str | None = None
    visual: dict[str, Any] | None = None


@dataclass(frozen=True)
class Moment:
    video_id: str
    title: str
    start: float  # where the answering sentence begins
    end: float
    text: str
    score: float
    link: str  # plays the video from start
    relevance: float  # 0-1, the same scale in every mode
    highlight: str  # text as escaped HTML, the query's words in <mark>
    unit_start: float
    language: str | None
    modality: str  # speech | screen
    thumbnail_url: str | None = None


@dataclass(frozen=True)
class SearchPage:
    query: str
    mode: str
    results: list[Moment]
    next_cursor: str | None


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    events: list[str]
    created_at: str
    secret: str | None = None  # only in the answer that created it


@dataclass(frozen=True)
class WebhookDelivery:
    id: int
    event_id: str
    event_type: str
    status: str  # pending | delivered | failed
    attempts: int
    next_attempt_at: str
    last_status: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None


@dataclass(frozen=True)
class Event:
    """One event of an ingest's stream: ``progress`` and ``end`` carry the ingest, ``segment``
    a transcript unit (ordinal, start, end, text)."""

    type: str  # progress | segment | end
    data: dict[str, Any]
    id: str | None  # the stream's cursor: resume after it

    @property
    def ingest(self) -> Ingest | None:
        if self.type in ("progress", "end") and "phase" in self.data:
            return _from(Ingest, self.data)
        return None


def upload(data: dict[str, Any]) -> Upload:
    return _from(Upload, data)


def ingest(data: dict[str, Any]) -> Ingest:
    return _from(Ingest, data)


def video(data: dict[str, Any]) -> Video:
    return _from(Video, data)


def search_page(data: dict[str, Any]) -> SearchPage:
    return SearchPage(
        query=data["query"],
        mode=data["mode"],
        results=[_from(Moment, m) for m in data["results"]],
        next_cursor=data.get("next_cursor"),
    )


def webhook(data: dict[str, Any]) -> Webhook:
    return _from(Webhook, data)


def delivery(data: dict[str, Any]) -> WebhookDelivery:
    return _from(WebhookDelivery, data)
