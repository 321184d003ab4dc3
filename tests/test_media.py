from pathlib import Path

import numpy as np
import pytest
from helpers import run_ffmpeg

from vystra.demo import PAUSE_SECONDS
from vystra.errors import CorruptMediaError, EmptyMediaError, NoAudioError, NotMediaError
from vystra.media import SAMPLE_RATE, extract_audio, probe


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
    with pytest.raises(NoAudioError, match="no audio track"):
        probe(silent)


def test_truncated_video_is_reported_corrupt(tmp_path: Path, talk):
    data = talk[0].read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match="damaged"):
        probe(broken)
