"""Helpers for API tests: callers, a loopback uvicorn server, Server-Sent Events, seeded videos."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from vystra.db import Database, store
from vystra.embed import Embedder, embed_units
from vystra.segment import Chunk


@dataclass(frozen=True)
class Caller:
    tenant: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event, data) pairs from a text/event-stream, as a browser's EventSource reads them."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def stream_events(
    client: httpx.Client, url: str, headers: dict[str, str], timeout: float = 600
) -> list[tuple[str, Any]]:
    with client.stream("GET", url, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(response.iter_lines()))


def seed_video(
    db: Database,
    embedder: Embedder,
    tenant: str,
    title: str,
    texts: list[str],
    language: str | None = None,
    *,
    sentence_vectors: bool = False,
) -> str:
    """A ready video with one 10-second segment per text, written through the store as the
    pipeline writes it (its language first, when given; with ``sentence_vectors``, each
    unit's sentences embedded as ingest stores them, so search reranks by them)."""
    video_id = store.video_id_for(tenant, title)
    chunks = [Chunk(i, i * 10.0, i * 10.0 + 9.5, text) for i, text in enumerate(texts)]
    with db.connect() as conn:
        store.begin_video(
            conn,
            video_id=video_id,
            tenant=tenant,
            title=title,
            source=f"https://media.example/{video_id}.mp4",
            sha256=title,
            size_bytes=1,
            duration=len(texts) * 10.0,
            options={},
        )
        if language is not None:
            store.set_transcription(
                conn, video_id, language=language, model="test", embedding_model=embedder.name
            )
        vectors, packed = (
            embed_units(embedder, chunks) if sentence_vectors else (embedder.embed(texts), None)
        )
        store.write_segments(
            conn,
            video_id=video_id,
            tenant=tenant,
            chunks=chunks,
            vectors=vectors,
            model=embedder.name,
            processed_seconds=len(texts) * 10.0,
            sentence_vectors=packed,
        )
        store.finish_video(
            conn,
            video_id,
            segment_count=len(chunks),
            duration=len(texts) * 10.0,
            transcript=[(c.start, c.end, c.text) for c in chunks],
            insights=None,
            insights_status="disabled",
        )
    return video_id


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 and a free port, in a thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def hold_running(
    db: Database, tenant: str, n: int, source: str = "https://media.example/a.mp4"
) -> list[str]:
    """Ingests the tenant has running elsewhere (another API process): real queue rows, which
    this process's workers never claim; their ids."""
    ids = [f"ing-{uuid.uuid4().hex[:12]}" for _ in range(n)]
    with db.connect() as conn:
        for ingest_id in ids:
            conn.execute(
                "INSERT INTO ingests (id, tenant, source, spec, phase, heartbeat_at)"
                " VALUES (%s, %s, %s, '{}', 'Running', now())",
                (ingest_id, tenant, source),
            )
    return ids
