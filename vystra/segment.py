"""Stage 4, segment: merge Whisper segments into search units of about ``target`` seconds.

Whisper's own segments are often a few words long: too little context to embed well. Units
are built from whole segments, so their start and end are exact transcript times; consecutive
units share up to ``overlap`` seconds of speech so a moment that straddles a boundary is still
found whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from vystra.transcribe import Segment, Word


class Modality(StrEnum):
    """Where a unit's text comes from: what is said, or what is shown (vystra.visual)."""

    speech = "speech"
    screen = "screen"


@dataclass(frozen=True)
class Chunk:
    """A search unit. ``word_starts[i]`` is when the word at character ``word_offsets[i]`` of
    ``text`` is spoken (both empty when the transcriber gave no word times), so a result can
    start at the words that answer rather than at the unit's start."""

    ordinal: int
    start: float
    end: float
    text: str
    word_starts: tuple[float, ...] = ()
    word_offsets: tuple[int, ...] = ()


@dataclass(frozen=True)
class SegmentOptions:
    """How transcript sentences are grouped into search units.

    Attributes:
        target_seconds: a unit closes once it spans this long.
        overlap_seconds: speech at the end of a unit that the next unit repeats.
        pause_seconds: a silence this long closes a unit early (once it is half the target),
            since pauses tend to separate topics.
    """

    target_seconds: float = 15.0
    overlap_seconds: float = 3.0
    pause_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.target_seconds <= 0:
            raise ValueError("target_seconds must be positive")
        if not 0 <= self.overlap_seconds < self.target_seconds:
            raise ValueError("overlap_seconds must be at least 0 and below target_seconds")
        if self.pause_seconds <= 0:
            raise ValueError("pause_seconds must be positive")


_SENTENCE_END = (".", "?", "!", "。", "？", "！")


def split_sentences(segment: Segment, max_seconds: float) -> list[Segment]:
    """Cut a Whisper segment at sentence ends, and anything longer than ``max_seconds`` at
    word boundaries, using word timings (a segment without them is returned whole).

    Whisper segments often join the end of one sentence to the start of the next; cutting
    them lets units start where a sentence starts.
    """
    if not segment.words:
        return [segment]
    parts: list[Segment] = []
    current: list[Word] = []
    for word in segment.words:
        if current and word.end - current[0].start > max_seconds:
            parts.append(_from_words(current))
            current = []
        current.append(word)
        if word.word.strip().endswith(_SENTENCE_END):
            parts.append(_from_words(current))
            current = []
    if current:
        parts.append(_from_words(current))
    return parts


def _from_words(words: list[Word]) -> Segment:
    text = "".join(w.word for w in words).strip()
    return Segment(words[0].start, words[-1].end, text, tuple(words))


def chunk_segments(
    segments: Iterable[Segment], options: SegmentOptions, first_ordinal: int = 0
) -> Iterator[Chunk]:
    """Yield search units as soon as each is complete (the input may be a live stream);
    ``first_ordinal``: where a resumed ingest goes on numbering."""
    window: list[Segment] = []
    fresh = 0  # segments in the window not yet part of any emitted unit
    ordinal = first_ordinal
    for whisper_segment in segments:
        for segment in split_sentences(whisper_segment, options.target_seconds):
            if (
                fresh
                and segment.start - window[-1].end >= options.pause_seconds
                and window[-1].end - window[0].start >= options.target_seconds / 2
            ):
                yield _unit(ordinal, window)  # close at the pause; nothing carries across it
                ordinal += 1
                window, fresh = [], 0
            window.append(segment)
            fresh += 1
            if window[-1].end - window[0].start < options.target_seconds:
                continue
            yield _unit(ordinal, window)
            ordinal += 1
            # carry the tail inside the overlap, always dropping at least the first segment
            cut = window[-1].end - options.overlap_seconds
            window = [s for s in window[1:] if s.start >= cut]
            fresh = 0
    if fresh:
        yield _unit(ordinal, window)


def _unit(ordinal: int, window: list[Segment]) -> Chunk:
    text = " ".join(s.text for s in window).strip()
    starts: list[float] = []
    offsets: list[int] = []
    if all(s.words for s in window):
        cursor = 0
        for word in (w for s in window for w in s.words):
            token = word.word.strip()
            found = text.find(token, cursor) if token else -1
            if found < 0:
                continue  # a word Whisper timed but whose text was normalised away
            starts.append(round(word.start, 2))
            offsets.append(found)
            cursor = found + len(token)
    return Chunk(ordinal, window[0].start, window[-1].end, text, tuple(starts), tuple(offsets))
