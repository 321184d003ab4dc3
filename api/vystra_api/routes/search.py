"""Search: plain-language queries to the moments that answer them, with a link to play each."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

import psycopg
from fastapi import APIRouter, Query, Request

from vystra.db.listing import video_sources
from vystra.db.searchindex import IndexChanged
from vystra.embed import Embedder
from vystra.search import MAX_LIMIT, MAX_QUERY_CHARS, Filters, Mode, Page, search_page
from vystra.segment import Modality
from vystra_api.deps import StateDep, TenantDep
from vystra_api.errors import ApiError
from vystra_api.models import Moment, SearchResults
from vystra_api.routes.videos import frame_url, media_url

router = APIRouter(prefix="/v1/search", tags=["search"])

MAX_VIDEO_FILTERS = 100


@router.get("", summary="Find the moments that match a query")
def search_moments(
    tenant: TenantDep,
    state: StateDep,
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="The query.")],
    mode: Mode = Mode.hybrid,
    video_id: Annotated[
        list[str] | None,
        Query(max_length=MAX_VIDEO_FILTERS, description="Only these videos (repeatable)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
    language: Annotated[
        list[str] | None,
        Query(max_length=MAX_VIDEO_FILTERS, description="Only videos in these languages."),
    ] = None,
    created_after: Annotated[
        datetime | None, Query(description="Only videos added at or after this time.")
    ] = None,
    created_before: Annotated[
        datetime | None, Query(description="Only videos added before this time.")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
    rerank: Annotated[
        bool,
        Query(
            description="Reorder the best candidates by their best-matching sentence (semantic"
            " and hybrid); false: by the whole unit."
        ),
    ] = True,
    modality: Annotated[
        list[Modality] | None,
        Query(
            max_length=len(Modality),
            description="Only what is said (speech) or shown on screen (screen); repeatable.",
        ),
    ] = None,
) -> SearchResults:
    texts = [q, *(video_id or ()), *(language or ()), cursor or ""]
    if any("\x00" in t for t in texts) or any(
        len(v) > 64 for v in [*(video_id or ()), *(language or ())]
    ):
        raise ApiError(400, "q, video_id and language must be plain text without NUL characters")
    embedder = state.embedder() if mode is not Mode.keyword else None
    filters = Filters(
        video_ids=tuple(video_id or ()),
        languages=tuple(language or ()),
        created_after=created_after,
        created_before=created_before,
        modalities=tuple(modality or ()),
    )

    def page_of(conn: psycopg.Connection, embedder: Embedder | None) -> Page:
        return search_page(
            conn,
            embedder,
            q,
            tenant=tenant,
            mode=mode,
            limit=limit,
            filters=filters,
            cursor=cursor,
            ef_search=state.settings.hnsw_ef_search,
            rerank=rerank,
        )

    started = time.perf_counter()
    with state.read_db.connect() as conn:
        try:
            page = page_of(conn, embedder)
        except IndexChanged as exc:  # re-indexed since this process loaded its model
            conn.rollback()
            page = page_of(conn, state.switched(exc.active))
        hits = page.hits
        sources = video_sources(conn, tenant, list({h.video_id for h in hits})) if hits else {}
    state.metrics.search.labels(mode.value).observe(time.perf_counter() - started)
    base_url = str(request.base_url)
    urls = {vid: media_url(state, tenant, src, base_url) for vid, src in sources.items()}
    return SearchResults(
        query=q,
        mode=mode,
        results=[
            Moment(
                video_id=h.video_id,
                title=h.title,
                start=h.start,
                end=h.end,
                text=h.text,
                score=h.score,
                link=f"{urls[h.video_id]}#t={h.start:.1f}" if urls.get(h.video_id) else h.link,
                relevance=h.relevance,
                highlight=h.highlight,
                unit_start=h.unit_start,
                language=h.language,
                modality=h.modality,
                thumbnail_url=frame_url(h.video_id, h.frame) if h.frame is not None else None,
            )
            for h in hits
        ],
        next_cursor=page.next_cursor,
    )
