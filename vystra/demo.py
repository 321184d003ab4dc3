"""A sample talk video made on the spot, and the demo that ingests and searches it.

The talk is synthesised with espeak-ng (one voice, several topics separated by pauses) and
muxed into an MP4 by the packaged static ffmpeg, so no media is shipped with Vystra. The
returned section times let callers check that search lands inside the spoken sentence.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from vystra.media import ffmpeg_exe

TALK: tuple[tuple[str, str], ...] = (
    (
        "volcanoes",
        "Let us begin with volcanoes. A volcano forms when molten rock called magma rises "
        "through cracks in the crust. Pressure from trapped gas builds up until the mountain "
        "erupts, and lava flows down its slopes and cools into new rock.",
    ),
    (
        "sourdough",
        "Now for something from the kitchen: sourdough bread. A sourdough starter is a mix of"
        " flour and water where wild yeast and bacteria live. You feed the starter every day,"
        " then knead it into dough and let it rise slowly overnight before baking.",
    ),
    (
        "jazz",
        "Next, the history of jazz. Jazz was born in New Orleans more than a century ago, "
        "mixing blues, ragtime and brass bands. Musicians like Louis Armstrong made "
        "improvised solos the heart of the music.",
    ),
    (
        "octopus",
        "Our fourth topic is the octopus. An octopus has eight arms covered in suckers and "
        "three hearts. It can change the colour and texture of its skin in a fraction of a "
        "second to hide from predators on the sea floor.",
    ),
    (
        "solar",
        "Let us talk about solar panels. Photovoltaic cells turn sunlight into electricity. "
        "When you install panels on a roof, face them toward the sun, and use an inverter to "
        "convert direct current into the alternating current your home uses.",
    ),
    (
        "marathon",
        "Finally, training for a marathon. Runners build endurance over several months with "
        "one long run every week. Rest days, good shoes and steady hydration keep injuries "
        "away before race day.",
    ),
)

PAUSE_SECONDS = 1.5


@dataclass(frozen=True)
class Section:
    topic: str
    text: str
    start: float
    end: float


def _speak(text: str, out: Path, voice: str, speed: int) -> None:
    try:
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text],
            check=True,
            capture_output=True,
        )
    except FileNotFoundError as exc:
        raise RuntimeError("espeak-ng is not installed; run `make install`") from exc


def make_talk_video(
    out: Path,
    sections: tuple[tuple[str, str], ...] = TALK,
    *,
    voice: str = "en-us",
    speed: int = 165,
    with_video: bool = True,
    pause: float = PAUSE_SECONDS,
) -> list[Section]:
    """Write a talk to ``out`` (MP4 with a video track, or audio-only by extension), with
    ``pause`` seconds of silence after each section."""
    with tempfile.TemporaryDirectory(prefix="vystra-talk-") as tmp:
        frames: list[bytes] = []
        timeline: list[Section] = []
        clock = 0.0
        rate = 22050
        for n, (topic, text) in enumerate(sections):
            wav_path = Path(tmp) / f"{n}.wav"
            _speak(text, wav_path, voice, speed)
            with wave.open(str(wav_path)) as w:
                rate = w.getframerate()
                data = w.readframes(w.getnframes())
                seconds = w.getnframes() / rate
            frames.append(data)
            timeline.append(Section(topic, text, clock, clock + seconds))
            clock += seconds
            frames.append(b"\0\0" * int(pause * rate))
            clock += int(pause * rate) / rate
        speech = Path(tmp) / "talk.wav"
        with wave.open(str(speech), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(b"".join(frames))
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error"]
        if with_video:
            cmd += ["-f", "lavfi", "-i", "color=c=0x203040:s=320x180:r=5"]
        cmd += ["-i", str(speech)]
        if with_video:
            cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        cmd += ["-t", f"{clock:.3f}", "-c:a", "aac", "-b:a", "64k", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
    return timeline


@dataclass(frozen=True)
class Slide:
    seconds: float
    text: str  # shown, never spoken
    colour: str = "navy"
    font: str = "DejaVuSans.ttf"
    size: int = 48


FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))


def _font(name: str) -> Path:
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return folder / name
    raise RuntimeError(f"font {name} is not installed (fonts-dejavu-core, fonts-liberation)")


def make_slides_video(
    out: Path,
    slides: tuple[Slide, ...],
    *,
    sections: tuple[tuple[str, str], ...] = TALK,
    size: str = "1280x720",
) -> list[Section]:
    """Write an MP4 of ``slides`` (text drawn on coloured backgrounds, a hard cut between
    each) over the talk ``sections`` spoken, cut to the slides' length; the talk's timeline.
    No ``sections``: a video without an audio track (a silent screen recording)."""
    with tempfile.TemporaryDirectory(prefix="vystra-slides-") as tmp:
        speech = Path(tmp) / "talk.m4a"
        timeline = make_talk_video(speech, sections, with_video=False) if sections else []
        inputs: list[str] = []
        chains = []
        for n, slide in enumerate(slides):
            inputs += [
                "-f",
                "lavfi",
                "-i",
                f"color=c={slide.colour}:s={size}:r=25:d={slide.seconds}",
            ]
            if not slide.text:
                chains.append(f"[{n}]null[s{n}]")
                continue
            text = Path(tmp) / f"{n}.txt"
            text.write_text(slide.text)
            chains.append(
                f"[{n}]drawtext=fontfile={_font(slide.font)}:textfile={text}:"
                f"fontsize={slide.size}:fontcolor=white:x=(w-text_w)/2:y=(h-text_h)/3[s{n}]"
            )
        joined = "".join(f"[s{n}]" for n in range(len(slides)))
        graph = ";".join(chains) + f";{joined}concat=n={len(slides)}:v=1:a=0[v]"
        audio = ["-i", str(speech)] if sections else []
        audio_out = ["-map", f"{len(slides)}:a", "-c:a", "copy"] if sections else []
        subprocess.run(
            [ffmpeg_exe(), "-y", "-loglevel", "error", *inputs, *audio]
            + ["-filter_complex", graph, "-map", "[v]", *audio_out]
            + ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
            + ["-t", f"{sum(s.seconds for s in slides):.3f}", str(out)],
            check=True,
            capture_output=True,
        )
    return timeline


DEMO_QUERIES = (
    "how do mountains that spew lava come to be",
    "baking bread with wild yeast",
    "improvised music from New Orleans",
    "sea creature that camouflages itself",
    "putting photovoltaic modules on a house",
    "getting ready to run 42 kilometres",
)


def main() -> int:
    """Make the sample talk, ingest it and run a few searches (``make demo``)."""
    from vystra.cli import main as cli

    folder = Path(tempfile.mkdtemp(prefix="vystra-demo-"))
    video = folder / "six_topic_talk.mp4"
    print(f"making a sample talk video with espeak-ng: {video}", flush=True)
    make_talk_video(video)
    if cli(["ingest", str(video), "--title", "Six topics in six minutes"]) != 0:
        return 1
    for query in DEMO_QUERIES:
        print(f"\n$ vystra search {query!r} --limit 1", flush=True)
        if cli(["search", query, "--limit", "1"]) != 0:
            return 1
    print(
        "\nIn a browser: `.venv/bin/vystra tenants create default` prints an API key,"
        " `.venv/bin/vystra serve` starts the API and the web app, then open"
        " http://127.0.0.1:8000/ and sign in with the key.",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
