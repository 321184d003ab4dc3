"""Stage 8, search: plain-language queries to exact moments.

Candidates come from the HNSW index (``semantic``), the full-text GIN index (``keyword``) or
both (``hybrid``). Every candidate is then scored on one 0–1 relevance scale (vystra.moments),
overlapping units of one video are merged into one moment, and each moment starts at the
first word of its sentence that best answers the query.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any, cast
from urllib.parse import quote, urlparse

import numpy as np
import psycopg

from vystra import moments
from vystra.db import searchindex
from vystra.embed import Embedder
from vystra.errors import VystraError
from vystra.segment import Modality

MAX_QUERY_CHARS = 1000
MAX_LIMIT = 200
MAX_DEPTH = 1000  # moments reachable by paging
RERANK_DEPTH = 24  # candidates whose sentences are compared with the query
RRF_K = 60  # the constant from Cormack et al.; only for the compatibility `score` of hybrid


class Mode(StrEnum):
    semantic = "semantic"
    keyword = "keyword"
    hybrid = "hybrid"


@dataclass(frozen=True)
class Hit:
    """A moment. ``start`` is when its best-matching sentence begins (``link`` plays from
    there); ``unit_start`` is where the matching unit begins. ``score`` is the mode's raw
    number (cosine, ts_rank_cd, or reciprocal rank fusion); ``relevance`` is comparable across
    modes. ``highlight`` is ``text`` as escaped HTML with the query's words in <mark>."""

    video_id: str
    title: str
    start: float
    end: float
    text: str
    score: float
    link: str
    relevance: float = 0.0
    highlight: str = ""
    unit_start: float = 0.0
    language: str | None = None
    modality: Modality = Modality.speech
    frame: float | None = None  # time of the keyframe on screen at ``start`` (its thumbnail)


@dataclass(frozen=True)
class Filters:
    """Which videos and units to search: any of ``video_ids`` / ``languages`` /
    ``modalities`` (empty: all), created in [``created_after``, ``created_before``)."""

    video_ids: Sequence[str] = ()
    languages: Sequence[str] = ()
    modalities: Sequence[Modality] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    next_cursor: str | None = None


@dataclass
class _Candidate:
    video_id: str
    ordinal: int
    title: str = ""
    source: str = ""
    language: str | None = None
    start: float = 0.0
    end: float = 0.0
    text: str = ""
    word_starts: list[float] | None = None
    word_offsets: list[int] | None = None
    sentence_vectors: bytes | None = None
    cosine: float = 0.0
    rank: float = 0.0
    term_counts: list[int] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)  # the query's lexemes in ``config``
    config: str = "english"
    relevance: float = 0.0
    score: float = 0.0
    sentence_cosine: float | None = None
    moment_start: float | None = None
    modality: Modality = Modality.speech


def deep_link(source: str, start: float) -> str:
    """A URL that plays from ``start`` (media fragment syntax)."""
    if not urlparse(source).scheme or PurePosixPath(source).is_absolute():
        source = "file://" + quote(source)
    return f"{source}#t={start:.1f}"


def _scope(filters: Filters) -> tuple[str, tuple[Any, ...]]:
    sql, args = "", cast(tuple[Any, ...], ())
    if filters.video_ids:
        sql += " AND s.video_id = ANY(%s)"
        args += (list(filters.video_ids),)
    if filters.modalities:
        sql += " AND s.modality = ANY(%s)"
        args += ([Modality(m).value for m in filters.modalities],)
    if filters.languages or filters.created_after or filters.created_before:
        sql += (
            " AND s.video_id IN (SELECT v.id FROM videos v WHERE v.tenant = s.tenant"
            " AND (%s::text[] IS NULL OR v.language = ANY(%s::text[]))"
            " AND (%s::timestamptz IS NULL OR v.created_at >= %s::timestamptz)"
            " AND (%s::timestamptz IS NULL OR v.created_at < %s::timestamptz))"
        )
        langs = list(filters.languages) or None
        after, before = filters.created_after, filters.created_before
        args += (langs, langs, after, after, before, before)
    return sql, args


def nearest_units(
    conn: psycopg.Connection,
    vector: np.ndarray,
    *,
    tenant: str,
    limit: int,
    filters: Filters | None = None,
    ef_search: int = 100,
) -> list[tuple[str, int]]:
    """(video id, ordinal) of the ``limit`` units nearest to ``vector`` on the HNSW index."""
    depth = limit
    where, args = _scope(filters or Filters())
    with conn.transaction():
        # iterative scans keep filtered queries from returning fewer than `depth` rows
        conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true)",
            (str(max(ef_search, depth)),),
        )
        rows = conn.execute(
            "SELECT s.video_id, s.ordinal FROM segments s"
            f" WHERE s.tenant = %s{where} ORDER BY s.embedding <=> %s LIMIT %s",
            (tenant, *args, vector, depth),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


# Text search configurations (stemming, stop words) are per unit: its video's language
# (vystra_ts_config, migration 0016). {cfg} is a configuration expression.
_ALL_TERMS = "plainto_tsquery({cfg}, %s)"
# any term: an OR of the query's stemmed lexemes ('simple' keeps them as they are)
_ANY_TERM = (
    "(SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | '))"
    " FROM unnest(to_tsvector({cfg}, %s)))"
)


def _configs(conn: psycopg.Connection, tenant: str, filters: Filters) -> list[str]:
    """The text search configurations of the tenant's (filtered) videos: a few at most."""
    langs = list(filters.languages) or None
    # distinct languages first: mapping each video's language costs a catalog lookup
    rows = conn.execute(
        "SELECT vystra_ts_config(language)::text FROM (SELECT DISTINCT language FROM videos"
        " WHERE tenant = %s AND (%s::text[] IS NULL OR language = ANY(%s::text[]))) l",
        (tenant, langs, langs),
    ).fetchall()
    return sorted({r[0] for r in rows})


def _keyword_ids(conn, query, tenant, depth, filters, any_term) -> list[tuple[str, int]]:
    """Units containing all the query's terms, then (if too few, and ``any_term``) any.

    Matching all terms first keeps common words from pulling thousands of rows into ranking.
    """
    configs = _configs(conn, tenant, filters)
    if not configs:
        return []
    found = _keyword_query(conn, _ALL_TERMS, query, tenant, depth, filters, configs)
    if any_term and len(found) < depth:
        seen = set(found)
        more = _keyword_query(conn, _ANY_TERM, query, tenant, depth, filters, configs)
        found += [k for k in more if k not in seen][: depth - len(found)]
    return found


def _keyword_query(
    conn, tsquery_sql, query, tenant, depth, filters, configs
) -> list[tuple[str, int]]:
    where, args = _scope(filters)
    # one indexable condition per configuration in use, each with its own stemmed query
    match = " OR ".join(
        "(s.ts_config = %s::regconfig AND s.tsv @@ " + tsquery_sql.format(cfg="%s::regconfig") + ")"
        for _ in configs
    )
    match_args = [a for cfg in configs for a in (cfg, cfg, query)]
    rank = tsquery_sql.format(cfg="s.ts_config")
    rows = conn.execute(
        "SELECT s.video_id, s.ordinal FROM segments s"
        f" WHERE ({match}) AND s.tenant = %s{where}"
        f" ORDER BY ts_rank_cd(s.tsv, {rank}, 1) DESC, s.video_id, s.ordinal LIMIT %s",
        (*match_args, tenant, *args, query, depth),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _load(conn, keys, tenant, query, vector) -> list[_Candidate]:
    """Everything ranking needs about each candidate, in one round trip."""
    rows = conn.execute(
        "SELECT s.video_id, s.ordinal, v.title, v.source, v.language, s.start_s, s.end_s,"
        " s.text, s.word_starts, s.word_offsets, s.sentence_vectors,"
        " CASE WHEN %s::vector IS NULL THEN 0 ELSE 1 - (s.embedding <=> %s::vector) END,"
        " ts_rank_cd(s.tsv, plainto_tsquery(s.ts_config, %s), 1),"
        " (SELECT coalesce(array_agg(cardinality(t.positions)), '{}') FROM unnest(s.tsv) t"
        "  WHERE t.lexeme = ANY(qt.terms)), qt.terms, s.ts_config::text, s.modality"
        " FROM unnest(%s::text[], %s::int[]) AS k(video_id, ordinal)"
        " JOIN segments s ON s.video_id = k.video_id AND s.ordinal = k.ordinal"
        " JOIN videos v ON v.id = s.video_id,"
        # OFFSET 0 keeps the planner from inlining the query's terms into the filter above,
        # which would parse the query again for every lexeme of every candidate
        " LATERAL (SELECT coalesce(tsvector_to_array(to_tsvector(s.ts_config, %s)), '{}')"
        "  AS terms OFFSET 0) qt WHERE s.tenant = %s",
        (
            vector,
            vector,
            query,
            [k[0] for k in keys],
            [k[1] for k in keys],
            query,
            tenant,
        ),
    ).fetchall()
    return [
        _Candidate(
            video_id=r[0],
            ordinal=r[1],
            title=r[2],
            source=r[3],
            language=r[4],
            start=r[5],
            end=r[6],
            text=r[7],
            word_starts=r[8],
            word_offsets=r[9],
            sentence_vectors=r[10],
            cosine=float(r[11]),
            rank=float(r[12]),
            term_counts=list(r[13]),
            terms=list(r[14]),
            config=r[15],
            modality=Modality(r[16]),
        )
        for r in rows
    ]


def _collapse(ranked: list[_Candidate]) -> list[list[_Candidate]]:
    """Group units of one video and modality that overlap a better unit; each group is led by
    its best unit, whose span is the moment's (so moments of one video never overlap, except
    what is shown with what is said)."""
    groups: list[list[_Candidate]] = []
    for cand in ranked:
        span = moments.Span(cand.video_id, cand.start, cand.end)
        home = next(
            (
                g
                for g in groups
                if g[0].modality == cand.modality
                and moments.overlaps(moments.Span(g[0].video_id, g[0].start, g[0].end), span)
            ),
            None,
        )
        if home is None:
            groups.append([cand])
        else:
            home.append(cand)
    return groups


def _sentence_cosines(embedder, vector, cands, per_unit, embed_missing) -> np.ndarray:
    """Query/sentence cosines from the vectors stored at ingest; units stored without them
    are embedded now if ``embed_missing``, else get the unit's own cosine."""
    parts, missing = [], []
    for cand, unit in zip(cands, per_unit, strict=True):
        stored = cand.sentence_vectors
        if stored and len(stored) == len(unit) * (4 + len(vector)):
            parts.append(moments.unpack_vectors(stored, len(vector)) @ vector)
        else:
            parts.append(np.full(len(unit), cand.cosine, dtype=np.float32))
            missing.append(len(parts) - 1)
    if embed_missing and missing and embedder is not None:
        texts = [s.text for i in missing for s in per_unit[i]]
        fresh = embedder.embed(texts) @ vector
        n = 0
        for i in missing:
            parts[i] = fresh[n : n + len(per_unit[i])]
            n += len(per_unit[i])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _score_sentences(conn, embedder, vector, mode, cands, embed_missing=True) -> None:
    """Find each candidate's sentence that best matches the query: its start becomes the
    moment's start, and its similarity joins the unit's in ranking (a unit of several topics
    matches a precise question through its one answering sentence)."""
    per_unit = [moments.sentences(c.text, c.word_starts, c.word_offsets) for c in cands]
    flat = [s.text for unit in per_unit for s in unit]
    cosines = np.zeros(len(flat), dtype=np.float32)
    if mode is not Mode.keyword and vector is not None and flat:
        cosines = _sentence_cosines(embedder, vector, cands, per_unit, embed_missing)
    overlap = [0.0] * len(flat)
    if flat and mode is not Mode.semantic:
        configs = [c.config for c, unit in zip(cands, per_unit, strict=True) for _ in unit]
        terms = [c.terms for c, unit in zip(cands, per_unit, strict=True) for _ in unit]
        rows = conn.execute(
            "SELECT cardinality(ARRAY(SELECT unnest(tsvector_to_array(to_tsvector(c, t)))"
            " INTERSECT SELECT unnest(string_to_array(q, ' ')))),"
            " cardinality(string_to_array(q, ' '))"
            " FROM unnest(%s::text[], %s::regconfig[], %s::text[]) WITH ORDINALITY"
            " AS u(t, c, q, n) ORDER BY n",
            (flat, configs, [" ".join(t) for t in terms]),
        ).fetchall()
        overlap = [r[0] / r[1] if r[1] else 0.0 for r in rows]
    n = 0
    for cand, unit in zip(cands, per_unit, strict=True):
        scores = [float(cosines[n + i]) + overlap[n + i] for i in range(len(unit))]
        # ties (keyword mode: equal overlap) go to the earliest sentence
        best = max(range(len(unit)), key=lambda i: (scores[i], -i), default=None)
        if best is not None:
            cand.sentence_cosine = float(cosines[n + best])
            start = unit[best].start
            cand.moment_start = cand.start if start is None else max(cand.start, start)
        n += len(unit)


def _highlights(conn, texts: list[str], configs: list[str], query: str) -> list[str]:
    if not texts:
        return []
    rows = conn.execute(
        f"SELECT (SELECT CASE WHEN q IS NULL THEN t ELSE ts_headline(c, t, q,"
        "  'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', HighlightAll=true') END"
        f"  FROM (SELECT {_ANY_TERM.format(cfg='c')} AS q) any_term)"
        " FROM unnest(%s::text[], %s::regconfig[]) WITH ORDINALITY AS u(t, c, n) ORDER BY n",
        (
            query,
            [t.replace(moments.MARK_OPEN, "").replace(moments.MARK_CLOSE, "") for t in texts],
            configs,
        ),
    ).fetchall()
    return [moments.highlight_html(r[0]) for r in rows]


def _frames(conn, video_ids: list[str], starts: list[float]) -> list[float | None]:
    """The time of each moment's keyframe: the last at or before its start."""
    if not video_ids:
        return []
    rows = conn.execute(
        "SELECT (SELECT f.t FROM keyframes f WHERE f.video_id = k.id"
        "  AND f.t <= k.start + 0.001 ORDER BY f.t DESC LIMIT 1)"
        " FROM unnest(%s::text[], %s::float8[]) WITH ORDINALITY AS k(id, start, n) ORDER BY n",
        (video_ids, starts),
    ).fetchall()
    return [r[0] for r in rows]


def _cursor_key(query: str, mode: Mode, filters: Filters, rerank: bool) -> str:
    text = json.dumps(
        [
            query,
            mode.value,
            rerank,
            sorted(filters.video_ids),
            sorted(filters.languages),
            sorted(filters.modalities),
            str(filters.created_after),
            str(filters.created_before),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode_cursor(offset: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "k": key}).encode()).decode()


def decode_cursor(cursor: str, key: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        offset, cursor_key = int(data["o"]), data["k"]
    except (ValueError, KeyError, TypeError):
        raise VystraError("the cursor is not one this search returned") from None
    if cursor_key != key or not 0 <= offset < MAX_DEPTH:
        raise VystraError("the cursor belongs to a different search; start again without it")
    return offset


def search_page(
    conn: psycopg.Connection,
    embedder: Embedder | None,
    query: str,
    *,
    tenant: str,
    mode: Mode | str = Mode.hybrid,
    limit: int = 10,
    filters: Filters | None = None,
    cursor: str | None = None,
    ef_search: int = 100,
    rerank: bool = True,
) -> Page:
    """Find the moments that answer ``query`` in the tenant's videos, best first.

    Args:
        conn: a connection with pgvector types registered, not in autocommit (the pool's).
        embedder: embeds the query and sentences with the same model as the segments (unused,
            and may be None, in keyword mode).
        query: plain language, 1 to MAX_QUERY_CHARS characters.
        tenant: only this tenant's segments are searched.
        mode: semantic, keyword or hybrid.
        limit: moments per page, 1 to MAX_LIMIT.
        filters: restrict to some videos, languages or creation dates.
        cursor: the ``next_cursor`` of the previous page of this same search.
        ef_search: HNSW candidate list size; higher is slower and more exact.
        rerank: reorder the best candidates by their best-matching sentence (semantic and
            hybrid); off, by the whole unit. Links start at the best sentence either way.

    Raises :class:`~vystra.db.searchindex.IndexChanged` if ``embedder`` is not the model the
    index holds (a re-index switched it): load that one and search again.
    """
    query = query.strip()
    if not query:
        raise VystraError("the search query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise VystraError(f"the search query is longer than {MAX_QUERY_CHARS} characters")
    if not 1 <= limit <= MAX_LIMIT:
        raise VystraError(f"limit must be between 1 and {MAX_LIMIT}")
    try:
        mode = Mode(mode)
    except ValueError:
        raise VystraError(
            f"unknown search mode {mode!r}: use semantic, keyword or hybrid"
        ) from None
    filters = filters or Filters()
    key = _cursor_key(query, mode, filters, rerank)
    offset = decode_cursor(cursor, key) if cursor else 0
    if mode is not Mode.keyword and embedder is None:
        raise VystraError(f"{mode.value} search needs the embedding model")
    vector = embedder.embed_query(query) if mode is not Mode.keyword and embedder else None
    if vector is not None and embedder is not None:
        # one index model throughout: the check's lock lasts as long as the caller's transaction
        searchindex.check(conn, embedder.name, writing=False)
    # overlapping units collapse (about two per moment), so look deeper than the page
    depth = min(max((offset + limit) * 3, 30), MAX_DEPTH * 3)
    semantic_ids = (
        nearest_units(
            conn, vector, tenant=tenant, limit=depth, filters=filters, ef_search=ef_search
        )
        if vector is not None
        else []
    )
    keyword_ids = (
        _keyword_ids(conn, query, tenant, depth, filters, any_term=mode is Mode.keyword)
        if mode is not Mode.semantic
        else []
    )
    keys = list(dict.fromkeys(semantic_ids + keyword_ids))
    if not keys:
        return Page([])
    cands = _load(conn, keys, tenant, query, vector)
    rrf = {k: 0.0 for k in keys}
    for ranking in (semantic_ids, keyword_ids):
        for rank, k in enumerate(ranking, start=1):
            rrf[k] += 1.0 / (RRF_K + rank)

    def rate(c: _Candidate) -> None:
        cosine = moments.passage_cosine(c.cosine, c.sentence_cosine)
        sem = embedder.relevance(cosine) if embedder else moments.semantic_relevance(cosine)
        kw = moments.keyword_relevance(c.term_counts, len(c.terms))
        if mode is Mode.semantic:
            c.relevance, c.score = sem, c.cosine
        elif mode is Mode.keyword:
            c.relevance, c.score = kw, c.rank
        else:
            c.relevance, c.score = moments.hybrid_relevance(sem, kw), rrf[(c.video_id, c.ordinal)]

    def order(c: _Candidate) -> tuple:
        return (-c.relevance, -c.score, c.video_id, c.ordinal)

    for c in cands:
        rate(c)
    cands.sort(key=order)
    if mode is not Mode.keyword and rerank:
        # rerank the best candidates by their best sentence (a fixed depth, so pages agree)
        # units stored before sentence vectors existed keep their rank; their start is found below
        top = [c for c in cands[:RERANK_DEPTH] if c.sentence_vectors]
        _score_sentences(conn, embedder, vector, mode, top, embed_missing=False)
        for c in top:
            rate(c)
        cands.sort(key=order)
    groups = _collapse(cands)
    page = groups[offset : offset + limit]
    leads = [g[0] for g in page]
    # moments not placed by the rerank; units without word times (stored before #14, or from a
    # transcriber that gives none) cannot start anywhere but at their start
    unplaced = [c for c in leads if c.moment_start is None and c.word_starts]
    _score_sentences(conn, embedder, vector, mode, unplaced)
    starts = [c.start if c.moment_start is None else c.moment_start for c in leads]
    highlights = _highlights(conn, [c.text for c in leads], [c.config for c in leads], query)
    frames = _frames(conn, [c.video_id for c in leads], starts)
    hits = []
    for group, start, marked, frame in zip(page, starts, highlights, frames, strict=True):
        lead = group[0]
        hits.append(
            Hit(
                lead.video_id,
                lead.title,
                start,
                lead.end,
                lead.text,
                lead.score,
                deep_link(lead.source, start),
                round(lead.relevance, 4),
                marked,
                lead.start,
                lead.language,
                lead.modality,
                frame,
            )
        )
    more = len(groups) > offset + limit and offset + limit < MAX_DEPTH
    return Page(hits, encode_cursor(offset + limit, key) if more else None)


def search(
    conn: psycopg.Connection,
    embedder: Embedder | None,
    query: str,
    *,
    tenant: str,
    mode: Mode | str = Mode.hybrid,
    limit: int = 10,
    video_ids: Sequence[str] | None = None,
    modalities: Sequence[Modality] | None = None,
    ef_search: int = 100,
    rerank: bool = True,
) -> list[Hit]:
    """The first page of :func:`search_page`, filtered to ``video_ids`` and ``modalities``
    if given."""
    return search_page(
        conn,
        embedder,
        query,
        tenant=tenant,
        mode=mode,
        limit=limit,
        filters=Filters(video_ids=tuple(video_ids or ()), modalities=tuple(modalities or ())),
        ef_search=ef_search,
        rerank=rerank,
    ).hits


__all__ = ["Filters", "Hit", "Mode", "Page", "deep_link", "nearest_units", "search", "search_page"]
