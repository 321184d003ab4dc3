"""Each request gets an id: the caller's ``X-Request-ID`` when it is a plain token (a proxy or
client that already made one), else a new one. It is answered in ``X-Request-ID``, carried by
every record logged while the request runs (with the tenant, once authenticated), and ends in
one access record: method, route template, status and duration. With tracing on (see
vystra.tracing) each request is a server span, in the caller's trace when it sends a
``traceparent``."""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import ExitStack

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vystra import logs, tracing

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
        headers = Headers(scope=scope)
        request_id = logs.valid_request_id(headers.get(HEADER, "")) or uuid.uuid4().hex
        start = time.perf_counter()
        status = 500

        async def stamped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        method = scope["method"]
        with ExitStack() as held:
            held.enter_context(logs.bound(request_id=request_id))
            current = None
            if scope["path"] not in QUIET_ROUTES:
                current = held.enter_context(
                    tracing.span(
                        method,
                        within=headers.get(tracing.TRACEPARENT),
                        kind=SpanKind.SERVER,
                        attributes={"http.request.method": method, "vystra.request_id": request_id},
                    )
                )
            try:
                await self.app(scope, receive, stamped)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                if current is not None:
                    current.update_name(f"{method} {route}")
                    current.set_attribute("http.route", route)
                    current.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        current.set_status(Status(StatusCode.ERROR))
                access.log(
                    logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                    "%s %s %d",
                    method,
                    route,
                    status,
                    extra={
                        "fields": {
                            "method": method,
                            "route": route,
                            "status": status,
                            "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                        }
                    },
                )
