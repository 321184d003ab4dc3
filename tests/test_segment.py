from vystra.segment import SegmentOptions, chunk_segments, split_sentences
from vystra.transcribe import Segment, Word


def seg(start: float, end: float, text: str) -> Segment:
    return Segment(start, end, text)


def test_units_keep_exact_transcript_times_and_reach_the_target():
    segments = [seg(i * 5.0, i * 5.0 + 4.5, f"sentence {i}.") for i in range(12)]
    units = list(chunk_segments(segments, SegmentOptions(15.0, 0.0, pause_seconds=10.0)))
    starts = {s.start for s in segments}
    ends = {s.end for s in segments}
    assert [u.ordinal for u in units] == list(range(len(units)))
    for unit in units:
        assert unit.start in starts and unit.end in ends
    assert all(u.end - u.start >= 15.0 for u in units[:-1])
    # without overlap, every sentence appears exactly once
    assert " ".join(u.text for u in units).split() == " ".join(s.text for s in segments).split()


def test_overlap_repeats_the_tail_of_the_previous_unit():
    segments = [seg(i * 2.0, i * 2.0 + 2.0, f"s{i}.") for i in range(20)]
    units = list(chunk_segments(segments, SegmentOptions(10.0, 4.0, pause_seconds=10.0)))
    for prev, nxt in zip(units, units[1:], strict=False):
        assert prev.end - 4.0 <= nxt.start < prev.end
    assert units[-1].end == segments[-1].end
    assert units[0].start == 0.0


def test_a_pause_closes_a_unit_early_and_nothing_carries_across_it():
    segments = [seg(0, 4, "a."), seg(4, 8, "b."), seg(12, 16, "c."), seg(16, 20, "d.")]
    units = list(chunk_segments(segments, SegmentOptions(15.0, 3.0, pause_seconds=2.0)))
    assert [(u.start, u.end, u.text) for u in units] == [(0, 8, "a. b."), (12, 20, "c. d.")]


def test_whisper_segments_are_cut_at_sentence_ends_using_word_times():
    words = (
        Word(10.0, 10.5, " before"),
        Word(10.5, 11.0, " baking."),
        Word(12.0, 12.4, " Next,"),
        Word(12.4, 13.0, " jazz."),
    )
    parts = split_sentences(Segment(10.0, 13.0, "before baking. Next, jazz.", words), 30.0)
    assert [(p.start, p.end, p.text) for p in parts] == [
        (10.0, 11.0, "before baking."),
        (12.0, 13.0, "Next, jazz."),
    ]


def test_a_segment_longer_than_the_target_is_cut_at_word_boundaries():
    words = tuple(Word(float(i), i + 1.0, f" w{i}") for i in range(40))
    parts = split_sentences(Segment(0.0, 40.0, "", words), 15.0)
    assert all(p.end - p.start <= 15.0 for p in parts)
    assert parts[0].start == 0.0 and parts[-1].end == 40.0


def test_units_stream_before_the_input_ends():
    def endless():
        i = 0
        while True:
            yield seg(i * 3.0, i * 3.0 + 3.0, f"s{i}.")
            i += 1

    stream = chunk_segments(endless(), SegmentOptions(9.0, 0.0))
    first = next(stream)
    assert first.ordinal == 0 and first.end - first.start >= 9.0


def test_no_speech_gives_no_units_and_bad_options_are_refused():
    assert list(chunk_segments([], SegmentOptions())) == []
    for bad in ((0, 0), (10, 10), (10, -1)):
        try:
            SegmentOptions(*bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")
