"""The ingest pipeline: fetch → probe → audio → transcribe → segment → embed → store → insights.

This is the one implementation run by the CLI, the API's local mode and the worker in a
Kubernetes Job. Transcript segments stream through segmenting and embedding into the database
in small batches, so progress (and search) is live while a long video is still transcribing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

import numpy as np
from opentelemetry.trace import Span

from vystra import tracing
from vystra.db import Database, store
from vystra.db.searchindex import IndexChanged
from vystra.db.store import VisualStatus
from vystra.embed import Embedder, embed_units, load_embedder
from vystra.errors import NoAudioError, VystraError
from vystra.fetch import fetch
from vystra.insights import TimedText, Visuals, insights_or_failure
from vystra.media import AudioWindow, MediaInfo, allowed_seconds, decode_audio, probe
from vystra.reindex import active_embedder
from vystra.resume import Resume, resume_from, shifted
from vystra.segment import Chunk, SegmentOptions, chunk_segments
from vystra.settings import Settings
from vystra.shutdown import Terminated, stop_requested
from vystra.transcribe import Segment, transcribe
from vystra.visual import VisualError, VisualOptions, VisualRun, ocr_engine

log = logging.getLogger(__name__)

WRITE_BATCH = 4  # units per COPY: small enough for live progress, large enough to batch


class Interrupted(Exception):
    """Raised by an ``on_progress`` callback to stop an ingest that is to run again (its process
    is stopping, or another worker took it over): the video is left as it is, not marked
    failed, and the next run resumes after the units it stored (vystra.resume)."""


@dataclass(frozen=True)
class IngestOptions:
    title: str | None = None
    language: str | None = None  # None: detect
    model: str | None = None  # Whisper model folder or name; None: configured default
    segmenting: SegmentOptions = field(default_factory=SegmentOptions)
    insights: bool = True
    force: bool = False  # re-process even if these bytes were already ingested
    visual: VisualOptions = field(default_factory=VisualOptions)


@dataclass(frozen=True)
class Progress:
    stage: str  # fetch | probe | audio | transcribe | visual | insights | done
    processed_seconds: float = 0.0
    duration: float = 0.0
    segments: int = 0
    video_id: str | None = None
    visual_seconds: float | None = None  # how far the visual stages are; None: not running


class StageClock:
    """Wall seconds an ingest spends in each stage, told by the stages its progress names
    (``transcribe`` includes embedding; ``visual`` is the wait for the visual thread after
    transcription, which it runs beside), and a span per stage when tracing is on. ``done``
    (or :meth:`stop`, on any way out) ends the last stage."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock, self._stage, self._since = clock, "", 0.0
        self._span: Span | None = None
        self.seconds: dict[str, float] = {}

    def see(self, stage: str) -> None:
        if stage == self._stage:
            return
        now = self._clock()
        if self._stage:
            self.seconds[self._stage] = self.seconds.get(self._stage, 0.0) + now - self._since
        if self._span is not None:
            self._span.end()
            self._span = None
        self._stage, self._since = ("" if stage == "done" else stage), now
        if self._stage:  # a child of the ingest's span, current where progress is reported
            self._span = tracing.tracer.start_span(self._stage, attributes={"vystra.stage": stage})

    def stop(self) -> None:
        self.see("done")


@dataclass
class Track:
    """The audio being transcribed: its first window, decoded before anything is stored, the
    windows after it, and its length (the probe's until the last window is decoded)."""

    first: AudioWindow
    windows: Generator[AudioWindow, None, None]
    duration: float


@dataclass
class Speech:
    """What transcription stored: the units, their vectors (one matrix per batch), the
    transcript entries and the length of the audio decoded."""

    units: list[Chunk]
    vectors: list[np.ndarray]
    transcript: list[list]
    duration: float
    audio: bool = True  # False: the video has no audio track; its pictures are all it has


@dataclass(frozen=True)
class IngestResult:
    video_id: str
    title: str
    source: str
    duration_s: float
    segments: int
    status: str  # ready | exists (already ingested, skipped)
    insights_status: str | None = None


ProgressFn = Callable[[Progress], None]


def default_title(source: str) -> str:
    name = PurePosixPath(unquote(urlparse(source).path)).stem
    return name.replace("_", " ").replace("-", " ").strip() or source


def _batched(items: Iterable[Chunk], size: int) -> Iterator[list[Chunk]]:
    batch: list[Chunk] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Pipeline:
    def __init__(self, settings: Settings, db: Database, *, register_index: bool = True) -> None:
        """``register_index``: a fresh database's index is this process's configured model
        (platform processes; a cluster worker's login may only read which model it holds)."""
        self.settings = settings
        self.db = db
        self.register_index = register_index
        self._embedder: Embedder | None = None

    @property
    def embedder(self) -> Embedder:
        """The model the search index holds, reloaded when a re-index switches it."""
        if self._embedder is None:
            self._embedder = active_embedder(self.db, self.settings, register=self.register_index)
        return self._embedder

    def ingest(
        self,
        source: str,
        options: IngestOptions | None = None,
        *,
        tenant: str,
        on_progress: ProgressFn | None = None,
    ) -> IngestResult:
        """Ingest one source for ``tenant``; raise a :class:`VystraError` subclass on bad input.

        Input errors found before anything is stored (unreadable source, not media, no audio)
        leave the database untouched; later failures mark the video ``failed`` with the reason.
        A stop (SIGTERM, :class:`Interrupted`) leaves the video as it is, for a re-run.
        """
        try:
            return self._ingest(source, options or IngestOptions(), tenant, on_progress)
        except Exception as exc:
            if stop_requested():  # SIGTERM that a library caught and wrapped in its own error
                raise Terminated from exc
            raise

    def _ingest(
        self, source: str, options: IngestOptions, tenant: str, on_progress: ProgressFn | None
    ) -> IngestResult:
        report = on_progress or (lambda _p: None)
        report(Progress("fetch"))
        with ExitStack() as held:
            # the file stays until the ingest ends: the visual stages read it too
            media = held.enter_context(fetch(source, self.settings))
            video_id = store.video_id_for(tenant, media.sha256)
            # one attempt at a time per video: a second ingest of the same bytes waits,
            # then finds them indexed (or resumes after what the first stored)
            held.enter_context(self.db.exclusive(f"vystra-video:{video_id}"))
            with self.db.connect() as conn:
                existing = store.find_by_sha(conn, tenant, media.sha256)
            if existing and existing.status == "ready" and not options.force:
                return IngestResult(
                    existing.id,
                    existing.title,
                    existing.source,
                    existing.duration or 0.0,
                    existing.segment_count,
                    "exists",
                    existing.insights_status,
                )
            report(Progress("probe"))
            info = probe(media.path)
            pictures = options.visual.enabled and self.settings.visual and bool(info.video_codec)
            if info.audio_codec is None and not pictures:
                raise NoAudioError(
                    f"{info.path.name} has no audio track, so there is no speech to index"
                    " (its pictures are indexed with the visual index on)"
                )
            # a header longer than allowed is refused before anything is stored
            allowed = allowed_seconds(info, self.settings.max_media_seconds)
            report(Progress("audio", duration=info.duration))
            title = options.title or (existing.title if existing else default_title(source))
            stored_options = {
                "language": options.language,
                "model": options.model,
                **asdict(options.segmenting),
            }
            resume, track = None, None
            if info.audio_codec is not None:
                if existing and not options.force and existing.options == stored_options:
                    with self.db.connect() as conn:
                        resume = resume_from(
                            store.committed_units(conn, existing),
                            store.get_transcript_entries(conn, tenant, video_id),
                            existing.language,
                        )
                windows = held.enter_context(
                    closing(
                        decode_audio(
                            info,
                            self.settings.max_media_seconds,
                            start=resume.offset if resume else 0.0,
                            window_seconds=self.settings.decode_window_seconds,
                        )
                    )
                )
                first = next(windows)  # undecodable audio fails before anything is stored
                # exact when the first window holds the rest of the track; else the probe's
                duration = first.end if first.last else max(info.duration, first.end)
                track = Track(first, windows, duration)
            duration = track.duration if track else info.duration
            with self.db.connect() as conn:
                store.begin_video(
                    conn,
                    video_id=video_id,
                    tenant=tenant,
                    title=title,
                    source=media.source,
                    sha256=media.sha256,
                    size_bytes=media.size,
                    duration=duration,
                    options=stored_options,
                    resumed_transcript=resume.transcript if resume else None,
                )
            try:
                return self._process(
                    video_id,
                    title,
                    media.source,
                    info,
                    track,
                    allowed,
                    options,
                    tenant,
                    report,
                    resume,
                )
            except Interrupted:
                raise
            except VystraError as exc:
                self._fail(video_id, exc.reason, str(exc))
                raise
            except Exception as exc:
                self._fail(video_id, "InternalError", f"{type(exc).__name__}: {exc}")
                raise

    def _process(
        self,
        video_id,
        title,
        source,
        info: MediaInfo,
        track: Track | None,
        allowed: float,
        options: IngestOptions,
        tenant,
        report,
        resume: Resume | None,
    ) -> IngestResult:
        visual = self._start_visual(video_id, info, options.visual, allowed)
        try:
            speech = (
                self._transcribe(video_id, track, options, tenant, report, resume, visual)
                if track is not None
                else self._no_speech(video_id, info.duration)
            )
            return self._index(video_id, title, source, speech, options, report, visual, tenant)
        finally:
            if visual is not None:
                visual.stop()  # only if the ingest ends without it: it has ended otherwise

    def _start_visual(
        self, video_id: str, info: MediaInfo, options: VisualOptions, allowed: float
    ) -> VisualRun | None:
        enabled = options.enabled and self.settings.visual
        if not enabled:
            status = VisualStatus.disabled
        elif not info.video_codec:
            status = VisualStatus.none  # audio only
        else:
            status = VisualStatus.processing
        with self.db.connect() as conn:
            store.set_visual(conn, video_id, status)
        if status is not VisualStatus.processing:
            return None
        settings = self.settings
        return VisualRun(
            info,
            options,
            ocr=(lambda: ocr_engine(settings.ocr_det_model, settings.ocr_rec_model))
            if options.ocr
            else None,
            max_seconds=allowed,
        )

    def _no_speech(self, video_id: str, duration: float) -> Speech:
        """A video stream alone: its pictures are all there is to index."""
        with self.db.connect() as conn:
            store.set_transcription(
                conn, video_id, language=None, model=None, embedding_model=self.embedder.name
            )
        return Speech([], [], [], duration, audio=False)

    def _transcribe(
        self, video_id, track: Track, options, tenant, report, resume, visual
    ) -> Speech:
        """Transcribe ``track`` window by window, storing its units batch by batch."""
        duration = track.duration
        kept = resume.units if resume else []
        report(Progress("transcribe", track.first.offset, duration, len(kept), video_id))
        transcription = transcribe(
            track.first.audio,
            self.settings,
            language=options.language or (resume.language if resume else None),
            model=options.model,
        )
        embedder = self.embedder
        with self.db.connect() as conn:
            store.set_transcription(
                conn,
                video_id,
                language=transcription.info.language,
                model=f"{transcription.info.backend}:{transcription.info.model}",
                embedding_model=embedder.name,
            )
        units: list[Chunk] = list(kept)
        vectors: list[np.ndarray] = [resume.vectors] if resume and resume.units else []
        transcript: list[list] = list(resume.transcript) if resume else []
        stored = len(transcript)  # entries in the database (begin_video wrote the resumed ones)

        def recorded(segments: Iterable[Segment]) -> Iterator[Segment]:
            for segment in segments:
                # word times (2 decimals) let subtitles split cues where words are spoken
                words = [[round(w.start, 2), round(w.end, 2), w.word] for w in segment.words]
                transcript.append([segment.start, segment.end, segment.text, words])
                yield segment

        def spoken() -> Iterator[Segment]:
            """Each window transcribed in turn, on the whole video's clock; later windows keep
            the language the first one was transcribed in."""
            window = track.first
            yield from shifted(transcription.segments, window.offset)
            while not window.last:
                window = next(track.windows)
                later = transcribe(
                    window.audio,
                    self.settings,
                    language=transcription.info.language,
                    model=options.model,
                )
                yield from shifted(later.segments, window.offset)
            track.duration = window.end  # what was decoded, exactly

        for batch in _batched(
            chunk_segments(recorded(spoken()), options.segmenting, len(kept)), WRITE_BATCH
        ):
            processed = min(batch[-1].end, track.duration)
            while True:
                matrix, packed = embed_units(embedder, batch)
                try:
                    with self.db.connect() as conn:
                        store.write_segments(
                            conn,
                            video_id=video_id,
                            tenant=tenant,
                            chunks=batch,
                            vectors=matrix,
                            model=embedder.name,
                            processed_seconds=processed,
                            sentence_vectors=packed,
                            transcript_tail=transcript[stored:],
                        )
                    break
                except IndexChanged as exc:  # re-indexed meanwhile: the stored units are too
                    embedder = self._embedder = load_embedder(exc.active.model, self.settings)
                    vectors = [embedder.embed([u.text for u in units])] if units else []
            stored = len(transcript)
            units.extend(batch)
            vectors.append(matrix)
            report(
                Progress(
                    "transcribe",
                    processed,
                    track.duration,
                    len(units),
                    video_id,
                    visual.seconds if visual else None,
                )
            )
        return Speech(units, vectors, transcript, track.duration)

    def _index(
        self, video_id, title, source, speech: Speech, options, report, visual, tenant
    ) -> IngestResult:
        """The visual stages' keyframes and screen text, then insights; the video is ready."""
        units, vectors, duration = speech.units, speech.vectors, speech.duration
        visuals, seen = Visuals(), None  # seen: how far the visual stages read
        if visual is not None:
            visuals = self._finish_visual(
                video_id, tenant, visual, duration, len(units), report, required=not speech.audio
            )
            seen = visual.seconds

        insights, insights_status = None, "disabled"
        if options.insights and self.settings.insights_deferred:
            insights_status = "pending"  # the API writes them with the platform's key
        elif options.insights:
            report(Progress("insights", duration, duration, len(units), video_id, seen))
            insights, insights_status = self._insights(video_id, units, vectors, visuals)
        with self.db.connect() as conn:
            store.finish_video(
                conn,
                video_id,
                segment_count=len(units),
                duration=duration,
                transcript=speech.transcript,
                insights=insights,
                insights_status=insights_status,
            )
        report(Progress("done", duration, duration, len(units), video_id, seen))
        return IngestResult(video_id, title, source, duration, len(units), "ready", insights_status)

    def _finish_visual(
        self,
        video_id: str,
        tenant: str,
        run: VisualRun,
        duration: float,
        segments: int,
        report: ProgressFn,
        *,
        required: bool,
    ) -> Visuals:
        """Wait for the visual stages, then store their keyframes and screen text; a failure
        of theirs is recorded on the video and ends nothing else, unless they are ``required``
        (a video without audio: nothing else indexes it). What they saw, for the insights."""
        while not run.wait(1.0):
            report(Progress("visual", duration, duration, segments, video_id, run.seconds))
        try:
            result = run.result()
        except VisualError as exc:
            if required:
                raise
            log.warning("visual stages of %s failed: %s", video_id, exc)
            with self.db.connect() as conn:
                store.set_visual(
                    conn, video_id, VisualStatus.failed, error=str(exc), seconds=run.seconds
                )
            return Visuals()
        chunks = [
            Chunk(-(n + 1), text.start, max(text.end, text.start), text.text)
            for n, text in enumerate(result.texts)
        ]
        keyframes = [(k.t, k.shot, k.jpeg) for k in result.keyframes]
        while True:
            embedder = self.embedder
            matrix, packed = embed_units(embedder, chunks) if chunks else (np.zeros((0, 0)), [])
            try:
                with self.db.connect() as conn:
                    store.write_visual(
                        conn,
                        video_id=video_id,
                        tenant=tenant,
                        keyframes=keyframes,
                        chunks=chunks,
                        vectors=matrix,
                        model=embedder.name,
                        sentence_vectors=packed,
                        seconds=run.seconds,
                    )
                break
            except IndexChanged as exc:
                self._embedder = load_embedder(exc.active.model, self.settings)
        return Visuals(
            [k.t for k in result.keyframes if k.shot],
            [TimedText(t.start, t.end, t.text) for t in result.texts],
        )

    def _insights(
        self, video_id: str, units: list[Chunk], vectors: list[np.ndarray], visuals: Visuals
    ) -> tuple[dict, str]:
        timed = [TimedText(c.start, c.end, c.text) for c in units]
        matrix = np.concatenate(vectors) if vectors else self.embedder.embed([])
        insights, status = insights_or_failure(timed, matrix, self.embedder, self.settings, visuals)
        if status == "failed":
            log.warning("insights for %s failed: %s", video_id, insights["error"])
        return insights, status

    def _fail(self, video_id: str, reason: str, message: str) -> None:
        if stop_requested():  # not a failure of the video: the next run redoes it
            return
        try:
            with self.db.connect() as conn:
                store.fail_video(conn, video_id, reason=reason, message=message)
        except Exception:  # the original error matters more than a failed status write
            log.exception("could not mark %s failed", video_id)
