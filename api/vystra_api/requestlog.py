"""Each request gets an id: the caller's ``X-Request-ID`` when it is a plain token (a proxy or
client that already made one), else a new one. It is answered in ``X-Request-ID``, carried by
every record logged while the request runs (with the tenant, once authenticated), and ends in
one access record: method, route template, status and duration."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vystra import logs

HEADER = "x-request-id"

QUIET_ROUTES = ("/healthz", "/readyz", "/metrics")  # probes and scrapes, every few seconds
access = logging.getLogger("vystra.api.access")


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(HEADER, "")
        request_id = logs.valid_request_id(given) or uuid.uuid4().hex
        start = time.perf_counter()
        status = 500

        async def stamped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        with logs.bound(request_id=request_id):
            try:
                await self.app(scope, receive, stamped)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                access.log(
                    logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                    "%s %s %d",
                    scope["method"],
                    route,
                    status,
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "route": route,
                            "status": status,
                            "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                        }
                    },
                )
