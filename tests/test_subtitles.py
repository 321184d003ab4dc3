"""Subtitle cues follow subtitle conventions: at most 2 lines of 42 characters, at most 7 s
on screen, split where words are spoken."""

from __future__ import annotations

from vystra.db import store
from vystra.db.store import StoredSegment
from vystra.subtitles import MAX_CUE_SECONDS, MAX_LINE_CHARS, MAX_LINES, cues, to_srt, wrap


def check_conventions(segments: list[StoredSegment]) -> None:
    found = cues(segments)
    word_starts = {w[0] for s in segments for w in s.words}
    word_ends = {w[1] for s in segments for w in s.words}
    for cue in found:
        assert 1 <= len(cue.lines) <= MAX_LINES, cue
        assert all(0 < len(line) <= MAX_LINE_CHARS for line in cue.lines), cue
        assert 0 < cue.end - cue.start <= MAX_CUE_SECONDS, cue
        if word_starts:
            assert cue.start in word_starts and cue.end in word_ends | {c.start for c in found}
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))
    # nothing said is lost or repeated
    said = " ".join(" ".join(s.text.split()) for s in segments).split()
    assert " ".join(line for c in found for line in c.lines).split() == said


def test_a_long_segment_is_split_at_word_times():
    text = (
        "Glaciers are rivers of ice that move slowly down mountain valleys, and they form where"
        " more snow falls in winter than melts in summer, year after year, for centuries."
    )
    words = tuple((i * 0.4, i * 0.4 + 0.35, " " + w) for i, w in enumerate(text.split()))
    segment = StoredSegment(0, 0.0, words[-1][1], text, words)
    check_conventions([segment])
    assert len(cues([segment])) >= 3  # 164 characters over 11 s: several cues


def test_segments_without_word_times_are_split_in_proportion():
    text = "word " * 60
    segment = StoredSegment(0, 10.0, 40.0, text.strip())
    found = cues([segment])
    assert len(found) >= 5 and found[0].start == 10.0 and abs(found[-1].end - 40.0) < 1e-6
    assert all(c.end - c.start <= MAX_CUE_SECONDS for c in found)


def test_wrap_balances_two_lines_or_refuses():
    assert wrap("short line") == ("short line",)
    top, bottom = wrap("a" * 30 + " " + "b" * 20 + " " + "c" * 20) or ("", "")
    assert len(top) <= MAX_LINE_CHARS and len(bottom) <= MAX_LINE_CHARS
    assert wrap("x" * 90) is None


def test_transcribed_talk_makes_conventional_subtitles(ingested_talk, db):
    tenant, result, _ = ingested_talk
    with db.connect() as conn:
        transcript = store.get_transcript(conn, tenant, result.video_id)
    assert transcript and all(s.words for s in transcript)  # word times were kept
    check_conventions(transcript)
    assert to_srt(transcript).count(" --> ") == len(cues(transcript))
