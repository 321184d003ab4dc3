"""Stage 7, insights: a structured summary of a transcript.

With a Groq key, a chat completion in JSON mode, validated against :class:`Insights` (invalid
output is retried, then reported as :class:`InsightsError`; the transcript is never lost).
Without one, a local extractive version: central sentences for the summary, frequent terms for
keywords, and chapters where the embedding of the talk shifts.

Both use what the visual index saw (:class:`Visuals`): terms shown on screen join the keywords,
the shown text is part of Groq's prompt, and a local chapter starts at the cut of a shot when
one is near.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from vystra.embed import Embedder
from vystra.errors import InsightsError
from vystra.settings import Settings


class Chapter(BaseModel):
    start: float = Field(ge=0, description="Seconds from the start of the video.")
    end: float | None = Field(default=None, ge=0)
    title: str = Field(min_length=1, max_length=200)
    summary: str = ""


class Insights(BaseModel):
    summary: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list, max_length=50)
    topics: list[str] = Field(default_factory=list, max_length=30)
    chapters: list[Chapter] = Field(default_factory=list, max_length=100)
    generator: str = Field(default="", description="Model or method that wrote these insights.")


@dataclass(frozen=True)
class TimedText:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Visuals:
    """What the visual stages found: when shots start, and the text shown on screen."""

    shots: Sequence[float] = ()
    screen: Sequence[TimedText] = ()


SNAP_SECONDS = 5.0  # a chapter starts at a shot's cut this near its topic shift


_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each even few for
    from further get gets got had has have having he her here hers herself him himself his how
    i if in into is it its itself just know let like lot made make many me more most much must
    my myself no nor not now of off on once one only or other our ours ourselves out over own
    really right said same say says see she should so some such than that the their theirs
    them themselves then there these they thing things think this those through to today too
    two under until up us use used using very want was way we well were what when where which
    while who whom why will with would yes yet you your yours yourself yourselves going gonna
    okay oh um uh first next later another every something anything into onto per via still
    back take takes come comes go goes""".split()
)
# letters of any script (Cyrillic, Greek, Arabic, Devanagari, CJK...), not only Latin
_WORD = re.compile(r"[^\W\d_][\w'-]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")


def _terms(text: str) -> list[str]:
    return [
        w
        for w in (m.group().lower().strip("'-") for m in _WORD.finditer(text))
        if len(w) > 2 and w not in _STOPWORDS
    ]


def _grams(text: str) -> list[str]:
    terms = _terms(text)
    return terms + [f"{a} {b}" for a, b in zip(terms, terms[1:], strict=False)]


def _rank(tf: Counter[str], df: Counter[str], n: int, limit: int) -> list[str]:
    """Terms by frequency times inverse passage frequency: words that mark one passage beat
    words spread thinly over all of them. Phrases count extra; one-off words are noise unless
    too few terms repeat."""
    repeated = {t for t, count in tf.items() if count >= 2}
    candidates = repeated if len(repeated) >= limit else {t for t in tf if " " not in t} | repeated
    scored = {
        term: tf[term] * (1.0 + math.log(n / df[term])) * (1.5 if " " in term else 1.0)
        for term in candidates
    }
    chosen: list[str] = []
    for term in sorted(scored, key=lambda t: (-scored[t], t)):
        # skip a word already covered by a chosen phrase, and vice versa
        if not any(term in c.split() or c in term.split() for c in chosen):
            chosen.append(term)
        if len(chosen) == limit:
            break
    return chosen


def keywords(texts: Sequence[str], limit: int = 10) -> list[str]:
    """Distinctive content words and repeated two-word phrases of ``texts``, best first."""
    passages = [Counter(_grams(t)) for t in texts]
    tf: Counter[str] = sum(passages, Counter())
    df: Counter[str] = sum((Counter(p.keys()) for p in passages), Counter())
    return _rank(tf, df, len(passages), limit)


def _titles(parts: Sequence[str], words: int = 3) -> list[str]:
    """For each part, the terms that set it apart from the other parts."""
    passages = [Counter(_grams(t)) for t in parts]
    df: Counter[str] = sum((Counter(p.keys()) for p in passages), Counter())
    return [", ".join(_rank(p, df, len(passages), words)).capitalize() for p in passages]


def _sentences(units: Sequence[TimedText]) -> list[TimedText]:
    out: list[TimedText] = []
    seen: set[str] = set()
    for unit in units:
        for sentence in _SENTENCE.split(unit.text):
            sentence = sentence.strip()
            key = sentence.lower()
            if len(sentence.split()) >= 4 and key not in seen:  # units overlap: skip repeats
                seen.add(key)
                out.append(TimedText(unit.start, unit.end, sentence))
    return out


def _central(vectors: np.ndarray, k: int, diversity: float = 0.5) -> list[int]:
    """Maximal marginal relevance around the centroid: central but not redundant rows."""
    centroid = vectors.mean(axis=0)
    relevance = vectors @ centroid
    picked: list[int] = []
    while len(picked) < min(k, len(vectors)):
        if picked:
            redundancy = (vectors @ vectors[picked].T).max(axis=1)
            score = (1 - diversity) * relevance - diversity * redundancy
        else:
            score = relevance.copy()
        score[picked] = -np.inf
        picked.append(int(score.argmax()))
    return picked


def _chapter_bounds(
    vectors: np.ndarray, units: Sequence[TimedText], min_seconds: float
) -> list[int]:
    """Unit indices that open a chapter: deep dips in similarity between neighbours."""
    if len(units) < 3:
        return [0]
    sims = np.einsum("ij,ij->i", vectors[:-1], vectors[1:])
    # depth of each dip relative to the peaks around it (TextTiling)
    depth = np.array(
        [(sims[: i + 1].max() - sims[i]) + (sims[i:].max() - sims[i]) for i in range(len(sims))]
    )
    threshold = depth.mean() + 0.5 * depth.std()
    bounds = [0]
    for i in np.argsort(-depth):
        nxt = int(i) + 1
        if depth[i] <= threshold or depth[i] <= 0:
            break
        candidate = sorted([*bounds, nxt])
        starts = [units[b].start for b in candidate] + [units[-1].end]
        if all(b - a >= min_seconds for a, b in zip(starts, starts[1:], strict=False)):
            bounds = candidate
    return bounds


def _snap(t: float, shots: Sequence[float]) -> float:
    """The shot cut nearest ``t`` if within SNAP_SECONDS, else ``t``."""
    near = min(shots, key=lambda cut: abs(cut - t), default=None)
    return near if near is not None and abs(near - t) <= SNAP_SECONDS else t


def local_insights(
    units: Sequence[TimedText],
    vectors: np.ndarray,
    embedder: Embedder,
    visuals: Visuals = Visuals(),
) -> Insights:
    """Extractive insights from the transcript units and their embeddings (no network)."""
    if not units:  # a silent video: what it shows is all there is
        return Insights(
            summary="No speech was found in this video.",
            keywords=keywords([t.text for t in visuals.screen]),
            generator="local-extractive",
        )
    sentences = _sentences(units) or [TimedText(u.start, u.end, u.text) for u in units]
    sentence_vectors = embedder.embed([s.text for s in sentences])
    chosen = sorted(_central(sentence_vectors, 3))
    summary = " ".join(sentences[i].text for i in chosen)

    duration = units[-1].end - units[0].start
    bounds = _chapter_bounds(vectors, units, min_seconds=max(30.0, duration / 12))
    spans = [
        (b, bounds[n + 1] if n + 1 < len(bounds) else len(units)) for n, b in enumerate(bounds)
    ]
    titles = _titles([" ".join(u.text for u in units[a:b]) for a, b in spans])
    chapters = [
        Chapter(
            start=units[a].start if n == 0 else _snap(units[a].start, visuals.shots),
            end=units[b - 1].end,
            title=title or f"Part {n + 1}",
            summary=_SENTENCE.split(units[a + _central(vectors[a:b], 1)[0]].text.strip())[0],
        )
        for n, ((a, b), title) in enumerate(zip(spans, titles, strict=True))
    ]
    topics = list(dict.fromkeys(t.split(",")[0].lower() for t in titles if t))
    return Insights(
        summary=summary,
        keywords=keywords([s.text for s in sentences] + [t.text for t in visuals.screen]),
        topics=topics,
        chapters=chapters,
        generator="local-extractive",
    )


_SYSTEM_PROMPT = """You write structured insights about a video from its time-coded transcript.
Answer with one JSON object and nothing else, with exactly these keys:
"summary": 2-4 sentences on what the video says;
"keywords": up to 10 short keywords;
"topics": up to 6 broad topics;
"chapters": a list of {"start": seconds (number, taken from the transcript's timestamps),
"end": seconds, "title": a short title, "summary": one sentence}, in time order."""

MAX_PROMPT_CHARS = 60_000  # keeps long talks inside the model's context window


def _timed_lines(units: Sequence[TimedText], budget: int) -> str:
    lines = [f"[{u.start:.1f}-{u.end:.1f}] {' / '.join(u.text.splitlines())}" for u in units]
    text = "\n".join(lines)
    if len(text) > budget:
        step = len(lines) / (budget / (len(text) / len(lines)))
        text = "\n".join(lines[int(i * step)] for i in range(int(len(lines) / step)))
    return text


def _transcript_prompt(units: Sequence[TimedText], visuals: Visuals = Visuals()) -> str:
    if not visuals.screen:
        return _timed_lines(units, MAX_PROMPT_CHARS)
    # what was shown gets a quarter of the room at most
    shown = _timed_lines(visuals.screen, MAX_PROMPT_CHARS // 4)
    said = _timed_lines(units, MAX_PROMPT_CHARS - len(shown))
    return f"Transcript:\n{said}\n\nText shown on screen:\n{shown}"


def groq_insights(
    units: Sequence[TimedText], settings: Settings, client=None, visuals: Visuals = Visuals()
) -> Insights:
    """Ask Groq for insights, retrying invalid answers ``settings.insights_attempts`` times."""
    if client is None:
        from groq import Groq

        client = Groq(api_key=settings.groq_api_key, base_url=settings.groq_base_url, max_retries=2)
    messages = [
        {"role": "system", "content": _SYSTEM_PROMPT},
        {"role": "user", "content": _transcript_prompt(units, visuals)},
    ]
    problem = "no attempt made"
    for _ in range(settings.insights_attempts):
        try:
            reply = client.chat.completions.create(
                model=settings.groq_chat_model,
                messages=messages,
                response_format={"type": "json_object"},
                temperature=0.2,
            )
            content = reply.choices[0].message.content or ""
            data = json.loads(content)
            if not isinstance(data, dict):
                raise ValueError("the answer is not a JSON object")
            data["generator"] = f"groq:{settings.groq_chat_model}"
            return Insights.model_validate(data)
        except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
            problem = f"invalid insights JSON: {str(exc).splitlines()[0]}"
        except Exception as exc:  # groq.APIError and transport errors
            problem = f"Groq request failed: {exc}"
    raise InsightsError(f"{problem} (after {settings.insights_attempts} attempts)")


def generate_insights(
    units: Sequence[TimedText],
    vectors: np.ndarray,
    embedder: Embedder,
    settings: Settings,
    visuals: Visuals = Visuals(),
) -> Insights:
    if settings.groq_api_key and units:
        return groq_insights(units, settings, visuals=visuals)
    return local_insights(units, vectors, embedder, visuals)


def insights_or_failure(
    units: Sequence[TimedText],
    vectors: np.ndarray,
    embedder: Embedder,
    settings: Settings,
    visuals: Visuals = Visuals(),
) -> tuple[dict[str, Any], str]:
    """Insights and their status; a failure is recorded, never raised: the transcript stays."""
    try:
        insights = generate_insights(units, vectors, embedder, settings, visuals)
        return insights.model_dump(), "ready"
    except InsightsError as exc:
        return {"error": str(exc)}, "failed"
