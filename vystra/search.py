"""Stage 8, search: plain-language queries to exact moments.

``semantic`` ranks by cosine distance on the HNSW index, ``keyword`` by full-text rank on the
GIN index, ``hybrid`` fuses both rankings with reciprocal rank fusion (RRF), which needs no
score calibration between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from urllib.parse import quote, urlparse

import numpy as np
import psycopg

from vystra.embed import Embedder
from vystra.errors import VystraError

MAX_QUERY_CHARS = 1000
MAX_LIMIT = 200
RRF_K = 60  # the constant from Cormack et al.; damps the weight of top ranks


class Mode(StrEnum):
    semantic = "semantic"
    keyword = "keyword"
    hybrid = "hybrid"


@dataclass(frozen=True)
class Hit:
    video_id: str
    title: str
    start: float
    end: float
    text: str
    score: float
    link: str


def deep_link(source: str, start: float) -> str:
    """A URL that plays from ``start`` (media fragment syntax)."""
    if not urlparse(source).scheme or PurePosixPath(source).is_absolute():
        source = "file://" + quote(source)
    return f"{source}#t={start:.1f}"


def _scope(video_ids: Sequence[str] | None) -> tuple[str, tuple]:
    if video_ids:
        return " AND s.video_id = ANY(%s)", (list(video_ids),)
    return "", ()


def semantic(
    conn: psycopg.Connection,
    vector: np.ndarray,
    *,
    tenant: str,
    limit: int,
    video_ids: Sequence[str] | None = None,
    ef_search: int = 100,
) -> list[Hit]:
    where, args = _scope(video_ids)
    with conn.transaction():
        # iterative scans keep filtered queries from returning fewer than `limit` rows
        conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true)",
            (str(max(ef_search, limit)),),
        )
        rows = conn.execute(
            "SELECT n.video_id, v.title, v.source, n.start_s, n.end_s, n.text, 1 - n.distance"
            " FROM (SELECT s.video_id, s.start_s, s.end_s, s.text,"
            "       s.embedding <=> %s AS distance FROM segments s"
            f"      WHERE s.tenant = %s{where} ORDER BY distance LIMIT %s) n"
            " JOIN videos v ON v.id = n.video_id ORDER BY n.distance",
            (vector, tenant, *args, limit),
        ).fetchall()
    return [_hit(r) for r in rows]


_ALL_TERMS = "plainto_tsquery('english', %s)"
# any term: an OR of the query's stemmed lexemes ('simple' keeps them as they are)
_ANY_TERM = (
    "(SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | '))"
    " FROM unnest(to_tsvector('english', %s)))"
)


def keyword(
    conn: psycopg.Connection,
    query: str,
    *,
    tenant: str,
    limit: int,
    video_ids: Sequence[str] | None = None,
    any_term: bool = True,
) -> list[Hit]:
    """Segments containing all the query's terms, then (if too few, and ``any_term``) any.

    Matching all terms first keeps common words from pulling thousands of rows into ranking.
    """
    hits = _keyword(conn, _ALL_TERMS, query, tenant, limit, video_ids)
    if any_term and len(hits) < limit:
        seen = {(h.video_id, h.start) for h in hits}
        more = _keyword(conn, _ANY_TERM, query, tenant, limit, video_ids)
        hits += [h for h in more if (h.video_id, h.start) not in seen][: limit - len(hits)]
    return hits


def _keyword(
    conn: psycopg.Connection,
    tsquery_sql: str,
    query: str,
    tenant: str,
    limit: int,
    video_ids: Sequence[str] | None,
) -> list[Hit]:
    where, args = _scope(video_ids)
    rows = conn.execute(
        f"WITH q AS (SELECT {tsquery_sql} AS q)"
        " SELECT s.video_id, v.title, v.source, s.start_s, s.end_s, s.text,"
        "        ts_rank_cd(s.tsv, q.q, 1) AS score"
        " FROM segments s JOIN videos v ON v.id = s.video_id, q"
        f" WHERE q.q IS NOT NULL AND s.tsv @@ q.q AND s.tenant = %s{where}"
        " ORDER BY score DESC, s.video_id, s.ordinal LIMIT %s",
        (query, tenant, *args, limit),
    ).fetchall()
    return [_hit(r) for r in rows]


def hybrid(semantic_hits: Sequence[Hit], keyword_hits: Sequence[Hit], limit: int) -> list[Hit]:
    """Reciprocal rank fusion of two rankings of the same segments."""
    fused: dict[tuple[str, float], float] = {}
    by_key: dict[tuple[str, float], Hit] = {}
    for ranking in (semantic_hits, keyword_hits):
        for rank, hit in enumerate(ranking, start=1):
            key = (hit.video_id, hit.start)
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
            by_key.setdefault(key, hit)
    order = sorted(fused, key=lambda k: -fused[k])[:limit]
    return [_with_score(by_key[k], fused[k]) for k in order]


def search(
    conn: psycopg.Connection,
    embedder: Embedder | None,
    query: str,
    *,
    tenant: str,
    mode: Mode | str = Mode.hybrid,
    limit: int = 10,
    video_ids: Sequence[str] | None = None,
    ef_search: int = 100,
) -> list[Hit]:
    """Find the moments that answer ``query`` in the tenant's videos.

    Args:
        conn: a connection with pgvector types registered.
        embedder: embeds the query with the same model as the segments (unused, and may
            be None, in keyword mode).
        query: plain language, 1 to MAX_QUERY_CHARS characters.
        tenant: only this tenant's segments are searched.
        mode: semantic, keyword or hybrid.
        limit: results to return, 1 to MAX_LIMIT.
        video_ids: restrict to these videos.
        ef_search: HNSW candidate list size; higher is slower and more exact.
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
    if mode is Mode.keyword:
        return keyword(conn, query, tenant=tenant, limit=limit, video_ids=video_ids)
    if embedder is None:
        raise VystraError(f"{mode.value} search needs the embedding model")
    vector = embedder.embed_one(query)
    if mode is Mode.semantic:
        return semantic(
            conn, vector, tenant=tenant, limit=limit, video_ids=video_ids, ef_search=ef_search
        )
    depth = max(limit * 3, 30)
    return hybrid(
        semantic(
            conn, vector, tenant=tenant, limit=depth, video_ids=video_ids, ef_search=ef_search
        ),
        # semantic ranking already covers partial matches: only exact term matches are fused
        keyword(conn, query, tenant=tenant, limit=depth, video_ids=video_ids, any_term=False),
        limit,
    )


def _hit(row: tuple) -> Hit:
    video_id, title, source, start, end, text, score = row
    return Hit(video_id, title, start, end, text, float(score), deep_link(source, start))


def _with_score(hit: Hit, score: float) -> Hit:
    return Hit(hit.video_id, hit.title, hit.start, hit.end, hit.text, score, hit.link)
