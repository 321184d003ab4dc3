from pathlib import Path

import numpy as np
import pytest
from helpers import run_ffmpeg

from vystra.demo import PAUSE_SECONDS
from vystra.errors import CorruptMediaError, EmptyMediaError, NoAudioError, NotMediaError
from vystra.media import SAMPLE_RATE, decode_audio, extract_audio, probe


def test_probe_and_extract_16k_mono(talk):
    path, sections = talk
    info = probe(path)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.duration == pytest.approx(sections[-1].end + PAUSE_SECONDS, abs=0.5)
    audio = extract_audio(info)
    assert audio.sample_rate == SAMPLE_RATE and audio.samples.dtype == np.float32
    assert audio.duration == pytest.approx(info.duration, abs=0.5)
    # speech is audible inside the first section and silent in the pause after it
    first = sections[0]
    speech = audio.samples[int(first.start * SAMPLE_RATE) : int(first.end * SAMPLE_RATE)]
    pause = audio.samples[
        int((first.end + 0.3) * SAMPLE_RATE) : int((first.end + 1.2) * SAMPLE_RATE)
    ]
    assert np.sqrt(np.mean(speech**2)) > 10 * np.sqrt(np.mean(pause**2) + 1e-12)


def test_audio_is_decoded_in_windows_cut_in_pauses(talk):
    """The same samples as one whole decode, in windows no longer than asked, each cut in
    the quietest moment of its last seconds (here: inside a pause between sentences)."""
    path, sections = talk
    info = probe(path)
    whole = extract_audio(info).samples
    windows, parts = [], []
    for window in decode_audio(info, window_seconds=20):
        windows.append((window.offset, window.end, window.last))
        parts.append(window.audio.samples.copy())  # the buffer is reused for the next one
    assert len(windows) >= 5 and [w[2] for w in windows] == [False] * (len(windows) - 1) + [True]
    assert windows[0][0] == 0
    seams = zip(windows, windows[1:], strict=False)
    assert all(a[1] == pytest.approx(b[0], abs=1e-9) for a, b in seams)
    assert all(end - start <= 20 for start, end, _ in windows)
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    rms = np.sqrt(np.mean(whole**2))
    for _, end, last in windows:
        if not last:  # 100 ms around each cut is far quieter than the talk
            i = int(end * SAMPLE_RATE)
            around = whole[i - SAMPLE_RATE // 20 : i + SAMPLE_RATE // 20]
            assert np.sqrt(np.mean(around**2)) < rms / 10, end


def test_decoding_starts_where_asked(talk):
    """A resumed ingest decodes only the audio after its stored units."""
    info = probe(talk[0])
    whole = extract_audio(info).samples
    [rest] = decode_audio(info, start=30.0)
    assert rest.offset == 30.0 and rest.last
    assert rest.audio.duration == pytest.approx(info.duration - 30.0, abs=0.1)
    # the same audio as the whole decode after 30 s (AAC frames decode alike from the seek)
    n = min(len(rest.audio.samples), len(whole) - 30 * SAMPLE_RATE) - SAMPLE_RATE
    tail = whole[30 * SAMPLE_RATE : 30 * SAMPLE_RATE + n]
    assert np.corrcoef(rest.audio.samples[:n], tail)[0, 1] > 0.99


def test_audio_only_files_are_accepted(tmp_path: Path, talk):
    audio_only = tmp_path / "talk.m4a"
    run_ffmpeg("-i", str(talk[0]), "-vn", "-c:a", "copy", str(audio_only))
    info = probe(audio_only)
    assert info.video_codec is None and info.duration > 60


def test_zero_byte_file(tmp_path: Path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(EmptyMediaError, match="empty"):
        probe(empty)


def test_text_file_renamed_mp4(tmp_path: Path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("These are meeting notes, not a video.\n" * 50)
    with pytest.raises(NotMediaError, match="not an audio or video file"):
        probe(fake)


def test_video_without_audio_track(tmp_path: Path):
    silent = tmp_path / "silent.mp4"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=5:duration=3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(silent),
    )
    info = probe(silent)  # its pictures alone can be indexed
    assert info.audio_codec is None and info.video_codec == "h264"
    assert info.duration == pytest.approx(3.0, abs=0.3)
    subtitles = tmp_path / "captions.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:02,000\nHello\n")
    captions_only = tmp_path / "captions.mkv"
    run_ffmpeg("-i", str(subtitles), str(captions_only))
    with pytest.raises(NoAudioError, match="no audio or video track"):
        probe(captions_only)


def test_truncated_video_is_reported_corrupt(tmp_path: Path, talk):
    data = talk[0].read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match="damaged"):
        probe(broken)
