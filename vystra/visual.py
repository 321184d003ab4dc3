"""The visual index: shots, keyframes and on-screen text, from the video stream.

One static-ffmpeg process decodes the video stream, samples ``SAMPLE_FPS`` frames a second,
and passes on only the frames that start a shot (ffmpeg's scene score, on RGB, over
``threshold``), the first frame, and one at least every ``interval`` seconds within a long
shot, never two within ``MIN_GAP`` (a strobe or a fast montage cannot flood OCR), scaled to fit
an ``ANALYSIS_WIDTH`` square. Each keyframe becomes a JPEG thumbnail and is read by PP-OCRv4
(rapidocr-onnxruntime ships the ONNX models); text that stays on screen across keyframes
becomes one timed unit.

This runs beside transcription, on the same worker: transcription needs the audio stream, this
the video stream. A damaged video stream fails only this stage (:class:`VisualError`); speech
indexing goes on.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from vystra.errors import VystraError
from vystra.media import MediaInfo, ffmpeg_exe, input_whitelist_args

ANALYSIS_WIDTH = 960  # larger frames are scaled down to fit 960×960: PP-OCR reads 16 px text
DET_WIDTH = 640  # where text is looked for (then read at ANALYSIS_WIDTH)
THUMB_WIDTH = 320
SAMPLE_FPS = 4  # cuts are found to within 1/SAMPLE_FPS s
MIN_GAP = 1.0  # seconds between two keyframes at least
OCR_MIN_SCORE = 0.6  # recognition confidence under which a line is dropped
SAME_TEXT = 0.85  # similarity above which consecutive keyframes show the same text
# pixels that change by less than this (mean absolute, 0-255) leave a frame's text as it was
STILL_FRAME = 2.0
# the visual stages yield the cores to transcription, whose threads wait on each other, and
# take what it leaves (decoding, embedding and writes run on one core)
BACKGROUND_NICENESS = 10
STOP_WAIT_SECONDS = 30.0  # how long a stopped ingest waits for the visual thread

log = logging.getLogger(__name__)

_SHOWINFO = re.compile(r"\bn:\s*(\d+).*?\bpts_time:\s*(-?[\d.]+).*?\bs:(\d+)x(\d+)")
_SCORE = re.compile(r"lavfi\.scene_score=([\d.]+)")


class VisualError(VystraError):
    """The video stream could not be analysed; speech indexing is unaffected."""

    reason = "VisualFailed"


@dataclass(frozen=True)
class VisualOptions:
    enabled: bool = True
    interval: float = 10.0  # seconds: a keyframe at least this often within a long shot
    threshold: float = 0.3  # ffmpeg scene score (0-1) over which a frame starts a shot
    ocr: bool = True

    def __post_init__(self) -> None:
        if not 1.0 <= self.interval <= 600.0:
            raise VystraError("visual interval must be between 1 and 600 seconds")
        if not 0.05 <= self.threshold <= 1.0:
            raise VystraError("visual threshold must be between 0.05 and 1")


@dataclass(frozen=True)
class Frame:
    t: float  # seconds on the video's clock
    shot: bool  # starts a shot (else: sampled within one, or the first frame)
    image: np.ndarray  # RGB, uint8, height × width × 3


@dataclass(frozen=True)
class Keyframe:
    t: float
    shot: bool
    jpeg: bytes  # THUMB_WIDTH wide


@dataclass(frozen=True)
class ScreenText:
    start: float
    end: float
    text: str


@dataclass
class VisualResult:
    keyframes: list[Keyframe] = field(default_factory=list)
    texts: list[ScreenText] = field(default_factory=list)
    ocr_frames: int = 0  # keyframes OCR read (still frames reuse the text before them)
    ocr_seconds: float = 0.0


def frames(
    info: MediaInfo, options: VisualOptions, max_seconds: float | None = None
) -> Iterator[Frame]:
    """The keyframes of ``info``'s first video stream, in order (see the module's doc)."""
    select = (
        f"isnan(prev_selected_t)+gte(t-prev_selected_t,{MIN_GAP})"
        f"*(gt(scene,{options.threshold})+gte(t-prev_selected_t,{options.interval}))"
    )
    command = [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "info",
        *input_whitelist_args(),
        # frames no other frame refers to (most B-frames) are not decoded: half the frames of
        # a typical H.264 stream, at no cost to cuts (encoders put a reference frame there);
        # one decoding thread: the other core is transcribing
        "-skip_frame",
        "noref",
        "-threads",
        "1",
        "-i",
        str(info.path),
        *(("-t", f"{max_seconds:.3f}") if max_seconds else ()),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-vf",
        # scaled after selecting (the few keyframes only), to fit a square of ANALYSIS_WIDTH:
        # a hostile 100,000-pixel-tall stream stays small
        # the scene score on planar RGB: on YUV, ffmpeg compares brightness only, and a cut
        # between two dark shots, or two colours of one brightness, would go unseen
        f"fps={SAMPLE_FPS},format=gbrp,select='{select}',"
        f"scale=w='min({ANALYSIS_WIDTH},iw)':h='min({ANALYSIS_WIDTH},ih)'"
        ":force_original_aspect_ratio=decrease:force_divisible_by=2:flags=area,"
        "metadata=print:key=lavfi.scene_score,showinfo",
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:1",
    ]
    found: queue.Queue[tuple[float, float, int, int] | None] = queue.Queue()
    tail: list[str] = []
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader = threading.Thread(
        target=_read_log, args=(cast(IO[bytes], proc.stderr), found, tail), daemon=True
    )
    reader.start()
    out = cast(io.BufferedReader, proc.stdout)
    count, ended = 0, False
    try:
        while (meta := found.get()) is not None:
            t, score, width, height = meta
            raw = out.read(width * height * 3)
            if len(raw) < width * height * 3:
                break
            image = np.frombuffer(raw, np.uint8).reshape(height, width, 3)
            # the first frame starts the first shot
            yield Frame(round(t, 3), count == 0 or score > options.threshold, image)
            count += 1
        ended = True
    finally:
        if not ended:  # the caller stopped reading
            proc.kill()
        out.close()
        code = proc.wait()
        reader.join()
    if code != 0 or count == 0:
        raise VisualError(
            f"the video stream of {info.path.name} cannot be decoded: {_reason(tail, code)}"
        )


# ffmpeg's own follow-up lines, which say that it stopped rather than why
_CONSEQUENCES = ("Terminating thread", "Task finished", "Nothing was written", "open encoder")


def _reason(log: list[str], code: int) -> str:
    """The first message of a demuxer, decoder or filter that says what went wrong."""
    for line in log:
        if line.startswith("[") and not any(c in line for c in _CONSEQUENCES):
            return re.sub(r"^(\[[^\]]*\]\s*)+", "", line)
    return "no frame could be decoded" if code == 0 else f"ffmpeg exited with {code}"


def _read_log(
    stderr: IO[bytes], found: queue.Queue[tuple[float, float, int, int] | None], tail: list[str]
) -> None:
    """Each frame's time, scene score and size, from ffmpeg's log, as it passes the filters;
    the first lines that are neither (the reason, when ffmpeg fails)."""
    score = 0.0
    try:
        for raw in stderr:
            line = raw.decode(errors="replace").rstrip()
            if (m := _SCORE.search(line)) is not None:
                score = float(m.group(1))
            elif "Parsed_showinfo" in line and (m := _SHOWINFO.search(line)) is not None:
                found.put((float(m.group(2)), score, int(m.group(3)), int(m.group(4))))
                score = 0.0
            elif (
                line
                and len(tail) < 40  # the first lines say why
                and "Parsed_" not in line
                and not line.startswith((" ", "frame="))
            ):
                tail.append(line)
    finally:
        stderr.close()
        found.put(None)


def thumbnail(image: np.ndarray) -> bytes:
    from PIL import Image

    picture = Image.fromarray(image)
    height = max(1, round(picture.height * THUMB_WIDTH / picture.width))
    small = picture.resize((THUMB_WIDTH, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=75, optimize=True)
    return buffer.getvalue()


class Ocr:
    """PP-OCRv4 detection and recognition (ONNX Runtime, one thread each: transcription has
    the other core). The models are rapidocr-onnxruntime's, or the files given.

    Text is found on the frame scaled to DET_WIDTH (detection costs by the pixel: a 3.5th of
    its time at 960) and read from the frame itself, so small captions keep their detail."""

    def __init__(self, det_model: Path | None = None, rec_model: Path | None = None) -> None:
        from rapidocr_onnxruntime import RapidOCR

        paths: dict[str, Any] = {}
        if det_model is not None:
            paths["det_model_path"] = str(det_model)
        if rec_model is not None:
            paths["rec_model_path"] = str(rec_model)
        # "max": never enlarge what it is given (the default "min" upscales to 736 px)
        self._engine = RapidOCR(
            det_limit_type="max",
            use_cls=False,  # screen text is upright
            intra_op_num_threads=1,
            inter_op_num_threads=1,
            **paths,
        )

    def read(self, image: np.ndarray) -> str:
        """The frame's text lines, top to bottom and left to right, one per line."""
        import cv2

        bgr = np.ascontiguousarray(image[:, :, ::-1])
        scale = min(1.0, DET_WIDTH / max(bgr.shape[:2]))
        small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        boxes, _ = self._engine.text_det(small)
        if boxes is None or len(boxes) == 0:
            return ""
        boxes = np.array(self._engine.sorted_boxes(boxes), dtype=np.float32) / scale
        read, _ = self._engine.text_rec(self._engine.get_crop_img_list(bgr, boxes))
        lines = []
        for box, (text, score, *_) in zip(boxes, read, strict=True):
            if float(score) >= OCR_MIN_SCORE and sum(c.isalnum() for c in text) >= 2:
                top, left = float(box[:, 1].min()), float(box[:, 0].min())
                height = float(box[:, 1].max()) - top
                lines.append((round(top / max(height, 1.0)), left, text.strip()))
        return "\n".join(text for *_, text in sorted(lines))


@lru_cache(maxsize=2)
def ocr_engine(det_model: Path | None = None, rec_model: Path | None = None) -> Ocr:
    return Ocr(det_model, rec_model)


def _same(a: str, b: str) -> bool:
    return a == b or SequenceMatcher(None, a, b, autojunk=False).ratio() >= SAME_TEXT


def analyse(
    info: MediaInfo,
    options: VisualOptions,
    *,
    ocr: Ocr | None,
    max_seconds: float | None = None,
    on_frame: Callable[[float], None] = lambda _t: None,
) -> VisualResult:
    """Keyframes and on-screen text of ``info``'s video stream. Text shown on consecutive
    keyframes is one unit, from its first keyframe to the keyframe that no longer shows it.
    ``on_frame``: called with each keyframe's time (progress)."""
    import time

    result = VisualResult()
    open_text: ScreenText | None = None
    last_small: np.ndarray | None = None
    last_text = ""
    for frame in frames(info, options, max_seconds):
        result.keyframes.append(Keyframe(frame.t, frame.shot, thumbnail(frame.image)))
        if ocr is not None:
            small = frame.image[::8, ::8].astype(np.int16)
            still = (
                last_small is not None
                and small.shape == last_small.shape
                and float(np.abs(small - last_small).mean()) < STILL_FRAME
            )
            if not still:
                began = time.perf_counter()
                last_text = ocr.read(frame.image)
                result.ocr_seconds += time.perf_counter() - began
                result.ocr_frames += 1
            last_small = small
            if open_text is not None and not _same(open_text.text, last_text):
                result.texts.append(ScreenText(open_text.start, frame.t, open_text.text))
                open_text = None
            if open_text is None and last_text:
                open_text = ScreenText(frame.t, frame.t, last_text)
        on_frame(frame.t)
    if open_text is not None:
        end = max(info.duration, open_text.start)
        result.texts.append(ScreenText(open_text.start, end, open_text.text))
    return result


class Stopped(Exception):
    """Raised inside a background analysis that its ingest stopped."""


class VisualRun:
    """:func:`analyse` in a thread of its own, beside transcription. ``seconds``: how far into
    the video it has got (progress)."""

    def __init__(
        self,
        info: MediaInfo,
        options: VisualOptions,
        *,
        ocr: Callable[[], Ocr] | None,
        max_seconds: float | None = None,
    ) -> None:
        self.seconds = 0.0
        self._stop = threading.Event()
        self._result: VisualResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(info, options, ocr, max_seconds), daemon=True
        )
        self._thread.start()

    def _run(self, info, options, ocr, max_seconds) -> None:
        if sys.platform == "linux":  # a thread's own niceness, inherited by its ffmpeg
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)

        def seen(t: float) -> None:
            self.seconds = t
            if self._stop.is_set():
                raise Stopped

        try:
            engine = ocr() if ocr is not None else None
            self._result = analyse(
                info, options, ocr=engine, max_seconds=max_seconds, on_frame=seen
            )
        except BaseException as exc:  # handed to the ingest, which decides what it means
            self._error = exc

    def wait(self, timeout: float) -> bool:
        """True once the analysis has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop at the next keyframe (the ingest failed or was interrupted). Bounded: a stop
        must end the process even if the thread is stuck (the thread is a daemon, and its ffmpeg
        ends on the closed pipe)."""
        self._stop.set()
        self._thread.join(STOP_WAIT_SECONDS)
        if self._thread.is_alive():
            log.warning("visual stages did not stop within %.0f s; left behind", STOP_WAIT_SECONDS)

    def result(self) -> VisualResult:
        """Wait for the analysis; :class:`VisualError` with the reason if it failed."""
        self._thread.join()
        if isinstance(self._error, VisualError):
            raise self._error
        if self._error is not None:
            raise VisualError(f"{type(self._error).__name__}: {self._error}") from self._error
        assert self._result is not None
        return self._result
