"""Request body limits: JSON bodies are small; only upload content may be large.

Bytes are counted as they arrive, so a chunked body (no Content-Length) is refused as soon as
it passes the limit, before any handler sees it; a body that announces too much is refused
before a byte is read. A route that needs credentials does not read a body sent without any.
"""

from __future__ import annotations

import json

from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vystra_api.errors import PROBLEM_JSON, problem

MAX_JSON_BYTES = 256 * 1024
TOO_LARGE = f"request bodies are limited to {MAX_JSON_BYTES} bytes"


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: FastAPI passes HTTPExceptions through its body reading."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE)


class NoCredentials(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            401,
            "send an API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _answer(status: int, reason: str, message: str) -> list[Message]:
    body = json.dumps(problem(status, reason, message)).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    ]


def _uses_security(route: APIRoute) -> bool:
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, SecurityBase):
            return True
        pending.extend(dependant.dependencies)
    return False


class BodyLimit:
    """Count request bodies while they stream in and answer 413 past MAX_JSON_BYTES.

    Upload content (``.../content``) is exempt: its handler checks the URL's signature first,
    then enforces the declared size while streaming. FastAPI reads a body before it runs the
    route's authentication; a body sent to a route that takes credentials, with none at all
    (no Authorization header, no cookie), is refused before its first byte is read.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._secured: dict[int, bool] = {}

    def _needs_credentials(self, route: object) -> bool:
        if not isinstance(route, APIRoute):
            return False
        if id(route) not in self._secured:
            self._secured[id(route)] = _uses_security(route)
        return self._secured[id(route)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith("/content"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and not length.isdigit():
            refusal = _answer(400, "BadRequest", "Content-Length must be a number")
        elif length is not None and int(length) > MAX_JSON_BYTES:
            refusal = _answer(413, "PayloadTooLarge", TOO_LARGE)
        else:
            refusal = []
        for message in refusal:
            await send(message)
        if refusal:
            return
        # only a request that sends a body is refused here; one that sends none (a GET, or an
        # event stream polling receive() for a disconnect) is left to the route's own check
        sends_body = int(length or 0) > 0 or "transfer-encoding" in headers
        anonymous = sends_body and "authorization" not in headers and "cookie" not in headers
        received = 0
        first = True
        started = False

        async def counted() -> Message:
            nonlocal received, first
            if first and anonymous and self._needs_credentials(scope.get("route")):
                raise NoCredentials()  # the router has chosen the route; nothing read yet
            first = False
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_JSON_BYTES:
                    raise BodyTooLarge()
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except (BodyTooLarge, NoCredentials) as exc:  # raised outside FastAPI's handlers
            if not started:
                reason = "PayloadTooLarge" if exc.status_code == 413 else "Unauthorized"
                for message in _answer(exc.status_code, reason, exc.detail):
                    await send(message)
