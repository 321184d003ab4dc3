"""The CLI as a user runs it: separate processes sharing the embedded database."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path

import pytest
from helpers import cli_env, free_port, run_cli, run_ffmpeg

from vystra.db import store
from vystra.demo import TALK, make_talk_video


@pytest.fixture(scope="module")
def http_root(media_dir: Path, talk):
    """A loopback HTTP server over the media folder."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(media_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def ingest_json(settings, tenant, *args):
    proc = run_cli(settings, tenant, "ingest", "--json", "-q", *args)
    return proc, [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_ingest_search_show_delete(settings, tenant, talk, http_root):
    proc, [first] = ingest_json(settings, tenant, str(talk[0]), "--title", "Talk")
    assert proc.returncode == 0, proc.stderr
    assert set(first) >= {"video_id", "title", "duration_s", "segments", "status"}
    assert first["status"] == "ready" and first["title"] == "Talk" and first["segments"] > 0

    # same bytes again, from a file and over HTTP: stored once
    proc, [again, over_http] = ingest_json(
        settings, tenant, str(talk[0]), f"{http_root}/{talk[0].name}"
    )
    assert proc.returncode == 0, proc.stderr
    assert again["status"] == over_http["status"] == "exists"
    assert again["video_id"] == over_http["video_id"] == first["video_id"]

    proc, [forced] = ingest_json(settings, tenant, str(talk[0]), "--force")
    assert forced["status"] == "ready" and forced["segments"] == first["segments"]

    videos = json.loads(run_cli(settings, tenant, "videos", "--json").stdout)
    assert [v["video_id"] for v in videos] == [first["video_id"]]

    hits = json.loads(run_cli(settings, tenant, "search", "wild yeast bread", "--json").stdout)
    assert set(hits[0]) >= {"video_id", "title", "start", "end", "text", "score"}
    assert "sourdough" in hits[0]["text"].lower()

    srt = run_cli(settings, tenant, "show", first["video_id"], "--format", "srt").stdout
    assert srt.startswith("1\n00:00:0")
    shown = json.loads(
        run_cli(settings, tenant, "show", first["video_id"], "--format", "json").stdout
    )
    assert shown["insights"]["chapters"] and shown["transcript"]

    assert run_cli(settings, tenant, "delete", first["video_id"]).returncode == 0
    assert json.loads(run_cli(settings, tenant, "videos", "--json").stdout) == []
    gone = run_cli(settings, tenant, "delete", first["video_id"])
    assert gone.returncode == 1 and "no video" in gone.stderr


def test_bad_inputs_fail_clearly_and_keep_earlier_videos(
    settings, tenant, talk, tmp_path, http_root
):
    proc, [good] = ingest_json(settings, tenant, str(talk[0]))
    assert good["status"] == "ready"

    empty = tmp_path / "empty.mp4"
    empty.touch()
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    silent = tmp_path / "silent.mp4"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=5:duration=2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(silent),
    )
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(talk[0].read_bytes()[:20000])
    cases = {
        str(empty): "empty (0 bytes)",
        str(text): "not an audio or video file",
        str(silent): "no audio track",
        str(broken): "damaged",
        str(tmp_path / "missing.mp4"): "no such file",
        f"http://127.0.0.1:{free_port()}/talk.mp4": "cannot download",
        f"{http_root}/nothing-here.mp4": "HTTP 404",
    }
    for source, message in cases.items():
        # without the visual index, a video with no audio track has nothing to index
        proc = run_cli(settings, tenant, "ingest", "-q", "--no-visual", source)
        assert proc.returncode == 1, source
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (source, proc.stderr)

    videos = json.loads(run_cli(settings, tenant, "videos", "--json").stdout)
    assert [(v["video_id"], v["status"]) for v in videos] == [(good["video_id"], "ready")]
    hits = json.loads(run_cli(settings, tenant, "search", "octopus arms", "--json").stdout)
    assert hits and hits[0]["video_id"] == good["video_id"]


def test_mixed_batch_ingests_the_good_and_reports_the_bad(settings, tenant, talk, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    proc, results = ingest_json(settings, tenant, str(empty), str(talk[0]))
    assert proc.returncode == 1
    assert [r["status"] for r in results] == ["failed", "ready"]
    assert results[0]["reason"] == "EmptyFile"


def test_usage_errors(settings, tenant):
    for args in (
        ["search", "x", "--limit", "0"],
        ["search", "x", "--mode", "fuzzy"],
        ["ingest", "a.mp4", "--segment-seconds", "-3"],
    ):
        proc = run_cli(settings, tenant, *args)
        assert proc.returncode == 2 and "error" in proc.stderr
    proc = run_cli(settings, tenant, "search", "   ")
    assert (
        proc.returncode == 1 and proc.stderr.strip() == "vystra: error: the search query is empty"
    )


def test_killed_ingest_rerun_completes_without_duplicates(settings, tenant, db, media_dir):
    long_talk = media_dir / "long_talk.mp4"
    if not long_talk.exists():
        make_talk_video(long_talk, TALK * 3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vystra.cli", "ingest", "-q", str(long_talk)],
        env=cli_env(settings, tenant),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    video = None
    while time.monotonic() < deadline and proc.poll() is None:
        with db.connect() as conn:
            videos = store.list_videos(conn, tenant)
        if videos and videos[0].segment_count > 0:
            video = videos[0]
            break
        time.sleep(0.1)
    assert video is not None and proc.poll() is None, "ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with db.connect() as conn:
        killed = store.get_video(conn, tenant, video.id)
    assert killed.status == "processing" and killed.segment_count > 0

    proc, [result] = ingest_json(settings, tenant, str(long_talk))
    assert proc.returncode == 0, proc.stderr
    assert result["status"] == "ready" and result["video_id"] == video.id
    with db.connect() as conn:
        segments = store.get_segments(conn, tenant, video.id)
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT (start_s, end_s)) FROM segments WHERE video_id = %s",
            (video.id,),
        ).fetchone()
    assert [s.ordinal for s in segments] == list(range(result["segments"]))
    assert rows == (result["segments"], result["segments"])
    assert segments[-1].end > 200  # the whole talk, not just what the killed run stored


def test_version_and_bash_completion(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "vystra.cli"]
    shown = subprocess.run([*cli, "--version"], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == f"vystra {metadata.version('vystra')}"

    script = subprocess.run(
        [*cli, "completion", "bash"], capture_output=True, text=True, check=True
    ).stdout
    (tmp_path / "vystra.bash").write_text(script)

    def complete(*words: str) -> list[str]:
        """What bash offers for the last word, as it would on <Tab>."""
        probe = (
            f"source {tmp_path / 'vystra.bash'}\n"
            f"COMP_WORDS=(vystra {' '.join(words)}); COMP_CWORD={len(words)}\n"
            'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}\n'
            "_shtab_vystra; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
        )
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
        return sorted(done.stdout.split())

    assert complete("se") == ["search", "serve"]
    assert complete("search", "--mo") == ["--modality", "--mode"]
    assert complete("search", "--mode", "") == ["hybrid", "keyword", "semantic"]
    assert complete("tenants", "") == ["create", "list", "revoke"]
    refused = subprocess.run([*cli, "completion", "cmd.exe"], capture_output=True, text=True)
    assert refused.returncode == 2 and "invalid choice" in refused.stderr
