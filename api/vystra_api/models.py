"""Request and response bodies, in small families per resource (Create, Public, List).

Ingest options use the VideoIngest spec's own field names and limits, so a request body and a
``kubectl apply`` manifest read the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vystra.db.store import VisualStatus
from vystra.search import MAX_LIMIT, MAX_QUERY_CHARS, Mode
from vystra.segment import Modality

MAX_PAGE = 200
ID_MAX = 64


def http_url(url: str) -> str:
    """A URL the tenant gives (a source, a webhook): http(s) only, with a host."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("url must be an http:// or https:// URL")
    if any(c.isspace() for c in url):
        raise ValueError("url must not contain whitespace")
    return url


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt option is an error, not a no-op

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:  # Postgres text cannot hold NUL
            raise ValueError("must not contain NUL characters")
        return value


class ErrorBody(BaseModel):
    """An RFC 9457 problem (``application/problem+json``)."""

    type: str = Field(description="urn:vystra:error:<Reason>, one per reason.")
    title: str = Field(description="The reason, in words.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, for people.")
    error: str = Field(description="Stable CamelCase reason, e.g. NotFound.")
    message: str = Field(description="The detail again (what clients read before RFC 9457).")
    details: list[dict[str, Any]] | None = None


# uploads


class UploadCreate(Strict):
    filename: str = Field(min_length=1, max_length=255, examples=["keynote.mp4"])
    size_bytes: int = Field(gt=0, description="Exact size of the file; the store enforces it.")
    content_type: str = Field(min_length=3, max_length=100, examples=["video/mp4"])


class UploadPart(Strict):
    number: int = Field(ge=1, le=10_000)
    etag: str = Field(min_length=1, max_length=200)


class UploadComplete(Strict):
    parts: list[UploadPart] | None = Field(
        default=None, max_length=10_000, description="Multipart uploads: each part's ETag."
    )


class PartTargetPublic(BaseModel):
    number: int
    url: str
    size_bytes: int


class UploadPublic(BaseModel):
    id: str
    key: str = Field(description="Object key; usable as a VideoIngest source.")
    filename: str
    content_type: str
    size_bytes: int
    status: Literal["pending", "complete"]
    expires_at: datetime
    created_at: datetime


class UploadTargetPublic(UploadPublic):
    method: Literal["PUT"] = "PUT"
    url: str | None = Field(description="Presigned URL for one PUT; null for multipart.")
    headers: dict[str, str] = Field(description="Headers the PUT must carry.")
    part_size: int | None = None
    parts: list[PartTargetPublic] = Field(default_factory=list)


# ingests


class Segmenting(Strict):
    targetSeconds: float = Field(default=15.0, ge=1, le=600)  # noqa: N815 - the CRD's names
    overlapSeconds: float = Field(default=3.0, ge=0, le=300)  # noqa: N815

    @model_validator(mode="after")
    def _overlap_below_target(self) -> Segmenting:
        if self.overlapSeconds >= self.targetSeconds:
            raise ValueError("segmenting.overlapSeconds must be below segmenting.targetSeconds")
        return self


class Visual(Strict):
    enabled: bool = True
    intervalSeconds: float = Field(  # noqa: N815 - the CRD's names
        default=10.0, ge=1, le=600, description="A keyframe at least this often in a long shot."
    )
    sceneThreshold: float = Field(  # noqa: N815
        default=0.3, ge=0.05, le=1, description="Scene change score that starts a new shot."
    )
    ocr: bool = Field(default=True, description="Read on-screen text into the search index.")


class IngestSpec(Strict):
    """The options of a VideoIngest, minus its source."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$", examples=["en"])
    model: str | None = Field(
        default=None,
        max_length=256,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Whisper model name known to the workers; unset: their default.",
    )
    accelerator: Literal["auto", "gpu", "cpu"] = "auto"
    priority: int = Field(default=0, ge=-1000, le=1000)
    durationHintSeconds: float | None = Field(  # noqa: N815
        default=None,
        ge=0,
        le=86400,
        description="Expected length of the video: helps placement, and plan limits are"
        " checked against it before anything runs.",
    )
    segmenting: Segmenting = Field(default_factory=Segmenting)
    visual: Visual = Field(
        default_factory=Visual, description="Shots, keyframes and on-screen text."
    )
    insights: bool = True
    retain: bool = Field(default=False, description="Keep the video when the ingest is deleted.")


class IngestCreate(IngestSpec):
    upload_id: str | None = Field(default=None, max_length=ID_MAX)
    url: str | None = Field(default=None, max_length=2048, examples=["https://example.org/a.mp4"])

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        # s3:// and paths would let one tenant read objects or files that are not theirs
        return http_url(url) if url is not None else None

    @model_validator(mode="after")
    def _one_source(self) -> IngestCreate:
        if (self.upload_id is None) == (self.url is None):
            raise ValueError("give exactly one of upload_id and url")
        return self

    def spec(self) -> IngestSpec:
        return IngestSpec.model_validate(self.model_dump(exclude={"upload_id", "url"}))


Phase = Literal["Pending", "Queued", "Running", "Succeeded", "Failed"]


class IngestProgress(BaseModel):
    processed_seconds: float = 0.0
    duration_seconds: float = 0.0
    segments: int = 0
    percent: float = 0.0


class IngestPublic(BaseModel):
    id: str
    phase: Phase
    reason: str | None = None
    message: str | None = None
    source: str | None = Field(
        default=None,
        description="What the ingest reads: the URL, or the upload's object key (null: nothing"
        " the client gave, such as a file on the server).",
    )
    upload_id: str | None = None
    video_id: str | None = None
    stage: str | None = Field(default=None, description="Pipeline stage, when running.")
    progress: IngestProgress
    attempts: int = 0
    spec: IngestSpec
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


class IngestList(BaseModel):
    items: list[IngestPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


# videos


class VideoPublic(BaseModel):
    id: str
    title: str
    status: Literal["processing", "ready", "failed"]
    duration_s: float | None
    segments: int
    language: str | None
    error_reason: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime


class TranscriptLine(BaseModel):
    start: float
    end: float
    text: str


class VisualPublic(BaseModel):
    status: VisualStatus | None = Field(
        description="The visual stages: none means the file has no video stream; null: the"
        " video was indexed before they existed."
    )
    error: str | None = Field(description="Why they failed; speech indexing is unaffected.")
    keyframes: int
    screen_texts: int = Field(description="Units of on-screen text in the search index.")


class KeyframePublic(BaseModel):
    t: float = Field(description="Seconds into the video.")
    shot: bool = Field(description="Starts a shot (else: sampled within a long one).")
    url: str = Field(description="Its JPEG thumbnail.")


class KeyframeList(BaseModel):
    items: list[KeyframePublic]


class VideoDetail(VideoPublic):
    source: str | None = Field(
        description="What the video was read from: the URL, or the upload's object key (null:"
        " a file on the server, ingested with the CLI)."
    )
    model: str | None
    embedding_model: str | None
    processed_seconds: float
    insights_status: str | None
    insights: dict[str, Any] | None
    media_url: str | None = Field(description="A playable URL for the video, when stored here.")
    visual: VisualPublic
    transcript: list[TranscriptLine]


# tenants (admin)


class TenantCreate(Strict):
    name: str = Field(min_length=1, max_length=40, examples=["acme"])


class TenantPublic(BaseModel):
    name: str
    created_at: datetime
    revoked_at: datetime | None
    keys: int


class TenantCreated(BaseModel):
    name: str
    api_key: str = Field(description="The tenant's API key, shown this once (a hash is kept).")


# webhooks


class WebhookCreate(Strict):
    url: str = Field(min_length=8, max_length=2048, examples=["https://hooks.example.org/vystra"])
    events: list[Literal["ingest.succeeded", "ingest.failed", "video.deleted"]] = Field(
        min_length=1, max_length=3, description="The event types to receive."
    )

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        return http_url(url)


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="whsec_...: verifies each delivery's webhook-signature. Shown once."
    )


class WebhookDeliveryPublic(BaseModel):
    id: int
    event_id: str
    event_type: str
    status: str = Field(description="pending, delivered, or failed (given up after 72 h).")
    attempts: int
    next_attempt_at: datetime
    last_status: int | None = Field(description="The endpoint's last HTTP answer.")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class VideoList(BaseModel):
    items: list[VideoPublic]
    next_cursor: str | None


# search


class Moment(BaseModel):
    video_id: str
    title: str
    start: float
    end: float
    text: str
    score: float = Field(description="The mode's raw number; compare `relevance` instead.")
    link: str = Field(description="Plays the video from `start`.")
    relevance: float = Field(
        description="0–1, comparable across modes: how well the moment answers the query."
    )
    highlight: str = Field(
        description="`text` as escaped HTML with the query's words wrapped in <mark>."
    )
    unit_start: float = Field(
        description="Where the matching passage begins; `start` is its best sentence."
    )
    language: str | None = Field(description="The video's detected language.")
    modality: Modality = Field(description="speech: what is said; screen: text shown.")
    thumbnail_url: str | None = Field(
        default=None, description="The keyframe on screen at `start` (JPEG), if any."
    )


class SearchResults(BaseModel):
    query: str
    mode: Mode
    results: list[Moment]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last."
    )


# billing


class CheckoutCreate(Strict):
    plan: str = Field(min_length=1, max_length=40, examples=["pro"])
    success_url: str | None = Field(
        default=None, max_length=2048, description="Where Checkout sends the customer after paying."
    )
    cancel_url: str | None = Field(default=None, max_length=2048)

    @field_validator("success_url", "cancel_url")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        if url is not None and urlparse(url).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return url


class CheckoutPublic(BaseModel):
    id: str = Field(description="The Stripe Checkout Session id.")
    url: str | None = Field(description="Send the customer here to pay.")
    plan: str


class PlanPublic(BaseModel):
    name: str
    included_minutes: float
    overage: bool = Field(description="Minutes beyond the included ones are billed (else 402).")
    max_video_seconds: float | None
    max_concurrent_ingests: int | None
    gpu_allowed: bool
    purchasable: bool = Field(description="Has Stripe prices: can be bought through Checkout.")


class UsagePublic(BaseModel):
    plan: PlanPublic | None = Field(description="The plan in force; null: none (402 on ingest).")
    status: str = Field(description="Subscription status: none, active, past_due, canceled, ...")
    enforced: bool = Field(description="Whether plan limits are enforced on this service.")
    period_start: datetime
    period_end: datetime
    used_seconds: float
    used_minutes: float
    included_minutes: float
    remaining_minutes: float
    active_ingests: int
    metered_ingests: int = Field(description="Ingests metered in this period.")
    unreported_ingests: int = Field(description="Of those, not yet accepted by Stripe.")


__all__ = [
    "MAX_LIMIT",
    "MAX_PAGE",
    "MAX_QUERY_CHARS",
    "ErrorBody",
    "IngestCreate",
    "IngestList",
    "IngestPublic",
    "IngestSpec",
    "Moment",
    "SearchResults",
    "UploadComplete",
    "UploadCreate",
    "UploadPublic",
    "UploadTargetPublic",
    "VideoDetail",
    "VideoList",
    "VideoPublic",
]


# admin


class ReindexRequest(Strict):
    model: str | None = Field(
        default=None,
        max_length=4096,
        description="minilm, e5-multilingual or an absolute path to a fastembed model folder"
        " on the machines that run Vystra; unset: the configured embedding model.",
    )


class ReindexRunPublic(BaseModel):
    id: str
    model: str
    name: str | None = Field(description="The model's name, once loaded.")
    dim: int | None = Field(description="Its vectors' dimension, once loaded.")
    status: Literal["pending", "running", "done", "failed"]
    total: int = Field(description="Units to re-embed, counted when the run started.")
    done: int = Field(description="Units re-embedded so far.")
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class ReindexRuns(BaseModel):
    model: str | None = Field(description="The model the search index holds now.")
    name: str | None
    dim: int | None
    items: list[ReindexRunPublic]
