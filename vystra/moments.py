"""From matching search units to moments a person reads: one relevance scale for every mode,
overlapping units merged, the start moved to the sentence that answers, matches highlighted.

Relevance is 0–1 and means the same in every mode:
- semantic: the query/unit cosine through a logistic calibrated on the retrieval evaluation
  (benchmarks/retrieval_eval.py) for the packaged MiniLM: an unrelated passage scores under 0.1,
  a paraphrase of the answer above 0.8;
- keyword: how much of the query the unit says, each query term counting ``tf / (tf + 0.25)``
  (a BM25-style saturation: the first occurrence matters most);
- hybrid: the semantic relevance, raised toward 1 by half the keyword relevance (a noisy-or), so
  exact words confirm a meaning match but never outweigh it.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

COSINE_MIDPOINT = 0.35  # cosine that maps to relevance 0.5
COSINE_SCALE = 0.07  # logistic width: +0.15 cosine is about 0.9
KEYWORD_SATURATION = 0.25
HYBRID_KEYWORD_WEIGHT = 0.5

# characters ts_headline wraps around matches; never in transcript text (escaped before use)
MARK_OPEN, MARK_CLOSE = "\x01", "\x02"

_SENTENCE = re.compile(r"[^.?!。？！]*(?:[.?!。？！]+|$)")


SENTENCE_WEIGHT = 0.5  # share of the best sentence in a unit's similarity to the query


def passage_cosine(unit: float, sentence: float | None) -> float:
    """A unit's similarity to the query, from the whole unit's and its best sentence's."""
    if sentence is None:
        return unit
    return (1 - SENTENCE_WEIGHT) * unit + SENTENCE_WEIGHT * max(unit, sentence)


def semantic_relevance(
    cosine: float, midpoint: float = COSINE_MIDPOINT, scale: float = COSINE_SCALE
) -> float:
    return 1.0 / (1.0 + math.exp(-(cosine - midpoint) / scale))


def keyword_relevance(term_counts: Sequence[int], query_terms: int) -> float:
    """``term_counts``: occurrences in the unit of each query term it contains."""
    if query_terms <= 0:
        return 0.0
    saturated = sum(tf / (tf + KEYWORD_SATURATION) for tf in term_counts if tf > 0)
    return min(1.0, saturated / query_terms)


def hybrid_relevance(semantic: float, keyword: float) -> float:
    return semantic + (1.0 - semantic) * HYBRID_KEYWORD_WEIGHT * keyword


@dataclass(frozen=True)
class Sentence:
    text: str
    offset: int  # first character in the unit's text
    start: float | None  # when its first word is spoken; None without word times


def sentences(
    text: str, word_starts: Sequence[float] | None, word_offsets: Sequence[int] | None
) -> list[Sentence]:
    """The unit's sentences, each with the time of its first word."""
    found: list[Sentence] = []
    starts, offsets = list(word_starts or ()), list(word_offsets or ())
    for match in _SENTENCE.finditer(text):
        body = match.group().strip()
        if not body:
            continue
        offset = match.start() + (len(match.group()) - len(match.group().lstrip()))
        end = offset + len(body)
        start = next((s for s, o in zip(starts, offsets, strict=False) if offset <= o < end), None)
        found.append(Sentence(body, offset, start))
    return found


def pack_vectors(matrix: np.ndarray) -> bytes:
    """Unit vectors as int8 with a float32 scale each: a quarter of float32's size, and dot
    products within about 0.01 of the exact ones (plenty for choosing a sentence)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    scale = np.maximum(np.abs(matrix).max(axis=1, initial=0.0), 1e-12) / 127.0
    q = np.round(matrix / scale[:, None]).astype(np.int8)
    rows = [scale[i].astype("<f4").tobytes() + q[i].tobytes() for i in range(len(matrix))]
    return b"".join(rows)


def unpack_vectors(data: bytes, dim: int) -> np.ndarray:
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 4 + dim)
    scale = raw[:, :4].copy().view("<f4")[:, 0]
    return raw[:, 4:].copy().view(np.int8).astype(np.float32) * scale[:, None]


def highlight_html(marked: str) -> str:
    """ts_headline output with MARK_OPEN/MARK_CLOSE → escaped HTML with <mark> elements."""
    escaped = html.escape(marked.replace("\x00", ""), quote=False)
    return escaped.replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")


@dataclass(frozen=True)
class Span:
    video_id: str
    start: float
    end: float


def overlaps(a: Span, b: Span) -> bool:
    return a.video_id == b.video_id and a.start < b.end and b.start < a.end
