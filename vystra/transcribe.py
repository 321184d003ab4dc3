"""Stage 3, transcribe: speech to time-coded text, streamed segment by segment.

The default backend is faster-whisper on the local machine (CUDA float16 when a GPU is present,
CPU int8 otherwise). Groq's hosted Whisper is the alternative when configured.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from vystra.errors import TranscriptionError
from vystra.media import Audio
from vystra.models import packaged_whisper_dir, packaged_whisper_model, packaged_whisper_name
from vystra.settings import Settings


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class TranscriptionInfo:
    """What produced a transcript: recorded with the video."""

    backend: str
    model: str
    device: str
    compute_type: str
    language: str
    duration: float


@dataclass
class Transcription:
    info: TranscriptionInfo
    segments: Iterator[Segment] = field(repr=False)


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    """``auto`` picks CUDA float16 when a GPU is visible, else CPU int8."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def whisper_model_ref(settings: Settings, override: str | None = None) -> str:
    """A local folder, or a model name: a packaged one (``tiny.en``, the multilingual
    ``base``), else one faster-whisper resolves from its local cache."""
    name = override or settings.whisper_model
    if not name:
        return str(packaged_whisper_model())
    packaged = packaged_whisper_dir(name, settings.models_path)
    return str(packaged) if packaged is not None else name


def _model_label(ref: str, settings: Settings) -> str:
    """A readable model name to record with each video."""
    name = packaged_whisper_name(Path(ref), settings.models_path)
    if name is not None:
        return name
    return Path(ref).name if Path(ref).exists() else ref


@lru_cache(maxsize=4)
def _load_whisper(model: str, device: str, compute_type: str, threads: int):
    from faster_whisper import WhisperModel

    try:
        # local_files_only: weights are never fetched from a hub at run time
        return WhisperModel(
            model,
            device=device,
            compute_type=compute_type,
            cpu_threads=threads,
            local_files_only=True,
        )
    except Exception as exc:  # faster-whisper raises bare RuntimeError/OSError/ValueError
        raise TranscriptionError(f"cannot load Whisper model {model!r}: {exc}") from exc


def transcribe_whisper(
    audio: Audio, settings: Settings, *, language: str | None = None, model: str | None = None
) -> Transcription:
    """Transcribe with faster-whisper.

    Args:
        audio: 16 kHz mono samples.
        settings: device, compute type, beam size and thread count come from here.
        language: ISO code, or None to detect it.
        model: local model folder or name; default from settings, then the packaged tiny.en.
    """
    ref = whisper_model_ref(settings, model)
    device, compute_type = resolve_device(settings.whisper_device, settings.whisper_compute_type)
    whisper = _load_whisper(ref, device, compute_type, settings.whisper_threads)
    try:
        segments, info = whisper.transcribe(
            audio.samples,
            language=language,
            beam_size=settings.whisper_beam_size,
            vad_filter=True,
            word_timestamps=True,
            condition_on_previous_text=False,  # keeps one bad window from derailing the rest
        )
    except Exception as exc:
        raise TranscriptionError(f"transcription failed: {exc}") from exc

    def stream() -> Iterator[Segment]:
        for s in segments:
            text = s.text.strip()
            if text:
                words = tuple(Word(w.start, w.end, w.word) for w in (s.words or ()))
                yield Segment(round(s.start, 3), round(s.end, 3), text, words)

    meta = TranscriptionInfo(
        backend="faster-whisper",
        model=_model_label(ref, settings),
        device=device,
        compute_type=compute_type,
        language=info.language,
        duration=info.duration,
    )
    return Transcription(meta, stream())


GROQ_CHUNK_SECONDS = 600  # keeps each upload under the API's file size limit


def transcribe_groq(
    audio: Audio,
    settings: Settings,
    *,
    language: str | None = None,
    client=None,
    chunk_seconds: int = GROQ_CHUNK_SECONDS,
) -> Transcription:
    """Transcribe with Groq's hosted Whisper, ``chunk_seconds`` of audio per request."""
    if client is None:
        if not settings.groq_api_key:
            raise TranscriptionError("the groq transcriber needs GROQ_API_KEY")
        from groq import Groq

        client = Groq(api_key=settings.groq_api_key, base_url=settings.groq_base_url)
    step = chunk_seconds * audio.sample_rate

    def stream() -> Iterator[Segment]:
        for offset in range(0, len(audio.samples), step):
            chunk = audio.samples[offset : offset + step]
            base = offset / audio.sample_rate
            try:
                result = client.audio.transcriptions.create(
                    file=("audio.wav", _wav_bytes(chunk, audio.sample_rate)),
                    model=settings.groq_whisper_model,
                    response_format="verbose_json",
                    language=language or "en",
                )
            except Exception as exc:
                raise TranscriptionError(f"Groq transcription failed: {exc}") from exc
            for seg in getattr(result, "segments", None) or []:
                start, end, text = (_field(seg, k) for k in ("start", "end", "text"))
                if str(text).strip():
                    yield Segment(
                        round(base + float(start), 3),
                        round(base + float(end), 3),
                        str(text).strip(),
                    )

    meta = TranscriptionInfo(
        backend="groq",
        model=settings.groq_whisper_model,
        device="remote",
        compute_type="remote",
        language=language or "en",
        duration=audio.duration,
    )
    return Transcription(meta, stream())


def _field(segment: object, key: str) -> Any:
    """Groq's SDK returns segments as dicts or as objects, depending on its version."""
    return segment.get(key) if isinstance(segment, dict) else getattr(segment, key)


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def transcribe(
    audio: Audio, settings: Settings, *, language: str | None = None, model: str | None = None
) -> Transcription:
    """Dispatch to the configured backend."""
    if settings.transcriber == "groq":
        return transcribe_groq(audio, settings, language=language)
    if settings.transcriber != "whisper":
        raise TranscriptionError(
            f"unknown transcriber {settings.transcriber!r}: use whisper or groq"
        )
    return transcribe_whisper(audio, settings, language=language, model=model)
