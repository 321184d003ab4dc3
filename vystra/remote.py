"""The CLI through a Vystra API (``--api URL`` or ``VYSTRA_API_URL``, with ``VYSTRA_API_KEY``;
``tenants`` with the platform's ``VYSTRA_ADMIN_KEY``), on the Python SDK (vystra-client): the
same commands as locally, for a cluster install or any served API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from vystra.errors import VystraError

REMOTE_COMMANDS = ("ingest", "search", "videos", "show", "delete", "tenants")


def run(args: argparse.Namespace) -> int:
    try:
        from vystra_client import Client
        from vystra_client import VystraError as ApiError
    except ImportError as exc:  # pragma: no cover - make install puts it in the venv
        raise VystraError("--api needs the SDK: pip install ./sdk/python") from exc
    if args.command not in REMOTE_COMMANDS:
        raise VystraError(f"'{args.command}' runs locally only; drop --api")
    admin = args.command == "tenants"
    key = args.api_key or os.environ.get("VYSTRA_ADMIN_KEY" if admin else "VYSTRA_API_KEY")
    if not key:
        raise VystraError(
            "set VYSTRA_ADMIN_KEY (tenants) or VYSTRA_API_KEY, or pass --api-key, with --api"
        )
    with Client(args.api, key) as api:
        try:
            return int(globals()[f"_{args.command}"](api, args))
        except ApiError as exc:
            raise VystraError(f"{exc.message} ({exc.reason})") from exc


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _spec(args: argparse.Namespace) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "insights": not args.no_insights,
        "segmenting": {
            "targetSeconds": args.segment_seconds or 15.0,
            "overlapSeconds": 3.0 if args.overlap_seconds is None else args.overlap_seconds,
        },
        "visual": {
            "enabled": not args.no_visual,
            "ocr": not args.no_ocr,
            "intervalSeconds": args.keyframe_seconds,
            "sceneThreshold": args.scene_threshold,
        },
    }
    for name in ("title", "language", "model"):
        if getattr(args, name):
            spec[name] = getattr(args, name)
    return spec


def _ingest(api: Any, args: argparse.Namespace) -> int:
    failed = 0
    for source in args.sources:
        if source.startswith(("http://", "https://")):
            ingest = api.create_ingest(url=source, **_spec(args))
        else:
            upload = api.upload_file(Path(source))
            ingest = api.create_ingest(upload_id=upload.id, **_spec(args))
        for event in api.events(ingest.id):
            state = event.ingest
            if state is not None and not args.quiet:
                percent = state.progress.get("percent", 0)
                print(
                    f"[{state.phase} {state.stage or ''} {percent:.0f}%] {source}", file=sys.stderr
                )
        final = api.get_ingest(ingest.id)
        ok = final.phase == "Succeeded"
        failed += not ok
        result = {
            "source": source,
            "ingest_id": final.id,
            "video_id": final.video_id,
            "status": "ready" if ok else "failed",
            "segments": final.progress.get("segments"),
            **({} if ok else {"reason": final.reason, "error": final.message}),
        }
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        elif ok:
            print(f"{final.video_id}  ready  {result['segments']} segments  {source}")
        else:
            print(f"vystra: error: {source}: {final.reason}: {final.message}", file=sys.stderr)
    return 1 if failed else 0


def _search(api: Any, args: argparse.Namespace) -> int:
    page = api.search(
        args.query,
        mode=args.mode,
        limit=args.limit,
        video_ids=args.video,
        modality=args.modality,
    )
    if args.json:
        print(_json([vars(m) for m in page.results]))
        return 0
    if not page.results:
        print("no matches")
    for n, m in enumerate(page.results, start=1):
        shown = " on screen" if m.modality == "screen" else ""
        print(
            f"{n:2d}. [{m.start:.1f}-{m.end:.1f}]{shown} {m.title} ({m.video_id})"
            f"  relevance {m.relevance:.2f}\n    {m.text}\n    {m.link}"
        )
    return 0


def _videos(api: Any, args: argparse.Namespace) -> int:
    videos = list(api.videos())
    if args.json:
        print(_json([vars(v) for v in videos]))
        return 0
    for v in videos:
        length = v.duration_s or 0
        print(f"{v.id}  {v.status:<10} {length:7.1f}s {v.segments:5d} segments  {v.title}")
    return 0


def _show(api: Any, args: argparse.Namespace) -> int:
    if args.format in ("srt", "vtt"):
        sys.stdout.write(api.subtitles(args.video_id, args.format))
        return 0
    video = api.get_video(args.video_id)
    if args.format == "json":
        print(_json(vars(video)))
        return 0
    length, language = video.duration_s or 0, video.language or "?"
    print(f"{video.title}  ({video.id}, {video.status}, {length:.1f}s, {language})")
    summary = (video.insights or {}).get("summary")
    if summary:
        print(f"\nSummary: {summary}")
    print()
    for line in video.transcript:
        print(f"[{line['start']:.1f}] {line['text']}")
    return 0


def _delete(api: Any, args: argparse.Namespace) -> int:
    api.delete_video(args.video_id)
    print(f"deleted {args.video_id}")
    return 0


def _tenants(api: Any, args: argparse.Namespace) -> int:
    if args.action == "create":
        key = api.create_tenant(args.name)
        print(f"tenant {args.name} created; its API key (shown only now):", file=sys.stderr)
        print(key)
    elif args.action == "revoke":
        api.revoke_tenant(args.name)
        print(f"revoked every key of tenant {args.name}")
    else:
        for t in api.tenants():
            state = f"revoked {t['revoked_at'][:10]}" if t["revoked_at"] else "active"
            print(f"{t['name']:<40} {state:<18} created {t['created_at'][:16]}")
    return 0
