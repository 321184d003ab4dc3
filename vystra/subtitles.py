"""Subtitles (SRT and WebVTT) from a transcript."""

from __future__ import annotations

from collections.abc import Sequence

from vystra.db.store import StoredSegment


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _clean(text: str) -> str:
    # a blank line ends a cue in both formats; "-->" would be read as a timing line in VTT
    return "\n".join(line for line in text.replace("-->", "->").splitlines() if line.strip())


def to_srt(segments: Sequence[StoredSegment]) -> str:
    cues = [
        f"{n}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{_clean(s.text)}\n"
        for n, s in enumerate(segments, start=1)
    ]
    return "\n".join(cues)


def to_vtt(segments: Sequence[StoredSegment]) -> str:
    cues = [
        f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{_clean(s.text)}\n"
        for s in segments
    ]
    return "WEBVTT\n\n" + "\n".join(cues)
