"""Retrieval quality: do paraphrased questions find the right moment, and does the link start
at the words that answer?

Generates the library of benchmarks/retrieval_library.py (8 talks, 8 espeak-ng voices and
speeds, pink noise under some, a synthetic chord before others), ingests it with the real
pipeline (faster-whisper tiny.en, MiniLM, embedded Postgres) and asks 40 paraphrased questions
in each mode. A hit is a moment of the answering video whose span covers the start of the
answering sentence (1 s tolerance for Whisper's timing). Reported per mode:

- top-1: the first moment is a hit; MRR@5: mean reciprocal rank of the first hit in five;
- link error: seconds between where the first moment's link plays and where the answering
  sentence starts (mean, and share within 2 s), next to the same for the unit's start (what
  links used before issue #14);
- relevance of the first moment for answered questions and for five questions the library
  cannot answer (relevance means the same in every mode, so these should be far apart).

    python benchmarks/retrieval_eval.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
import wave
from pathlib import Path

from retrieval_library import LIBRARY, QUESTIONS, Talk

from vystra.db import open_database
from vystra.media import ffmpeg_exe
from vystra.pipeline import IngestOptions, Pipeline
from vystra.reindex import active_embedder
from vystra.search import Hit, Mode, search
from vystra.settings import Settings

GAP_SECONDS = 0.4  # silence between sentences: shorter than the segmenter's pause
TOLERANCE = 1.0
TENANT = "retrieval-eval"
UNANSWERABLE = (
    "how do vaccines train the immune system",
    "the rules of cricket explained",
    "best way to invest in index funds",
    "how do airplanes stay in the air",
    "writing a cover letter for a job",
)


def make_talk(talk: Talk, out: Path, tmp: Path) -> list[float]:
    """Write ``talk`` as an MP4 and return when each sentence starts in it."""
    frames, starts, clock, rate = [], [], 0.0, 22050
    for n, sentence in enumerate(talk.sentences):
        path = tmp / f"{out.stem}-{n}.wav"
        subprocess.run(
            ["espeak-ng", "-v", talk.voice, "-s", str(talk.speed), "-w", str(path), sentence],
            check=True,
            capture_output=True,
        )
        with wave.open(str(path)) as w:
            rate = w.getframerate()
            frames.append(w.readframes(w.getnframes()))
            starts.append(talk.lead_in + clock)
            clock += w.getnframes() / rate
        frames.append(b"\0\0" * int(GAP_SECONDS * rate))
        clock += GAP_SECONDS
    speech = tmp / f"{out.stem}.wav"
    with wave.open(str(speech), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(frames))
    total = talk.lead_in + clock
    inputs = ["-f", "lavfi", "-i", "color=c=0x302018:s=320x180:r=5", "-i", str(speech)]
    graph = [f"[1:a]adelay={int(talk.lead_in * 1000)}:all=1[speech]"]
    mix = ["[speech]"]
    if talk.lead_in:
        # a chord that swells and fades, like a jingle before the talk
        for i, freq in enumerate((220.0, 277.18, 329.63)):
            inputs += ["-f", "lavfi", "-i", f"sine=f={freq}:r={rate}:d={talk.lead_in}"]
            graph.append(f"[{inputs.count('-i') - 1}:a]volume=0.15[tone{i}]")
        graph.append(
            "[tone0][tone1][tone2]amix=inputs=3:normalize=0,"
            f"tremolo=f=4:d=0.6,afade=t=out:st={max(talk.lead_in - 1.0, 0)}:d=1[music]"
        )
        mix.append("[music]")
    if talk.noise:
        inputs += [
            "-f",
            "lavfi",
            "-i",
            f"anoisesrc=color=pink:amplitude={talk.noise}:r={rate}:d={total:.3f}:seed=14",
        ]
        graph.append(f"[{inputs.count('-i') - 1}:a]anull[noise]")
        mix.append("[noise]")
    graph.append(f"{''.join(mix)}amix=inputs={len(mix)}:normalize=0:duration=longest[aout]")
    subprocess.run(
        [ffmpeg_exe(), "-y", "-loglevel", "error", *inputs]
        + ["-filter_complex", ";".join(graph), "-map", "0:v", "-map", "[aout]"]
        + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        + ["-t", f"{total:.3f}", "-c:a", "aac", "-b:a", "96k", str(out)],
        check=True,
        capture_output=True,
    )
    return starts


def rank_of_answer(hits: list[Hit], video_id: str, answer_start: float) -> int | None:
    for rank, hit in enumerate(hits, start=1):
        covers = hit.unit_start - TOLERANCE <= answer_start <= hit.end + TOLERANCE
        if hit.video_id == video_id and covers:
            return rank
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="folder for the media and database (reused)")
    parser.add_argument(
        "--verbose", action="store_true", help="list links more than 2 s from their answer"
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="vystra-retrieval-"))
    (work / "media").mkdir(parents=True, exist_ok=True)
    settings = Settings(home=work / "home", database_url=None, groq_api_key=None)

    started = time.perf_counter()
    videos: list[tuple[Path, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, talk in enumerate(LIBRARY):
            out = work / "media" / f"talk{n}.mp4"
            videos.append((out, make_talk(talk, out, Path(tmp))))
    print(f"made {len(videos)} talks in {time.perf_counter() - started:.0f} s", flush=True)

    with open_database(settings) as db:
        pipeline = Pipeline(settings, db)
        started = time.perf_counter()
        ids = [
            pipeline.ingest(
                str(path), IngestOptions(title=talk.title, insights=False), tenant=TENANT
            ).video_id
            for talk, (path, _) in zip(LIBRARY, videos, strict=True)
        ]
        print(f"ingested in {time.perf_counter() - started:.0f} s", flush=True)
        embedder = active_embedder(db, settings)
        rows = []
        with db.connect() as conn:
            runs = [(m, r) for m in Mode for r in (True, False) if r or m is not Mode.keyword]
            for mode, rerank in runs:
                label = mode.value if rerank else f"{mode.value}, no rerank"
                ranks, link_err, unit_err, rel_hit, rel_none, misses = [], [], [], [], [], []
                for talk_n, sentence_n, question in QUESTIONS:
                    answer = videos[talk_n][1][sentence_n]
                    hits = search(
                        conn, embedder, question, tenant=TENANT, mode=mode, limit=5, rerank=rerank
                    )
                    rank = rank_of_answer(hits, ids[talk_n], answer)
                    ranks.append(rank)
                    if rank == 1:
                        link_err.append(abs(hits[0].start - answer))
                        if args.verbose and link_err[-1] > 2.0:
                            print(
                                f"{label}: {question!r}: link {hits[0].start:.1f} s,"
                                f" answer {answer:.1f} s, unit {hits[0].unit_start:.1f} s:"
                                f" {hits[0].text!r}"
                            )
                        unit_err.append(abs(hits[0].unit_start - answer))
                        rel_hit.append(hits[0].relevance)
                    else:
                        misses.append(question)
                for question in UNANSWERABLE:
                    hits = search(
                        conn, embedder, question, tenant=TENANT, mode=mode, limit=1, rerank=rerank
                    )
                    rel_none.append(hits[0].relevance if hits else 0.0)
                rows.append((label, ranks, link_err, unit_err, rel_hit, rel_none))
                if misses:
                    print(f"{label} misses: {misses}")

    def mean(xs: list[float]) -> float:
        return statistics.fmean(xs) if xs else float("nan")

    print(
        f"\n{len(QUESTIONS)} questions, {len(LIBRARY)} videos\n\n"
        "| mode | top-1 | MRR@5 | link error, mean | link within 2 s | unit start error, mean"
        " | relevance: answered / unanswerable |\n|---|---|---|---|---|---|---|"
    )
    for label, ranks, link_err, unit_err, rel_hit, rel_none in rows:
        top1 = sum(r == 1 for r in ranks) / len(ranks)
        mrr = mean([1 / r if r else 0.0 for r in ranks])
        within = sum(e <= 2.0 for e in link_err) / len(link_err) if link_err else float("nan")
        print(
            f"| {label} | {top1:.3f} | {mrr:.3f} | {mean(link_err):.2f} s | {within:.0%}"
            f" | {mean(unit_err):.2f} s | {mean(rel_hit):.2f} / {mean(rel_none):.2f} |"
        )


if __name__ == "__main__":
    main()
