"""Videos: list, detail with transcript and insights, subtitles, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from vystra.db import store
from vystra.db.store import Video, VisualStatus
from vystra.objectkeys import owned_by
from vystra.subtitles import to_srt, to_vtt
from vystra_api import cleanup
from vystra_api.deps import StateDep, TenantDep, VideoId, binary, valid_id
from vystra_api.errors import not_found
from vystra_api.models import (
    MAX_PAGE,
    KeyframeList,
    KeyframePublic,
    TranscriptLine,
    VideoDetail,
    VideoList,
    VideoPublic,
    VisualPublic,
)
from vystra_api.paging import cursor_after, page_after
from vystra_api.redact import client_source, scrubber
from vystra_api.state import AppState

router = APIRouter(prefix="/v1/videos", tags=["videos"])


def to_public(v: Video, state: AppState) -> VideoPublic:
    return VideoPublic(
        id=v.id,
        title=v.title,
        status=v.status,  # type: ignore[arg-type]
        duration_s=v.duration,
        segments=v.segment_count,
        language=v.language,
        error_reason=v.error_reason,
        error=scrubber(state.settings.home)(v.error),
        created_at=v.created_at,
        updated_at=v.updated_at,
    )


def media_url(state: AppState, tenant: str, source: str, base_url: str) -> str | None:
    """A URL a browser can play: the object store's (signed, expiring) or the source URL."""
    key = state.objects.key_for_source(source)
    if key and owned_by(key, tenant):
        return state.objects.media_url(
            key, base_url=base_url, ttl_seconds=state.settings.media_url_ttl_seconds
        )
    if source.startswith(("http://", "https://")):
        return source
    return None


@router.get("", summary="The tenant's videos, newest first")
def list_videos(
    tenant: TenantDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> VideoList:
    after = page_after(cursor)
    with state.db.connect() as conn:
        found = store.list_videos(conn, tenant, limit=limit + 1, after=after)
    page = found[:limit]
    return VideoList(
        items=[to_public(v, state) for v in page],
        next_cursor=cursor_after(page[-1].created_at, page[-1].id) if len(found) > limit else None,
    )


def _video(state: AppState, tenant: str, video_id: str) -> Video:
    valid_id("video", video_id)
    with state.db.connect() as conn:
        video = store.get_video(conn, tenant, video_id)
    if video is None:
        raise not_found("video", video_id)
    return video


@router.get("/{video_id}", summary="A video with its transcript and insights")
def get_video(
    video_id: VideoId, tenant: TenantDep, state: StateDep, request: Request
) -> VideoDetail:
    video = _video(state, tenant, video_id)
    with state.db.connect() as conn:
        transcript = store.get_transcript(conn, tenant, video_id)
    return VideoDetail(
        **to_public(video, state).model_dump(),
        source=client_source(state.objects, tenant, video.source),
        model=video.model,
        embedding_model=video.embedding_model,
        processed_seconds=video.processed_seconds,
        insights_status=video.insights_status,
        insights=video.insights,
        media_url=media_url(state, tenant, video.source, str(request.base_url)),
        visual=VisualPublic(
            status=VisualStatus(video.visual_status) if video.visual_status else None,
            error=scrubber(state.settings.home)(video.visual_error),
            keyframes=video.keyframe_count,
            screen_texts=video.screen_count,
        ),
        transcript=[TranscriptLine(start=s.start, end=s.end, text=s.text) for s in transcript],
    )


def frame_url(video_id: str, t: float) -> str:
    return f"/v1/videos/{video_id}/frames/{t:.3f}"


@router.get(
    "/{video_id}/keyframes", summary="The video's keyframes: one a shot, and within long ones"
)
def list_keyframes(video_id: VideoId, tenant: TenantDep, state: StateDep) -> KeyframeList:
    _video(state, tenant, video_id)
    with state.db.connect() as conn:
        found = store.list_keyframes(conn, tenant, video_id)
    return KeyframeList(
        items=[KeyframePublic(t=k.t, shot=k.shot, url=frame_url(video_id, k.t)) for k in found]
    )


@router.get(
    "/{video_id}/frames/{seconds}",
    summary="The thumbnail of the keyframe on screen at a moment (JPEG)",
    responses=binary("image/jpeg"),
    response_class=Response,
)
def get_frame(
    video_id: VideoId,
    tenant: TenantDep,
    state: StateDep,
    seconds: Annotated[float, Path(ge=0, le=7 * 86400, allow_inf_nan=False)],
) -> Response:
    valid_id("video", video_id)
    with state.db.connect() as conn:
        jpeg = store.keyframe_jpeg(conn, tenant, video_id, seconds)
    if jpeg is None:
        raise not_found("keyframe of video", video_id)
    # a keyframe never changes until the video is re-ingested
    return Response(
        jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"}
    )


def _subtitles(state: AppState, tenant: str, video_id: str, fmt: str) -> Response:
    video = _video(state, tenant, video_id)
    with state.db.connect() as conn:
        transcript = store.get_transcript(conn, tenant, video.id)
    body, media_type = (
        (to_srt(transcript), "application/x-subrip")
        if fmt == "srt"
        else (to_vtt(transcript), "text/vtt")
    )
    filename = f"{video.id}.{fmt}"
    return Response(
        body,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


_SUBTITLES: dict[int | str, dict[str, Any]] = {200: {"content": {"text/plain": {}}}}


@router.get("/{video_id}/subtitles.srt", summary="SubRip subtitles", responses=_SUBTITLES)
def subtitles_srt(video_id: VideoId, tenant: TenantDep, state: StateDep) -> Response:
    return _subtitles(state, tenant, video_id, "srt")


@router.get("/{video_id}/subtitles.vtt", summary="WebVTT subtitles", responses=_SUBTITLES)
def subtitles_vtt(video_id: VideoId, tenant: TenantDep, state: StateDep) -> Response:
    return _subtitles(state, tenant, video_id, "vtt")


@router.delete(
    "/{video_id}", status_code=204, summary="Delete a video, its segments and its uploaded object"
)
def delete_video(video_id: VideoId, tenant: TenantDep, state: StateDep) -> Response:
    valid_id("video", video_id)
    with state.db.connect() as conn:
        if not cleanup.delete_video(conn, state.objects, tenant, video_id):
            raise not_found("video", video_id)
    return Response(status_code=204)
