"""Memory of decoding and transcribing a long video: whole track against windows, same run.

The talk (90 s) looped to ``--minutes`` as an audio-only file, then decoded and transcribed
(faster-whisper, the pipeline's options) in a fresh process per mode, which reports its peak
RSS: the whole track in one buffer (how the pipeline decoded before windows) and in windows of
``--window`` seconds (the default, VYSTRA_DECODE_WINDOW_SECONDS). ratio = windowed / whole.

    python benchmarks/decode_memory_bench.py [--minutes 60] [--window 1800]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vystra.demo import TALK, make_talk_video
from vystra.media import decode_audio, ffmpeg_exe, probe
from vystra.settings import Settings
from vystra.transcribe import transcribe


def run_one(path: Path, window: float | None) -> None:
    """In the child: decode and transcribe ``path``; print seconds, segments and peak RSS."""
    settings = Settings(database_url=None, groq_api_key=None)
    start, segments = time.perf_counter(), 0
    for part in decode_audio(probe(path), window_seconds=window):
        segments += sum(1 for _ in transcribe(part.audio, settings, language="en").segments)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"seconds": time.perf_counter() - start, "segments": segments, "peak": peak}))


def measure(path: Path, window: float | None) -> dict:
    args = [sys.executable, __file__, "--child", str(path)]
    if window is not None:
        args += ["--window", str(window)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument(
        "--window", type=float, default=Settings.model_fields["decode_window_seconds"].default
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.child, args.window if "--window" in sys.argv else None)
        return

    work = Path(tempfile.mkdtemp(prefix="vystra-decode-bench-"))
    talk, long = work / "talk.mp4", work / "long.m4a"
    make_talk_video(talk, TALK)
    loops = max(0, int(args.minutes * 60 / probe(talk).duration) - 1)
    subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-stream_loop",
            str(loops),
            "-i",
            str(talk),
            "-vn",
            "-c:a",
            "copy",
            str(long),
        ],
        check=True,
    )
    minutes = probe(long).duration / 60
    whole = measure(long, None)
    windowed = measure(long, args.window)
    mib = 1024**2
    print(f"{minutes:.1f} min of audio, 16 kHz float32 = {minutes * 60 * 16_000 * 4 / mib:.0f} MiB")
    for name, r in (("whole track", whole), (f"windows of {args.window:.0f} s", windowed)):
        print(
            f"{name:>20}: peak RSS {r['peak'] / mib:7.0f} MiB, {r['seconds']:6.1f} s,"
            f" {r['segments']} segments"
        )
    print(
        f"windowed / whole: memory x{windowed['peak'] / whole['peak']:.2f},"
        f" time x{windowed['seconds'] / whole['seconds']:.2f}"
    )


if __name__ == "__main__":
    main()
