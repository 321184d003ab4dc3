"""Stage 2, probe and audio: check a file is usable media and decode its speech track.

Probing uses PyAV (the packaged static ffmpeg has no ffprobe); decoding streams the output of
that static ffmpeg, 16 kHz mono float32 (what Whisper models expect), in windows through one
buffer bounded by the probed duration. Both open only local files with the demuxers of real
media containers.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from collections.abc import Generator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

import av
import numpy as np

from vystra.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaTooLongError,
    NoAudioError,
    NotMediaError,
)

SAMPLE_RATE = 16_000
DEFAULT_MAX_SECONDS = 24 * 3600.0
# decoders may give a little more than the container's duration (priming, rounding)
DURATION_SLACK = 0.02
DURATION_SLACK_SECONDS = 2.0

# What ffmpeg may open while reading a source: the file itself, no network, and only the
# demuxers of real media containers. Playlist and list formats (HLS, concat, ...) would open
# other files or URLs named inside the upload.
PROTOCOLS = "file,pipe"
DEMUXERS = "mov,matroska,avi,wav,w64,ogg,flac,mp3,aac,flv,mpeg,mpegts,asf"

# Leading bytes of containers we accept: a file that starts like media but cannot be opened
# is corrupt; anything else is not media at all.
_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4 / MOV / M4A
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"RIFF"),  # WAV / AVI
    (0, b"OggS"),
    (0, b"fLaC"),
    (0, b"ID3"),  # MP3 with tags
    (0, b"\xff\xfb"),  # MP3 frame
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG-PS
    (0, b"\x47"),  # MPEG-TS sync byte
    (0, b"\x30\x26\xb2\x75"),  # ASF / WMV
)


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float  # seconds, of the longest stream
    container: str
    audio_codec: str | None  # None: a video stream alone (only the visual index reads it)
    video_codec: str | None
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # float32, mono, SAMPLE_RATE Hz
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _looks_like_media(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(16)
    return any(head[offset : offset + len(sig)] == sig for offset, sig in _SIGNATURES)


def input_whitelist_args() -> list[str]:
    """ffmpeg input options that limit what reading a source may open."""
    return ["-protocol_whitelist", PROTOCOLS, "-format_whitelist", DEMUXERS]


def probe(path: Path) -> MediaInfo:
    """Describe ``path``; raise a specific :class:`MediaError` if it holds neither audio nor
    video to index."""
    if path.stat().st_size == 0:
        raise EmptyMediaError(f"{path.name} is empty (0 bytes)")
    try:
        with av.open(
            str(path),
            metadata_errors="ignore",
            options={"protocol_whitelist": PROTOCOLS, "format_whitelist": DEMUXERS},
        ) as container:
            audio = next(iter(container.streams.audio), None)
            video = next(iter(container.streams.video), None)
            stream = audio if audio is not None else video
            if stream is None:
                raise NoAudioError(f"{path.name} has no audio or video track to index")
            return MediaInfo(
                path=path,
                duration=_duration(container, stream),
                container=container.format.name,
                audio_codec=audio.codec_context.name if audio is not None else None,
                video_codec=video.codec_context.name if video is not None else None,
                sample_rate=(audio.codec_context.sample_rate or 0) if audio is not None else 0,
                channels=(audio.codec_context.channels or 0) if audio is not None else 0,
            )
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        if _looks_like_media(path):
            raise CorruptMediaError(f"{path.name} is damaged and cannot be read: {exc}") from exc
        raise NotMediaError(f"{path.name} is not an audio or video file") from exc


def _duration(container: av.container.InputContainer, stream: av.stream.Stream) -> float:
    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


@dataclass(frozen=True)
class AudioWindow:
    offset: float  # seconds from the start of the track
    audio: Audio
    last: bool  # the track ends with this window

    @property
    def end(self) -> float:
        return self.offset + self.audio.duration


def _quietest(samples: np.ndarray, span: int) -> int:
    """Index in the last ``span`` samples where 100 ms of audio is quietest: a cut there
    falls in a pause rather than inside a word."""
    frame = SAMPLE_RATE // 10
    tail = samples[len(samples) - span :]
    n = len(tail) // frame
    energy = np.square(tail[: n * frame].reshape(n, frame)).mean(axis=1)
    return len(samples) - span + int(np.argmin(energy)) * frame + frame // 2


def allowed_seconds(info: MediaInfo, max_seconds: float | None) -> float:
    """How much of ``info`` may be decoded: :class:`MediaTooLongError` if its header declares
    more than ``max_seconds``; else up to a little past what it declares (decoders give a
    little more), so a lying header costs no more than the probe promised."""
    if max_seconds is not None and info.duration > max_seconds:
        raise MediaTooLongError(
            f"{info.path.name} is {info.duration:.0f} s long; the limit is {max_seconds:.0f} s"
        )
    allowed = max_seconds if max_seconds is not None else DEFAULT_MAX_SECONDS
    if info.duration > 0:
        allowed = min(allowed, info.duration * (1 + DURATION_SLACK) + DURATION_SLACK_SECONDS)
    return allowed


def decode_audio(
    info: MediaInfo,
    max_seconds: float | None = None,
    *,
    start: float = 0.0,
    window_seconds: float | None = None,
) -> Generator[AudioWindow, None, None]:
    """Decode the first audio track from ``start`` to 16 kHz mono float32, in windows of at
    most ``window_seconds`` (None: one window), cut at the quietest moment of each window's
    last 10 s, in memory bounded by one window whatever the track's length.

    Each window's samples are valid until the next is asked for (one buffer is reused).

    ``max_seconds``: the longest audio accepted (configuration or plan); longer media fail
    with :class:`MediaTooLongError` before decoding. A file that decodes to more than its
    header declared (a lying duration, a decompression bomb) fails as soon as it does, so it
    costs no more than the probe promised.
    """
    name = info.path.name
    allowed = allowed_seconds(info, max_seconds)
    allowed_samples = int(max(0.0, allowed - start) * SAMPLE_RATE)
    # ffmpeg stops a second past what is allowed, so going over is seen rather than cut off
    whole = allowed_samples + SAMPLE_RATE + 1
    size = whole if window_seconds is None else min(whole, int(window_seconds * SAMPLE_RATE))
    search = min(10 * SAMPLE_RATE, size // 4)
    buffer = np.empty(size, dtype=np.float32)
    command = [
        ffmpeg_exe(),
        "-nostdin",
        "-loglevel",
        "error",
        *input_whitelist_args(),
        *(("-ss", f"{start:.3f}") if start > 0 else ()),
        "-i",
        str(info.path),
        "-map",
        "0:a:0",
        "-t",
        f"{allowed - start + 1.0:.3f}",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-acodec",
        "pcm_f32le",
        "-f",
        "f32le",
        "pipe:1",
    ]
    view = buffer.data.cast("B")
    with tempfile.TemporaryFile() as errors:  # a file: a chatty ffmpeg cannot block on it
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        out = cast(io.BufferedReader, proc.stdout)
        ended = False
        try:
            offset, kept = 0, 0  # samples before the buffer; bytes carried into it
            while True:
                filled = kept
                while filled < len(view) and (n := out.readinto(view[filled:])):
                    filled += n
                count = filled // 4
                if offset + count > allowed_samples:
                    declared = (
                        f"its header declares {info.duration:.1f} s"
                        if info.duration
                        else "no length"
                    )
                    raise MediaTooLongError(
                        f"{name} decodes to more audio than allowed ({allowed:.0f} s; {declared})"
                    )
                if filled < len(view):  # the track ended
                    ended = True
                    break
                cut = _quietest(buffer[:count], search)
                yield AudioWindow(start + offset / SAMPLE_RATE, Audio(buffer[:cut]), False)
                buffer[: count - cut] = buffer[cut:count]
                offset, kept = offset + cut, (count - cut) * 4
        finally:
            if not ended:  # over the limit, or the caller stopped reading
                proc.kill()
            out.close()
            code = proc.wait()
        errors.seek(0)
        detail = errors.read()[-4000:].decode(errors="replace").strip().splitlines()
    if code != 0:
        reason = detail[-1] if detail else f"ffmpeg exited with {code}"
        raise CorruptMediaError(f"cannot decode audio of {name}: {reason}")
    if offset + count == 0:
        raise CorruptMediaError(f"the audio track of {name} holds no decodable samples")
    yield AudioWindow(start + offset / SAMPLE_RATE, Audio(buffer[:count]), True)


def extract_audio(info: MediaInfo, max_seconds: float | None = None) -> Audio:
    """The whole track in one buffer (see :func:`decode_audio`)."""
    [window] = decode_audio(info, max_seconds)
    return window.audio
