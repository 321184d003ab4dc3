"""Resuming an interrupted ingest where its stored units end, instead of from zero.

A pod preempted or reclaimed (spot), a worker stopped, a crash: the next attempt of the same
bytes with the same options keeps the units already stored (contiguous from ordinal 0, ending
where the stored progress ends), decodes and transcribes only the audio after them, numbers
new units on from there, and keeps the transcript up to that point, cut at word level where the
transcriber timed words, so no word is lost or repeated at the seam.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from vystra.segment import Chunk
from vystra.transcribe import Segment, Word

TranscriptEntry = list  # [start, end, text, [[start, end, word], ...]] as videos.transcript


@dataclass(frozen=True)
class Resume:
    units: list[Chunk]  # stored by the earlier attempt, ordinals 0..n-1
    vectors: np.ndarray  # their stored embeddings, for insights over the whole video
    transcript: list[TranscriptEntry]  # up to ``offset``
    language: str | None  # what the earlier attempt detected: the rest is transcribed alike

    @property
    def offset(self) -> float:
        return self.units[-1].end


def resume_from(
    stored: tuple[list[Chunk], np.ndarray],
    transcript: Iterable[TranscriptEntry],
    language: str | None,
) -> Resume | None:
    """``stored``: what :func:`vystra.db.store.committed_units` found (units, embeddings)."""
    units, vectors = stored
    if not units:
        return None
    return Resume(units, vectors, trim_transcript(transcript, units[-1].end), language)


def trim_transcript(entries: Iterable[TranscriptEntry], offset: float) -> list[TranscriptEntry]:
    """The transcript spoken before ``offset``: whole entries before it, and of an entry that
    straddles it the words that start before it."""
    kept: list[TranscriptEntry] = []
    for start, end, text, *rest in entries:
        words = rest[0] if rest else []
        if end <= offset:
            kept.append([start, end, text, words])
        elif start < offset and words:
            before = [w for w in words if w[0] < offset]
            if before:
                spoken = "".join(w[2] for w in before).strip()
                kept.append([start, before[-1][1], spoken, before])
    return kept


def shifted(segments: Iterable[Segment], offset: float) -> Iterator[Segment]:
    """Segments of the audio after ``offset``, on the whole video's clock."""
    for s in segments:
        words = tuple(Word(w.start + offset, w.end + offset, w.word) for w in s.words)
        yield Segment(round(s.start + offset, 3), round(s.end + offset, 3), s.text, words)
