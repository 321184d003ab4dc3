"""Request body limits: JSON bodies are small; only upload content may be large."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_JSON_BYTES = 256 * 1024


class BodyLimit:
    """Refuse bodies over MAX_JSON_BYTES (by Content-Length) before any handler reads them.

    Upload content (``.../content``) is exempt: its handler enforces the declared size while
    streaming.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].endswith("/content"):
            headers = dict(scope["headers"])
            length = headers.get(b"content-length", b"0")
            if not length.isdigit() or int(length) > MAX_JSON_BYTES:
                body = json.dumps(
                    {
                        "error": "PayloadTooLarge",
                        "message": f"request bodies are limited to {MAX_JSON_BYTES} bytes",
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413 if length.isdigit() else 400,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
