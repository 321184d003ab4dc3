"""Ingest speed: the whole pipeline against faster-whisper alone, on the same file, same run.

faster-whisper alone decodes the file and transcribes it with the options the pipeline uses.
The pipeline adds hashing, probing, ffmpeg decoding, segmenting, embedding, COPY into pgvector
and insights. ratio = baseline time / pipeline time (1.0: no overhead; target >= 0.9).
Real-time factor (RTF) = processing time / media duration (lower is faster).

The file is a 720p slide deck (a new slide every ``--slide-seconds``, its text never spoken)
over the talk, so the pipeline is also timed with its visual stages (shots, keyframes, OCR)
against speech alone: visual / speech (target <= 1.25 at the default sampling), for a lecture's
pace (a slide every 30 s) and a dense one (every 8 s). OCR's own throughput (keyframes read a
second, on the one core it uses) is measured apart.

    python benchmarks/ingest_bench.py [--repeat 3] [--copies 2] [--slide-seconds 30 8]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from vystra.db import open_database
from vystra.demo import TALK, Slide, make_slides_video
from vystra.media import probe
from vystra.pipeline import IngestOptions, Pipeline
from vystra.settings import Settings
from vystra.transcribe import _load_whisper, resolve_device, whisper_model_ref
from vystra.visual import VisualOptions, analyse, ocr_engine

COLOURS = ("navy", "darkgreen", "maroon", "indigo", "darkslategray", "saddlebrown")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=2, help="talk repetitions (90 s each)")
    parser.add_argument("--slide-seconds", type=float, nargs="+", default=[30.0, 8.0])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vystra-bench-"))
    settings = Settings(home=work / "home", database_url=None, groq_api_key=None)
    device, compute = resolve_device(settings.whisper_device, settings.whisper_compute_type)
    whisper = _load_whisper(whisper_model_ref(settings), device, compute, settings.whisper_threads)
    with open_database(settings) as db:
        pipeline = Pipeline(settings, db)
        for pace in args.slide_seconds:
            video = work / f"talk-{pace:g}.mp4"
            count = make_deck(video, pace, args.copies)
            measure(video, count, pipeline, whisper, settings, args.repeat)
            print(f"  ({device}/{compute}, {args.copies} x talk)")


def make_deck(video: Path, pace: float, copies: int) -> int:
    """The talk under a slide every ``pace`` seconds (each slide's text never spoken)."""
    count = int(93.0 * copies // pace)  # cut to the slides' length; the talk runs this long
    slides = tuple(
        Slide(
            pace,
            f"{TALK[n % len(TALK)][0].title()}, part {n + 1}: key facts",
            COLOURS[n % len(COLOURS)],
            size=40 + 8 * (n % 3),
        )
        for n in range(count)
    )
    make_slides_video(video, slides, sections=TALK * copies)
    return count


def measure(video: Path, count: int, pipeline: Pipeline, whisper, settings, repeat: int) -> None:
    info = probe(video)
    duration = info.duration

    def baseline() -> float:
        start = time.perf_counter()
        segments, _ = whisper.transcribe(
            str(video),
            beam_size=settings.whisper_beam_size,
            vad_filter=True,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        for _ in segments:
            pass
        return time.perf_counter() - start

    def whole(visual: bool) -> float:
        options = IngestOptions(visual=VisualOptions(enabled=visual))
        start = time.perf_counter()
        pipeline.ingest(str(video), options, tenant=f"bench-{uuid.uuid4().hex[:8]}")
        return time.perf_counter() - start

    whole(True)  # warm-up: embedding and OCR model loads, first connections
    baseline()
    base_times, speech_times, visual_times = [], [], []
    for _ in range(repeat):  # interleaved so drift affects all alike
        base_times.append(baseline())
        speech_times.append(whole(False))
        visual_times.append(whole(True))

    started = time.perf_counter()
    seen = analyse(info, VisualOptions(), ocr=ocr_engine())
    alone = time.perf_counter() - started
    base = statistics.median(base_times)
    speech, visual = statistics.median(speech_times), statistics.median(visual_times)
    pace = duration / count
    print(f"media: {duration:.1f} s of speech over {count} slides (one every {pace:.0f} s), 720p")
    print(f"  faster-whisper alone     median {base:6.2f} s   RTF {base / duration:.3f}")
    print(f"  pipeline, speech only    median {speech:6.2f} s   RTF {speech / duration:.3f}")
    print(f"  pipeline, with visual    median {visual:6.2f} s   RTF {visual / duration:.3f}")
    print(f"  ratio (baseline / speech-only pipeline): {base / speech:.3f}   (target >= 0.9)")
    print(f"  ratio (with visual / speech only): {visual / speech:.3f}   (target <= 1.25)")
    print(
        f"  visual stages alone: {alone:.2f} s, {len(seen.keyframes)} keyframes,"
        f" {len(seen.texts)} texts; OCR read {seen.ocr_frames} frames in"
        f" {seen.ocr_seconds:.2f} s = {seen.ocr_frames / max(seen.ocr_seconds, 1e-9):.2f} frames/s"
    )


if __name__ == "__main__":
    main()
