"""Decoding bounds: media that decode to more than they declare, or more than allowed, fail
with a reason in bounded memory; playlists cannot make ffmpeg open other files."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import av
import pytest
from helpers import run_ffmpeg

from vystra.errors import CorruptMediaError, MediaTooLongError, NotMediaError
from vystra.media import SAMPLE_RATE, MediaInfo, extract_audio, probe

BYTES_PER_SECOND = SAMPLE_RATE * 4  # float32 mono


def lie_about_duration(path: Path, factor: int) -> None:
    """Divide the durations an MP4 declares (movie, track and media headers) by ``factor``;
    the samples, and so what decodes, stay as they were."""
    data = bytearray(path.read_bytes())
    # offset of the 32-bit duration after each version-0 box's type
    for box, offset in ((b"mvhd", 20), (b"tkhd", 24), (b"mdhd", 20)):
        start = 0
        while (at := data.find(box, start)) >= 0:
            assert data[at + 4] == 0, "version 0 boxes only"
            field = at + offset
            (duration,) = struct.unpack(">I", data[field : field + 4])
            data[field : field + 4] = struct.pack(">I", duration // factor)
            start = at + 4
    path.write_bytes(data)


def peak_bytes(fn, *args):
    tracemalloc.start()
    try:
        try:
            result: object = fn(*args)
        except Exception as exc:  # noqa: BLE001 - returned for the caller to check
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_lying_duration_fails_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "lying.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=120", "-c:a", "aac", str(path))
    assert extract_audio(probe(path)).duration == pytest.approx(120, abs=0.5)  # honest: fine
    lie_about_duration(path, 60)
    info = probe(path)
    assert info.duration == pytest.approx(2, abs=0.1)
    error, peak = peak_bytes(extract_audio, info)
    assert isinstance(error, MediaTooLongError) and error.reason == "MediaTooLong"
    assert "header declares 2.0 s" in str(error)
    assert peak < 10 * BYTES_PER_SECOND  # not the 120 s the file really holds (7.7 MB)


def test_decompression_bomb_fails_before_decoding(tmp_path: Path, settings) -> None:
    """Ten minutes of silence in a small file: over the configured maximum, refused at once;
    with its header lying too, stopped at what the header promised."""
    path = tmp_path / "bomb.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "600", "-c:a", "aac", "-b:a",
        "8k", str(path),
    )  # fmt: skip
    decoded_size = 600 * BYTES_PER_SECOND
    assert path.stat().st_size * 50 < decoded_size
    error, peak = peak_bytes(extract_audio, probe(path), 60.0)
    assert isinstance(error, MediaTooLongError) and "the limit is 60 s" in str(error)
    assert peak < BYTES_PER_SECOND
    lie_about_duration(path, 300)
    error, peak = peak_bytes(extract_audio, probe(path), 60.0)
    assert isinstance(error, MediaTooLongError) and "header declares 2.0 s" in str(error)
    assert peak < 10 * BYTES_PER_SECOND


def test_playlists_cannot_open_other_files(tmp_path: Path) -> None:
    """An HLS playlist and an ffconcat list, uploaded as videos, name a file elsewhere; ffmpeg
    would read it (checked below without the whitelist); Vystra opens neither list."""
    elsewhere = tmp_path / "private"
    elsewhere.mkdir()
    secret = elsewhere / "secret.ts"
    run_ffmpeg("-f", "lavfi", "-i", "sine=duration=3", "-c:a", "aac", "-f", "mpegts", str(secret))
    run_ffmpeg("-f", "lavfi", "-i", "sine=duration=3", "-c:a", "aac", str(elsewhere / "s.mp4"))
    hls = elsewhere / "upload.m3u8"
    hls.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n{secret}\n#EXT-X-ENDLIST\n")
    concat = elsewhere / "upload.mp4"
    concat.write_text("ffconcat version 1.0\nfile s.mp4\n")
    for playlist, demuxer in ((hls, "hls"), (concat, "concat")):
        with av.open(str(playlist)) as unguarded:  # the attack works where nothing stops it
            assert unguarded.format.name == demuxer and unguarded.streams.audio
        with pytest.raises(NotMediaError):
            probe(playlist)
        # and the decoder refuses it on its own, whatever the probe said
        info = MediaInfo(playlist, 3.0, demuxer, "aac", None, 44100, 1)
        with pytest.raises(CorruptMediaError):
            extract_audio(info)
