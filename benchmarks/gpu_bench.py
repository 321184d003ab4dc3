"""GPU transcription: CUDA float16 against CPU int8, and two workers sharing one GPU against
one, on the same file in the same run.

Each measurement runs in a fresh process the way a worker's transcription stage does
(vystra.media.decode_audio windows into vystra.transcribe.transcribe, the packaged or
configured Whisper model): ``cpu`` (int8), ``gpu`` (float16), then two ``gpu`` processes at
once. speed-up = CPU time / GPU time; sharing = (2 × one worker's time) / the pair's time
(1.0: no gain from packing two workers on one GPU; 2.0: twice the throughput).

Without a CUDA device it says so and exits 0: the rest of the project needs no GPU.

    python benchmarks/gpu_bench.py [--copies 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vystra.demo import TALK, make_talk_video
from vystra.media import decode_audio, probe
from vystra.settings import Settings
from vystra.transcribe import transcribe


def run_one(path: Path, device: str) -> None:
    """In the child: transcribe ``path`` on ``device``; print seconds and segments."""
    compute = "float16" if device == "cuda" else "int8"
    settings = Settings(
        database_url=None, groq_api_key=None, whisper_device=device, whisper_compute_type=compute
    )
    start, segments = time.perf_counter(), 0
    for window in decode_audio(probe(path), window_seconds=settings.decode_window_seconds):
        segments += sum(1 for _ in transcribe(window.audio, settings, language="en").segments)
    print(json.dumps({"seconds": time.perf_counter() - start, "segments": segments}))


def child(path: Path, device: str) -> subprocess.Popen[str]:
    args = [sys.executable, __file__, "--child", str(path), "--device", device]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


def result(proc: subprocess.Popen[str]) -> dict:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"a benchmark process failed with exit status {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="talk repetitions (90 s each)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.child, args.device)
        return

    import ctranslate2

    gpus = ctranslate2.get_cuda_device_count()
    if gpus == 0:
        print(
            "No CUDA device is visible (ctranslate2 sees 0 GPUs): the GPU benchmark did not run."
            " Run it on a machine with an NVIDIA GPU, its driver and the CUDA 12 runtime"
            " libraries (pip: nvidia-cublas-cu12, nvidia-cudnn-cu12)."
        )
        return

    work = Path(tempfile.mkdtemp(prefix="vystra-gpu-bench-"))
    video = work / "talk.mp4"
    make_talk_video(video, TALK * args.copies)
    media = probe(video).duration
    cpu = result(child(video, "cpu"))
    gpu = result(child(video, "cuda"))
    started = time.perf_counter()
    pair = [result(p) for p in [child(video, "cuda"), child(video, "cuda")]]
    pair_seconds = time.perf_counter() - started

    print(f"{media:.0f} s of speech, {gpus} CUDA device(s)")
    for name, r in (("CPU int8", cpu), ("GPU float16", gpu)):
        print(
            f"{name:>12}: {r['seconds']:7.2f} s, RTF {r['seconds'] / media:.4f},"
            f" {r['segments']} segments"
        )
    print(f"GPU speed-up over CPU: x{cpu['seconds'] / gpu['seconds']:.1f}")
    each = ", ".join(f"{r['seconds']:.2f} s" for r in pair)
    print(
        f"two workers on one GPU: {pair_seconds:.2f} s for both ({each} each);"
        f" sharing x{2 * gpu['seconds'] / pair_seconds:.2f} the throughput of one"
    )


if __name__ == "__main__":
    main()
