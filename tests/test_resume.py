"""An interrupted ingest resumes after the units it stored: nothing is transcribed twice, no
unit or word is lost or repeated at the seam (real faster-whisper, embedded Postgres)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from vystra.db import store
from vystra.demo import DEMO_QUERIES
from vystra.embed import get_embedder
from vystra.pipeline import IngestOptions, Interrupted, Progress
from vystra.resume import trim_transcript
from vystra.search import search
from vystra.segment import SegmentOptions

# small units, so the talk is stored in several batches and can stop between them
OPTIONS = IngestOptions(segmenting=SegmentOptions(8.0, 2.0), insights=False)
STOP_AFTER = 4  # units stored (one batch) when the first attempt is stopped


def words_of(transcript: list[store.StoredSegment]) -> list[tuple[float, str]]:
    return [(w[0], w[2].strip().lower()) for s in transcript for w in s.words]


def test_an_interrupted_ingest_resumes_after_its_stored_units(pipeline, talk, db, settings):
    tenant = f"resume-{uuid.uuid4().hex[:6]}"
    path, sections = talk

    def stop_midway(p: Progress) -> None:
        if p.stage == "transcribe" and p.segments >= STOP_AFTER:
            raise Interrupted("the pod was preempted")

    with pytest.raises(Interrupted):
        pipeline.ingest(str(path), OPTIONS, tenant=tenant, on_progress=stop_midway)
    with db.connect() as conn:
        [stopped] = store.list_videos(conn, tenant)
        stored = store.get_segments(conn, tenant, stopped.id)
    assert stopped.status == "processing" and stopped.segment_count == len(stored) >= STOP_AFTER
    offset = stored[-1].end
    assert 0 < offset < stopped.duration - 30  # stopped well before the end

    reports: list[Progress] = []
    result = pipeline.ingest(str(path), OPTIONS, tenant=tenant, on_progress=reports.append)
    transcribing = [p for p in reports if p.stage == "transcribe"]
    # it starts where the stored units end, and never reports less
    assert transcribing[0].processed_seconds == pytest.approx(offset)
    assert transcribing[0].segments == len(stored)
    assert all(p.processed_seconds >= offset - 1e-6 for p in transcribing)

    with db.connect() as conn:
        video = store.get_video(conn, tenant, result.video_id)
        units = store.get_segments(conn, tenant, result.video_id)
        transcript = store.get_transcript(conn, tenant, result.video_id)
    assert result.status == "ready" and video is not None and video.status == "ready"
    assert [u.ordinal for u in units] == list(range(len(units))) and len(units) > len(stored)
    assert units[: len(stored)] == stored  # the stored units were kept as they were
    assert units[len(stored)].start >= offset - 1e-3  # the first new unit starts after them
    # the transcript reads on across the seam: every word once, in time order
    words = words_of(transcript)
    assert [t for t, _ in words] == sorted(t for t, _ in words)
    seam = [w for t, w in words if offset - 5 <= t <= offset + 5]
    assert len(seam) >= 8, seam  # speech on both sides of the seam is kept
    assert all(a != b for a, b in zip(seam, seam[1:], strict=False)), seam

    # the same bytes ingested in one go (another tenant) say about as much
    whole_tenant = f"whole-{uuid.uuid4().hex[:6]}"
    whole = pipeline.ingest(str(path), OPTIONS, tenant=whole_tenant)
    with db.connect() as conn:
        whole_words = words_of(store.get_transcript(conn, whole_tenant, whole.video_id))
    assert abs(len(words) - len(whole_words)) <= 0.05 * len(whole_words)
    # and every topic, before the seam and after it, is found at its moment
    embedder = get_embedder(settings)
    for query, spoken in zip(DEMO_QUERIES, sections, strict=True):
        with db.connect() as conn:
            top = search(conn, embedder, query, tenant=tenant, mode="hybrid", limit=1)[0]
        assert spoken.start - 1.0 <= top.start <= spoken.end, (spoken.topic, top)


def test_the_transcript_is_cut_at_the_words_before_the_seam():
    entries = [
        [0.0, 4.0, " One two.", [[0.0, 1.0, " One"], [1.2, 2.0, " two."]]],
        [
            4.0,
            9.0,
            " Three four five.",
            [[4.0, 5.0, " Three"], [5.5, 6.4, " four"], [7, 9, " five."]],
        ],
        [9.0, 12.0, " Six.", [[9.0, 12.0, " Six."]]],
        [2.0, 3.0, " untimed", []],
    ]
    assert trim_transcript(entries, 6.0) == [
        entries[0],
        [4.0, 6.4, "Three four", [[4.0, 5.0, " Three"], [5.5, 6.4, " four"]]],
        entries[3],
    ]


def test_two_ingests_of_the_same_bytes_at_once_run_one_after_the_other(pipeline, talk, db):
    """The second waits for the first (no unique-key race, no interleaved units), then finds
    the video indexed."""
    tenant = f"twice-{uuid.uuid4().hex[:6]}"
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(pipeline.ingest, str(talk[0]), OPTIONS, tenant=tenant) for _ in "ab"]
        results = [run.result(timeout=600) for run in runs]
    assert sorted(r.status for r in results) == ["exists", "ready"]
    assert results[0].video_id == results[1].video_id
    with db.connect() as conn:
        units = store.get_segments(conn, tenant, results[0].video_id)
    assert [u.ordinal for u in units] == list(range(len(units)))
    assert len(units) == max(r.segments for r in results)
