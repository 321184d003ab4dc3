"""Ingests: queue a video (local mode) or create a VideoIngest (cluster mode); watch it live."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from vystra.billing import quota
from vystra.db import store, uploads
from vystra.urlguard import check_source_url
from vystra_api import caps
from vystra_api.deps import IngestId, StateDep, StreamTenantDep, TenantDep, valid_id
from vystra_api.errors import ApiError, not_found
from vystra_api.idempotency import IdempotencyKey, idempotent
from vystra_api.models import MAX_PAGE, IngestCreate, IngestList, IngestPublic, IngestSpec
from vystra_api.state import AppState

router = APIRouter(prefix="/v1/ingests", tags=["ingests"])

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000


@router.post("", status_code=201, summary="Ingest an upload or a URL")
def create_ingest(
    body: IngestCreate,
    tenant: TenantDep,
    state: StateDep,
    response: Response,
    key: IdempotencyKey = None,
) -> IngestPublic:
    return idempotent(
        state,
        tenant,
        key,
        body,
        response,
        (201, IngestPublic),
        lambda: _create_ingest(body, tenant, state),
    )


def _create_ingest(body: IngestCreate, tenant: str, state: AppState) -> IngestPublic:
    if body.upload_id is not None:
        valid_id("upload", body.upload_id)
        with state.db.connect() as conn:
            upload = uploads.get_upload(conn, body.upload_id, tenant)
        if upload is None:
            raise not_found("upload", body.upload_id)
        if upload.status != "complete":
            raise ApiError(
                409, f"upload {upload.id} is not complete: PUT the file, then POST .../complete"
            )
        source = state.objects.source_for(upload.object_key)
    else:
        assert body.url is not None
        check_source_url(body.url, state.settings)  # 400 SourceForbidden now, not a Failed later
        source = body.url
    active = state.backend.active_count(tenant)
    caps.check_active_ingests(state.settings, active)
    spec, max_seconds = _within_plan(state, tenant, body.spec(), active)
    ingest_id = f"ing-{uuid.uuid4().hex[:12]}"
    return state.backend.create(
        tenant, ingest_id, source, body.upload_id, spec, max_video_seconds=max_seconds
    )


def _within_plan(
    state: AppState, tenant: str, spec: IngestSpec, active: int
) -> tuple[IngestSpec, float | None]:
    """Refuse (402, naming the limit) an ingest the tenant's plan does not allow; return the
    spec to run and the plan's video-length limit, checked again once the video is measured.

    Concurrent requests of one tenant may pass the concurrency check together: the limit is
    a fair-use bound, not a lock. A plan without GPUs runs ``auto`` work on CPU.
    """
    if not state.settings.billing_enabled:
        return spec, None
    with state.db.connect() as conn:
        standing = quota.standing(conn, state.billing.catalog, tenant)
    quota.check_ingest(
        standing,
        accelerator=spec.accelerator,
        duration_hint=spec.durationHintSeconds,
        active_ingests=active,
    )
    assert standing.plan is not None  # check_ingest refuses a tenant without a plan
    if spec.accelerator == "auto" and not standing.plan.gpu_allowed:
        spec = spec.model_copy(update={"accelerator": "cpu"})
    return spec, standing.plan.max_video_seconds


@router.get("", summary="The tenant's ingests, newest first")
def list_ingests(
    tenant: TenantDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> IngestList:
    items, next_cursor = state.backend.list(tenant, limit=limit, cursor=cursor)
    return IngestList(items=items, next_cursor=next_cursor)


def _get(state: AppState, tenant: str, ingest_id: str) -> IngestPublic:
    valid_id("ingest", ingest_id)
    found = state.backend.get(tenant, ingest_id)
    if found is None:
        raise not_found("ingest", ingest_id)
    return found


@router.get("/{ingest_id}", summary="Phase, progress and error of an ingest")
def get_ingest(ingest_id: IngestId, tenant: TenantDep, state: StateDep) -> IngestPublic:
    return _get(state, tenant, ingest_id)


@router.delete(
    "/{ingest_id}",
    status_code=204,
    summary="Delete an ingest (cancels it if running; the video goes too unless spec.retain)",
)
def delete_ingest(ingest_id: IngestId, tenant: TenantDep, state: StateDep) -> Response:
    valid_id("ingest", ingest_id)
    if not state.backend.delete(tenant, ingest_id):
        raise not_found("ingest", ingest_id)
    return Response(status_code=204)


def _event(name: str, data: Any, cursor: int) -> str:
    """An event whose id is the stream's cursor: the ordinal of the last segment sent."""
    body = json.dumps(data, separators=(",", ":"))
    return f"id: {cursor}\nevent: {name}\ndata: {body}\n\n"


def _resume_after(last_event_id: str | None) -> int:
    """The ordinal after which a resumed stream goes on (-1: from the first segment)."""
    if last_event_id is None:
        return -1
    if not re.fullmatch(r"-1|0|[1-9][0-9]{0,8}", last_event_id):
        raise ApiError(400, "Last-Event-ID must be the id of an event this stream sent")
    return int(last_event_id)


@router.get(
    "/{ingest_id}/events",
    summary="Server-Sent Events: progress and new transcript segments until the ingest ends",
    description="Events: `progress` (the ingest, when it changes), `segment` (ordinal, start,"
    " end, text; each once), `end` (the final ingest, or `{id, deleted: true}`). Each event's"
    " `id` is the ordinal of the last segment sent; a client that reconnects with it as"
    " `Last-Event-ID` (EventSource does) gets the current progress and every later segment,"
    " none lost or repeated.",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
    # an API key, or a stream token in the URL (either one)
    openapi_extra={"security": [{"HTTPBearer": []}, {"StreamToken": []}]},
)
async def ingest_events(
    ingest_id: IngestId,
    tenant: StreamTenantDep,
    state: StateDep,
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    after = _resume_after(last_event_id)
    first = await run_in_threadpool(_get, state, tenant, ingest_id)  # 404 before streaming
    # 429 beyond the tenant's open streams, counted across API processes
    release = await run_in_threadpool(state.streams.acquire, tenant)
    return StreamingResponse(
        _released(_stream(state, tenant, first, request, after), release),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(release),  # also when the stream never started
    )


async def _released(events: AsyncIterator[str], release: Callable[[], None]) -> AsyncIterator[str]:
    try:
        async for event in events:
            yield event
    finally:
        release()


async def _stream(
    state: AppState, tenant: str, first: IngestPublic, request: Request, after: int
) -> AsyncIterator[str]:
    ingest: IngestPublic | None = first
    ingest_id = first.id
    last_state: Any = None
    last_ordinal = after
    last_sent = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"  # how soon an EventSource reconnects after a drop

    def new_segments(video_id: str, after: int) -> list[dict[str, Any]]:
        with state.db.connect() as conn:
            found = store.get_segments(conn, tenant, video_id, after=after, limit=500)
        return [
            {"ordinal": s.ordinal, "start": s.start, "end": s.end, "text": s.text} for s in found
        ]

    while True:
        if ingest is None:  # deleted while watched
            yield _event("end", {"id": ingest_id, "deleted": True}, last_ordinal)
            return
        public = ingest.model_dump(mode="json")
        now_state = (ingest.phase, ingest.stage, public["progress"], ingest.video_id)
        if now_state != last_state:
            last_state = now_state
            last_sent = time.monotonic()
            yield _event("progress", public, last_ordinal)
        if ingest.video_id:
            while batch := await run_in_threadpool(new_segments, ingest.video_id, last_ordinal):
                for segment in batch:
                    yield _event("segment", segment, segment["ordinal"])
                last_ordinal = batch[-1]["ordinal"]
                last_sent = time.monotonic()
        if ingest.finished:
            yield _event("end", public, last_ordinal)
            return
        if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"  # proxies close connections that stay silent
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)
        ingest = await run_in_threadpool(state.backend.get, tenant, ingest_id)
