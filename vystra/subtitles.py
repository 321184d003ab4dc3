"""Subtitles (SRT and WebVTT) from a transcript.

Cues follow common subtitle conventions (the BBC's and Netflix's guidelines): at most two
lines of at most 42 characters, on screen for at most 7 seconds. A long transcript segment is
split into several cues at word times when the transcriber gave them (preferring a break after
punctuation), or in proportion to characters otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vystra.db.store import StoredSegment

MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_SECONDS = 7.0


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def wrap(text: str) -> tuple[str, ...] | None:
    """``text`` as at most MAX_LINES balanced lines of at most MAX_LINE_CHARS, or None if it
    does not fit."""
    text = " ".join(text.split())
    if len(text) <= MAX_LINE_CHARS:
        return (text,)
    best: tuple[str, str] | None = None
    for i, char in enumerate(text):
        if char != " ":
            continue
        top, bottom = text[:i], text[i + 1 :]
        longest = max(len(top), len(bottom))
        if longest <= MAX_LINE_CHARS and (best is None or longest < max(map(len, best))):
            best = (top, bottom)
    return best


def _timed_words(segment: StoredSegment) -> list[tuple[float, float, str]]:
    if segment.words:
        return [(s, e, w) for s, e, w in segment.words if w.strip()]
    # no word times: spread the words over the segment in proportion to their length
    words = segment.text.split()
    total = sum(len(w) + 1 for w in words) or 1
    span = max(segment.end - segment.start, 0.0)
    timed, clock = [], segment.start
    for word in words:
        length = span * (len(word) + 1) / total
        timed.append((clock, clock + length, " " + word))
        clock += length
    return timed


def cues(segments: Sequence[StoredSegment]) -> list[Cue]:
    """Split each segment into cues that fit on screen and in time."""
    found: list[Cue] = []
    for segment in segments:
        words = _timed_words(_clean_segment(segment))
        i = 0
        while i < len(words):
            # the longest run of words from i that fits; prefer ending after punctuation
            fits, punct = i, None
            for j in range(i, len(words)):
                text = "".join(w for _, _, w in words[i : j + 1])
                long = words[j][1] - words[i][0] > MAX_CUE_SECONDS and j > i
                if long or wrap(text) is None:
                    break
                fits = j
                if words[j][2].rstrip().endswith((".", "?", "!", ",", ";", ":")):
                    punct = j
            end = fits
            if fits < len(words) - 1 and punct is not None and punct >= (i + fits) / 2:
                end = punct  # a break after punctuation reads better, if not too early
            text = "".join(w for _, _, w in words[i : end + 1]).strip()
            found.append(Cue(words[i][0], words[end][1], wrap(text) or (text,)))
            i = end + 1
    # a cue never outlasts the start of the next
    for n in range(len(found) - 1):
        cue, nxt = found[n], found[n + 1]
        if cue.start < nxt.start < cue.end:
            found[n] = Cue(cue.start, nxt.start, cue.lines)
    return found


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _clean(text: str) -> str:
    # a blank line ends a cue in both formats; "-->" would be read as a timing line in VTT
    return " ".join(text.replace("-->", "->").split())


def _clean_segment(segment: StoredSegment) -> StoredSegment:
    words = tuple((s, e, w.replace("-->", "->").replace("\n", " ")) for s, e, w in segment.words)
    return StoredSegment(segment.ordinal, segment.start, segment.end, _clean(segment.text), words)


def to_srt(segments: Sequence[StoredSegment]) -> str:
    blocks = [
        f"{n}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n"
        + "\n".join(c.lines)
        + "\n"
        for n, c in enumerate(cues(segments), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Sequence[StoredSegment]) -> str:
    blocks = [
        f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n" + "\n".join(c.lines) + "\n"
        for c in cues(segments)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)
