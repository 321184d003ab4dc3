"""The visual index on generated media: shots, keyframes, on-screen text and their failures."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vystra.db import store
from vystra.demo import TALK, Slide, make_slides_video, make_talk_video
from vystra.embed import get_embedder
from vystra.errors import NoAudioError, VystraError
from vystra.media import probe
from vystra.pipeline import IngestOptions
from vystra.search import Filters, Mode, search_page
from vystra.segment import Modality
from vystra.visual import THUMB_WIDTH, VisualError, VisualOptions, frames

# shown, never spoken: only the visual index can find them
SLIDES = (
    Slide(6.0, "Quarterly revenue forecast for Europe", "navy", "DejaVuSans.ttf", 56),
    Slide(6.0, "Kubernetes operator internals", "darkgreen", "LiberationSerif-Bold.ttf", 40),
    Slide(5.0, "Password rotation checklist", "maroon", "DejaVuSansMono.ttf", 30),
    Slide(7.0, "Underwater archaeology expedition", "indigo", "LiberationSans-Regular.ttf", 64),
)


def same_letters(a: str, b: str) -> bool:
    return a.lower().replace(" ", "") == b.lower().replace(" ", "")


def spans(slides):
    start = 0.0
    for slide in slides:
        yield slide, start, start + slide.seconds
        start += slide.seconds


@pytest.fixture(scope="module")
def slides_video(media_dir: Path) -> Path:
    path = media_dir / "slides.mp4"
    make_slides_video(path, SLIDES, sections=TALK[:2])
    return path


@pytest.fixture(scope="module")
def ingested_slides(pipeline, slides_video):
    tenant = "slides-fixture"
    return tenant, pipeline.ingest(str(slides_video), tenant=tenant)


def test_shot_boundaries_are_found_within_half_a_second(tmp_path):
    cuts = [3.0, 7.4, 12.2, 14.9]
    lengths = np.diff([0.0, *cuts, 18.0])
    colours = ["navy", "orange", "darkgreen", "white", "maroon"]
    path = tmp_path / "cuts.mp4"
    make_slides_video(
        path, tuple(Slide(float(s), "", c) for s, c in zip(lengths, colours, strict=True))
    )
    found = [f.t for f in frames(probe(path), VisualOptions()) if f.shot]
    assert found[0] == 0.0  # the first frame starts the first shot
    assert len(found[1:]) == len(cuts), found
    for cut, t in zip(cuts, found[1:], strict=True):
        assert abs(cut - t) <= 0.5, (cut, t)


def test_a_long_shot_gets_a_keyframe_every_interval(tmp_path):
    path = tmp_path / "long.mp4"
    make_slides_video(path, (Slide(25.0, "One long slide"),), sections=TALK[:1])
    keyframes = [(f.t, f.shot) for f in frames(probe(path), VisualOptions(interval=10.0))]
    assert [shot for _, shot in keyframes] == [True, False, False]
    assert [t for t, _ in keyframes] == pytest.approx([0.0, 10.0, 20.0], abs=0.25)


def test_bad_sampling_options_are_refused():
    with pytest.raises(VystraError, match="interval"):
        VisualOptions(interval=0.1)
    with pytest.raises(VystraError, match="threshold"):
        VisualOptions(threshold=2.0)


def test_slides_are_keyframed_and_read(ingested_slides, db):
    tenant, result = ingested_slides
    with db.connect() as conn:
        video = store.get_video(conn, tenant, result.video_id)
        keyframes = store.list_keyframes(conn, tenant, result.video_id)
        screen = conn.execute(
            "SELECT start_s, end_s, text FROM segments WHERE video_id = %s"
            " AND modality = 'screen' ORDER BY start_s",
            (result.video_id,),
        ).fetchall()
        jpeg = store.keyframe_jpeg(conn, tenant, result.video_id, 7.0)
    assert video is not None and video.status == "ready" and video.visual_status == "ready"
    assert video.keyframe_count == len(keyframes) and video.screen_count == len(screen)
    assert [k.t for k in keyframes if k.shot] == pytest.approx(
        [start for _, start, _ in spans(SLIDES)], abs=0.5
    )
    # one unit per slide, spanning it, its text read exactly (case aside; PP-OCRv4's
    # recognizer, trained mostly on Chinese, can drop a space between English words)
    assert len(screen) == len(SLIDES)
    for (slide, start, end), (unit_start, unit_end, text) in zip(
        spans(SLIDES), screen, strict=True
    ):
        assert same_letters(text, slide.text)
        assert unit_start == pytest.approx(start, abs=0.5)
        assert unit_end == pytest.approx(end, abs=0.5)
    picture = Image.open(io.BytesIO(jpeg or b""))
    assert picture.format == "JPEG" and picture.width == THUMB_WIDTH


@pytest.mark.parametrize("mode", [Mode.hybrid, Mode.semantic, Mode.keyword])
@pytest.mark.parametrize(("slide", "start", "end"), list(spans(SLIDES)))
def test_shown_phrases_are_found_at_their_slide(
    ingested_slides, db, settings, mode, slide, start, end
):
    tenant, result = ingested_slides
    embedder = get_embedder(settings) if mode is not Mode.keyword else None
    with db.connect() as conn:
        hits = search_page(conn, embedder, slide.text, tenant=tenant, mode=mode, limit=3).hits
        spoken = search_page(
            conn,
            embedder,
            slide.text,
            tenant=tenant,
            mode=mode,
            limit=3,
            filters=Filters(modalities=[Modality.speech]),
        ).hits
        shown = search_page(
            conn,
            embedder,
            slide.text,
            tenant=tenant,
            mode=mode,
            limit=3,
            filters=Filters(modalities=[Modality.screen]),
        ).hits
    top = hits[0]
    assert top.modality is Modality.screen and top.video_id == result.video_id
    assert start - 0.5 <= top.start < end and same_letters(top.text, slide.text)
    assert top.frame is not None and start - 0.5 <= top.frame < end
    assert shown[0] == top
    assert all(h.modality is Modality.speech for h in spoken)
    assert not any(same_letters(h.text, slide.text) for h in spoken)


def test_speech_is_indexed_beside_the_screen(ingested_slides, db, settings):
    tenant, _ = ingested_slides
    with db.connect() as conn:
        hits = search_page(
            conn,
            get_embedder(settings),
            "how do volcanoes erupt",
            tenant=tenant,
            filters=Filters(modalities=[Modality.speech]),
        ).hits
    assert hits and hits[0].modality is Modality.speech and "volcano" in hits[0].text.lower()
    assert hits[0].frame is not None  # speech moments show their picture too


def test_audio_only_skips_the_visual_stages(pipeline, db, tenant, media_dir):
    path = media_dir / "audio_only.m4a"
    make_talk_video(path, TALK[:1], with_video=False)
    result = pipeline.ingest(str(path), tenant=tenant)
    with db.connect() as conn:
        video = store.get_video(conn, tenant, result.video_id)
    assert video is not None and video.status == "ready" and result.segments > 0
    assert video.visual_status == "none" and video.keyframe_count == 0


def test_a_video_without_audio_is_indexed_by_what_it_shows(
    pipeline, db, settings, tenant, media_dir
):
    path = media_dir / "silent_slides.mp4"
    slides = SLIDES[:2]
    make_slides_video(path, slides, sections=())
    assert probe(path).audio_codec is None
    result = pipeline.ingest(str(path), tenant=tenant)
    with db.connect() as conn:
        video = store.get_video(conn, tenant, result.video_id)
        hits = search_page(
            conn, get_embedder(settings), "operator internals of Kubernetes", tenant=tenant
        ).hits
    assert video is not None and video.status == "ready" and video.language is None
    assert result.segments == 0 and video.visual_status == "ready"
    assert video.screen_count == len(slides)
    assert video.duration == pytest.approx(sum(s.seconds for s in slides), abs=0.1)
    keywords = " ".join((video.insights or {}).get("keywords", [])).lower()
    assert "revenue" in keywords or "kubernetes" in keywords, video.insights
    top = hits[0]
    assert top.video_id == result.video_id and top.modality is Modality.screen
    assert same_letters(top.text, slides[1].text)

    # with the visual index off there is nothing to index it by: refused, and the index kept
    with pytest.raises(NoAudioError, match="no audio track"):
        pipeline.ingest(
            str(path),
            tenant=tenant,
            options=IngestOptions(force=True, visual=VisualOptions(enabled=False)),
        )
    with db.connect() as conn:
        kept = store.get_video(conn, tenant, result.video_id)
    assert kept is not None and kept.status == "ready" and kept.screen_count == len(slides)


def broken_video(out: Path, audio_from: Path) -> None:
    """An MKV whose H.264 stream is noise (no decodable frame) over a good audio track."""
    with av.open(str(audio_from)) as src, av.open(str(out), "w") as dst:
        audio = dst.add_stream_from_template(src.streams.audio[0])
        video = dst.add_stream("h264", rate=25)
        video.width, video.height = 640, 360
        noise = np.random.default_rng(7)
        duration = float(src.duration or 0) / av.time_base
        for i in range(int(duration * 25)):
            packet = av.Packet(noise.integers(0, 256, 1500, dtype=np.uint8).tobytes())
            packet.stream = video
            packet.pts = packet.dts = i
            packet.time_base = Fraction(1, 25)
            packet.is_keyframe = i % 25 == 0
            dst.mux(packet)
        for packet in src.demux(src.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = audio
                dst.mux(packet)


def test_a_broken_video_stream_fails_only_the_visual_stages(pipeline, db, tenant, media_dir):
    speech = media_dir / "broken_source.m4a"
    make_talk_video(speech, TALK[:1], with_video=False)
    path = media_dir / "broken_video.mkv"
    broken_video(path, speech)
    with pytest.raises(VisualError, match="cannot be decoded"):
        list(frames(probe(path), VisualOptions()))
    result = pipeline.ingest(str(path), tenant=tenant)
    with db.connect() as conn:
        video = store.get_video(conn, tenant, result.video_id)
    assert video is not None and video.status == "ready" and result.segments > 0
    assert video.visual_status == "failed" and "cannot be decoded" in (video.visual_error or "")
    assert video.keyframe_count == 0


def test_a_rerun_without_visual_drops_the_old_visual_index(pipeline, db, tenant, slides_video):
    first = pipeline.ingest(str(slides_video), tenant=tenant, options=IngestOptions(insights=False))
    again = pipeline.ingest(
        str(slides_video), tenant=tenant, options=IngestOptions(insights=False, force=True)
    )
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT count(*) FROM segments WHERE video_id = %s AND modality = 'screen'",
            (first.video_id,),
        ).fetchone()
    assert again.video_id == first.video_id and rows == (len(SLIDES),)  # replaced, not doubled
    pipeline.ingest(
        str(slides_video),
        tenant=tenant,
        options=IngestOptions(insights=False, force=True, visual=VisualOptions(enabled=False)),
    )
    with db.connect() as conn:
        video = store.get_video(conn, tenant, first.video_id)
        rows = conn.execute(
            "SELECT count(*) FROM segments WHERE video_id = %s AND ordinal < 0",
            (first.video_id,),
        ).fetchone()
        keyframes = store.list_keyframes(conn, tenant, first.video_id)
    assert video is not None and video.visual_status == "disabled"
    assert rows == (0,) and keyframes == []
