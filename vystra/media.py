"""Stage 2, probe and audio: check a file is usable media and decode its speech track.

Probing uses PyAV (the packaged static ffmpeg has no ffprobe); decoding drives that static
ffmpeg through ffmpeg-python to 16 kHz mono float32, the input Whisper models expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av
import ffmpeg
import numpy as np

from vystra.errors import CorruptMediaError, EmptyMediaError, NoAudioError, NotMediaError

SAMPLE_RATE = 16_000

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
    audio_codec: str
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


def probe(path: Path) -> MediaInfo:
    """Describe ``path``; raise a specific :class:`MediaError` if it cannot be transcribed."""
    if path.stat().st_size == 0:
        raise EmptyMediaError(f"{path.name} is empty (0 bytes)")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            audio = next(iter(container.streams.audio), None)
            video = next(iter(container.streams.video), None)
            if audio is None:
                raise NoAudioError(
                    f"{path.name} has no audio track, so there is no speech to index"
                )
            duration = _duration(container, audio)
            return MediaInfo(
                path=path,
                duration=duration,
                container=container.format.name,
                audio_codec=audio.codec_context.name,
                video_codec=video.codec_context.name if video is not None else None,
                sample_rate=audio.codec_context.sample_rate or 0,
                channels=audio.codec_context.channels or 0,
            )
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        if _looks_like_media(path):
            raise CorruptMediaError(f"{path.name} is damaged and cannot be read: {exc}") from exc
        raise NotMediaError(f"{path.name} is not an audio or video file") from exc


def _duration(container: av.container.InputContainer, stream: av.audio.AudioStream) -> float:
    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def extract_audio(info: MediaInfo) -> Audio:
    """Decode the first audio track to 16 kHz mono float32."""
    try:
        out, _ = (
            ffmpeg.input(str(info.path))
            .output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=SAMPLE_RATE, map="0:a:0")
            .global_args("-nostdin", "-loglevel", "error")
            .run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        reason = detail[-1] if detail else "ffmpeg failed"
        raise CorruptMediaError(f"cannot decode audio of {info.path.name}: {reason}") from exc
    samples = np.frombuffer(out, dtype=np.float32)
    if samples.size == 0:
        raise CorruptMediaError(f"the audio track of {info.path.name} holds no decodable samples")
    return Audio(samples)
