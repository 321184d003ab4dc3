"""Ingest speed: the whole pipeline against faster-whisper alone, on the same file, same run.

faster-whisper alone decodes the file and transcribes it with the options the pipeline uses.
The pipeline adds hashing, probing, ffmpeg decoding, segmenting, embedding, COPY into pgvector
and insights. ratio = baseline time / pipeline time (1.0: no overhead; target >= 0.9).
Real-time factor (RTF) = processing time / media duration (lower is faster).

    python benchmarks/ingest_bench.py [--repeat 3] [--copies 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from vystra.db import open_database
from vystra.demo import TALK, make_talk_video
from vystra.media import probe
from vystra.pipeline import IngestOptions, Pipeline
from vystra.settings import Settings
from vystra.transcribe import _load_whisper, resolve_device, whisper_model_ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=2, help="talk repetitions (90 s each)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vystra-bench-"))
    settings = Settings(home=work / "home", database_url=None, groq_api_key=None)
    video = work / "talk.mp4"
    make_talk_video(video, TALK * args.copies)
    duration = probe(video).duration

    device, compute = resolve_device(settings.whisper_device, settings.whisper_compute_type)
    whisper = _load_whisper(whisper_model_ref(settings), device, compute, settings.whisper_threads)

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

    with open_database(settings) as db:
        pipeline = Pipeline(settings, db)

        def whole() -> float:
            start = time.perf_counter()
            pipeline.ingest(str(video), IngestOptions(), tenant=f"bench-{uuid.uuid4().hex[:8]}")
            return time.perf_counter() - start

        whole()  # warm-up: embedding model load, first connections
        baseline()
        base_times, pipe_times = [], []
        for _ in range(args.repeat):  # interleaved so drift affects both alike
            base_times.append(baseline())
            pipe_times.append(whole())

    base, pipe = statistics.median(base_times), statistics.median(pipe_times)
    print(f"media: {duration:.1f} s of speech ({args.copies} x talk), device {device}/{compute}")
    print(f"faster-whisper alone  median {base:6.2f} s   RTF {base / duration:.3f}")
    print(f"whole pipeline        median {pipe:6.2f} s   RTF {pipe / duration:.3f}")
    print(f"ratio (baseline / pipeline): {base / pipe:.3f}   (target >= 0.9)")


if __name__ == "__main__":
    main()
