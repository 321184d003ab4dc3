"""``vystra``: ingest videos and search them from the command line (local mode)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import TextIO

import shtab

from vystra.db import Database, open_database, store
from vystra.errors import VystraError
from vystra.pipeline import IngestOptions, Pipeline, Progress
from vystra.search import MAX_LIMIT, Mode, search
from vystra.segment import Modality, SegmentOptions
from vystra.settings import Settings, get_settings
from vystra.shutdown import Terminated, exit_on_sigterm
from vystra.subtitles import to_srt, to_vtt
from vystra.visual import VisualOptions


class ProgressBar:
    """One line per stage on stderr, redrawn in place on a terminal."""

    def __init__(self, label: str, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.tty = stream.isatty()
        self.stage = ""

    def __call__(self, p: Progress) -> None:
        if p.stage != self.stage and self.stage and self.tty:
            self.stream.write("\n")
        changed = p.stage != self.stage
        self.stage = p.stage
        if not (self.tty or changed):
            return
        line = f"{self.label} [{p.stage:<10}]"
        if p.duration:
            frac = min(p.processed_seconds / p.duration, 1.0)
            bar = "#" * int(frac * 24)
            line += f" |{bar:<24}| {frac:4.0%} {p.processed_seconds:7.1f}/{p.duration:.1f}s"
            line += f" {p.segments} segments"
        if p.visual_seconds is not None:
            line += f", frames read to {p.visual_seconds:.1f}s"
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        if p.stage == "done" and self.tty:
            self.stream.write("\n")
        self.stream.flush()


def _json(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def cmd_ingest(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    options = IngestOptions(
        title=args.title,
        language=args.language,
        model=args.model,
        segmenting=SegmentOptions(
            args.segment_seconds, args.overlap_seconds, settings.segment_pause_seconds
        ),
        insights=not args.no_insights,
        force=args.force,
        visual=VisualOptions(
            enabled=not args.no_visual,
            interval=args.keyframe_seconds,
            threshold=args.scene_threshold,
            ocr=not args.no_ocr,
        ),
    )
    pipeline = Pipeline(settings, db)
    failures = 0
    for source in args.sources:
        bar = None if args.quiet else ProgressBar(source)
        try:
            result = pipeline.ingest(source, options, tenant=settings.tenant, on_progress=bar)
        except VystraError as exc:
            failures += 1
            print(f"vystra: {source}: {exc}", file=sys.stderr)
            if args.json:
                print(
                    _json(
                        {
                            "source": source,
                            "status": "failed",
                            "reason": exc.reason,
                            "error": str(exc),
                        }
                    )
                )
            continue
        if args.json:
            print(
                _json(
                    {
                        "video_id": result.video_id,
                        "title": result.title,
                        "duration_s": round(result.duration_s, 3),
                        "segments": result.segments,
                        "status": result.status,
                        "source": result.source,
                    }
                )
            )
        else:
            note = " (already ingested; --force to redo)" if result.status == "exists" else ""
            print(
                f"{result.video_id}  {result.title}  {result.duration_s:.1f}s  "
                f"{result.segments} segments  {result.status}{note}"
            )
    return 1 if failures else 0


def cmd_search(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from vystra.reindex import active_embedder

    embedder = active_embedder(db, settings) if args.mode != Mode.keyword else None
    with db.connect() as conn:
        hits = search(
            conn,
            embedder,
            args.query,
            tenant=settings.tenant,
            mode=args.mode,
            limit=args.limit,
            video_ids=args.video or None,
            modalities=args.modality or None,
            ef_search=settings.hnsw_ef_search,
            rerank=not args.no_rerank,
        )
    if args.json:
        print(_json([asdict(h) for h in hits]))
        return 0
    if not hits:
        print("no matches")
    for n, h in enumerate(hits, start=1):
        shown = " on screen" if h.modality is Modality.screen else ""
        frame = (
            f"\n    frame: vystra frame {h.video_id} {h.frame:.2f}" if h.frame is not None else ""
        )
        text = h.text.replace("\n", " / ")
        print(
            f"{n:2d}. [{_clock(h.start)}-{_clock(h.end)}]{shown} {h.title} ({h.video_id})"
            f"  relevance {h.relevance:.2f}\n    {text}\n    {h.link}{frame}"
        )
    return 0


def cmd_frame(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    with db.connect() as conn:
        jpeg = store.keyframe_jpeg(conn, settings.tenant, args.video_id, args.seconds)
    if jpeg is None:
        raise VystraError(f"video {args.video_id} has no keyframes")
    if args.output == "-":
        sys.stdout.buffer.write(jpeg)
    else:
        Path(args.output).write_bytes(jpeg)
    return 0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def cmd_videos(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    with db.connect() as conn:
        videos = store.list_videos(conn, settings.tenant)
    if args.json:
        print(
            _json(
                [
                    {
                        "video_id": v.id,
                        "title": v.title,
                        "duration_s": v.duration,
                        "segments": v.segment_count,
                        "status": v.status,
                        "source": v.source,
                        "error": v.error,
                        "created": v.created_at.isoformat(),
                    }
                    for v in videos
                ]
            )
        )
        return 0
    for v in videos:
        detail = f"  {v.error_reason}: {v.error}" if v.status == "failed" else ""
        print(
            f"{v.id}  {v.status:<10} {(v.duration or 0):7.1f}s {v.segment_count:5d} segments"
            f"  {v.title}{detail}"
        )
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    with db.connect() as conn:
        video = store.get_video(conn, settings.tenant, args.video_id)
        if video is None:
            raise VystraError(f"no video {args.video_id}")
        transcript = store.get_transcript(conn, settings.tenant, video.id)
    if args.format == "srt":
        sys.stdout.write(to_srt(transcript))
    elif args.format == "vtt":
        sys.stdout.write(to_vtt(transcript))
    elif args.format == "json":
        data = {k: v for k, v in asdict(video).items() if k != "sha256"}
        data["transcript"] = [asdict(s) for s in transcript]
        print(_json(data))
    else:
        print(
            f"{video.title}  ({video.id}, {video.status}, {(video.duration or 0):.1f}s, "
            f"{video.language or '?'}, {video.model or '?'})\n{video.source}"
        )
        if video.error:
            print(f"error: {video.error_reason}: {video.error}")
        if video.visual_status:
            print(
                f"visual: {video.visual_status}, {video.keyframe_count} keyframes,"
                f" {video.screen_count} on-screen texts"
                + (f" ({video.visual_error})" if video.visual_error else "")
            )
        insights = video.insights or {}
        if insights.get("summary"):
            print(f"\nSummary: {insights['summary']}")
            print(f"Keywords: {', '.join(insights.get('keywords', []))}")
            for chapter in insights.get("chapters", []):
                print(f"  {_clock(chapter['start'])}  {chapter['title']}")
        print()
        for s in transcript:
            print(f"[{_clock(s.start)}] {s.text}")
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    with db.connect() as conn:
        if not store.delete_video(conn, settings.tenant, args.video_id):
            raise VystraError(f"no video {args.video_id}")
    print(f"deleted {args.video_id}")
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings, db: Database | None) -> int:
    from vystra.models import PACKAGED_WHISPER, default_embedding_model_dir, packaged_whisper_dir
    from vystra.transcribe import whisper_model_ref

    models = settings.models_path
    embedding = settings.embedding_model_path or default_embedding_model_dir(models)
    print(f"whisper:    {whisper_model_ref(settings)}")
    for name in PACKAGED_WHISPER:  # assembled here, so a worker image carries them built
        try:
            print(f"  {name + ':':<9}{packaged_whisper_dir(name, models)}")
        except VystraError as exc:  # its packages are not installed
            print(f"  {name + ':':<9}unavailable ({exc})")
    print(f"embeddings: {embedding}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings, db: Database | None) -> int:
    # the API registers itself (pyproject's `vystra.serve` entry point): imports run one way
    from importlib.metadata import entry_points

    found = entry_points(group="vystra.serve", name="api")
    if not found:
        print("vystra serve: the API package is not installed", file=sys.stderr)
        return 1
    next(iter(found)).load()(settings, args.host, args.port)
    return 0


def cmd_tenants(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from vystra import tenants

    with db.connect() as conn:
        if args.action == "create":
            key = tenants.create_tenant(conn, args.name)
            print(f"tenant {args.name} created; its API key (shown only now):", file=sys.stderr)
            print(key)
        elif args.action == "revoke":
            tenants.revoke_tenant(conn, args.name)
            print(f"revoked every key of tenant {args.name}")
        else:
            for t in tenants.list_tenants(conn):
                state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
                print(f"{t.name:<40} {state:<18} created {t.created_at:%Y-%m-%d %H:%M}")
    return 0


def cmd_reindex(args: argparse.Namespace, settings: Settings, db: Database) -> int:
    from vystra.reindex import ReindexProgress, reindex

    def progress(p: ReindexProgress) -> None:
        if not args.quiet:
            print(f"re-indexed {p.done}/{p.total} units", file=sys.stderr)

    result = reindex(db, settings, args.model, run_id=args.run, on_progress=progress)
    print(
        f"search now uses {result.model.name} ({result.model.dim}-d):"
        f" {result.units} units re-embedded in {result.seconds:.1f}s"
    )
    return 0


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _limit(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vystra", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument("--version", action="version", version=f"vystra {package_version()}")
    parser.add_argument(
        "--api",
        metavar="URL",
        default=os.environ.get("VYSTRA_API_URL") or None,
        help="run through this Vystra API instead of the local database (env VYSTRA_API_URL;"
        " key: VYSTRA_API_KEY, or VYSTRA_ADMIN_KEY for tenants)",
    )
    parser.add_argument("--api-key", help="the API key to use with --api")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="transcribe, embed and index videos")
    p.add_argument(
        "sources",
        nargs="+",
        metavar="PATH_OR_URL",
        help="local file, http(s):// URL or s3://bucket/key",
    )
    p.add_argument("--title", help="title (default: from the file name)")
    p.add_argument("--language", help="spoken language, e.g. en (default: detect)")
    p.add_argument("--model", help="Whisper model folder or name")
    p.add_argument(
        "--segment-seconds", type=_positive, default=None, help="target length of a search unit"
    )
    p.add_argument(
        "--overlap-seconds", type=float, default=None, help="speech shared by consecutive units"
    )
    p.add_argument("--no-insights", action="store_true", help="skip the summary")
    p.add_argument(
        "--no-visual", action="store_true", help="index speech only: no shots, frames or OCR"
    )
    p.add_argument("--no-ocr", action="store_true", help="keyframes without on-screen text")
    p.add_argument(
        "--keyframe-seconds",
        type=float,
        default=VisualOptions.interval,
        help="a keyframe at least this often within a long shot",
    )
    p.add_argument(
        "--scene-threshold",
        type=float,
        default=VisualOptions.threshold,
        help="scene change score (0-1) that starts a new shot",
    )
    p.add_argument("--force", action="store_true", help="re-process already ingested files")
    p.add_argument("--json", action="store_true", help="one JSON object per video on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="find the moments that match a query")
    p.add_argument("query")
    p.add_argument("--limit", type=_limit, default=5)
    p.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.hybrid.value)
    p.add_argument("--video", action="append", metavar="ID", help="only this video (repeatable)")
    p.add_argument(
        "--no-rerank", action="store_true", help="rank by whole units, not their best sentence"
    )
    p.add_argument(
        "--modality",
        action="append",
        choices=[m.value for m in Modality],
        help="only what is said (speech) or shown (screen); repeatable",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("frame", help="write the keyframe thumbnail shown at a moment (JPEG)")
    p.add_argument("video_id")
    p.add_argument("seconds", type=float)
    p.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    p.set_defaults(func=cmd_frame)

    p = sub.add_parser("videos", help="list ingested videos")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_videos)

    p = sub.add_parser("show", help="a video's details, transcript or subtitles")
    p.add_argument("video_id")
    p.add_argument("--format", choices=["text", "json", "srt", "vtt"], default="text")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("delete", help="delete a video and its segments")
    p.add_argument("video_id")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser(
        "reindex", help="re-embed every stored unit with another model; search switches at once"
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--model",
        metavar="MODEL",
        help="minilm, e5-multilingual or an absolute path to a fastembed model folder"
        " (default: the configured embedding model)",
    )
    which.add_argument(
        "--run", metavar="RUN_ID", help="carry out a run recorded by POST /v1/admin/reindex"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("models", help="show (and assemble) the local model folders")
    p.set_defaults(func=cmd_models, no_db=True)

    p = sub.add_parser("serve", help="run the REST API (local mode runs ingests in-process)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve, no_db=True)

    p = sub.add_parser("tenants", help="manage API tenants and their keys")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("create", help="create a tenant and print a new API key once")
    a.add_argument("name")
    a = actions.add_parser("revoke", help="invalidate every key of a tenant")
    a.add_argument("name")
    actions.add_parser("list", help="list tenants")
    p.set_defaults(func=cmd_tenants)

    p = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="e.g. `vystra completion bash > /etc/bash_completion.d/vystra`, or"
        " `source <(vystra completion bash)` in ~/.bashrc",
    )
    p.add_argument("shell", choices=shtab.SUPPORTED_SHELLS)
    p.set_defaults(func=cmd_completion, no_db=True)
    return parser


def cmd_completion(args: argparse.Namespace, settings: Settings, db: None) -> int:
    print(shtab.complete(build_parser(), shell=args.shell))
    return 0


def package_version() -> str:
    try:
        return metadata.version("vystra")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    exit_on_sigterm()  # a service manager's stop unwinds like Ctrl-C: the database is released
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.api:
            from vystra import remote

            return remote.run(args)
        settings = get_settings()
        if args.command == "ingest":
            defaults = SegmentOptions(
                settings.segment_target_seconds, settings.segment_overlap_seconds
            )
            args.segment_seconds = args.segment_seconds or defaults.target_seconds
            if args.overlap_seconds is None:
                args.overlap_seconds = defaults.overlap_seconds
            SegmentOptions(args.segment_seconds, args.overlap_seconds)  # validate early
        if getattr(args, "no_db", False):
            return args.func(args, settings, None)
        with ExitStack() as stack:
            db = stack.enter_context(open_database(settings))
            return args.func(args, settings, db)
    except (VystraError, ValueError) as exc:
        print(f"vystra: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vystra: interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print("vystra: terminated", file=sys.stderr)
        return int(exc.code or 143)


if __name__ == "__main__":
    sys.exit(main())
