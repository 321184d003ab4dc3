"""Every error answer is an RFC 9457 problem (``application/problem+json``) with a fitting
4xx/5xx: ``type`` (``urn:vystra:error:<Reason>``), ``title``, ``status`` and ``detail``, and as
members of its own the stable ``error`` reason and the ``message`` (the detail) that clients
read since before problem details."""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vystra.billing.quota import QuotaExceeded
from vystra.billing.stripe_api import BillingNotConfigured
from vystra.errors import VystraError
from vystra_api.backends import BackendError, QueueFullError
from vystra_api.caps import CapExceeded
from vystra_api.objectstore import ObjectStoreError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "urn:vystra:error:"

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    402: "PaymentRequired",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "InvalidRequest",
    429: "TooManyRequests",
    503: "Unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or _REASONS.get(status, "Error")
        self.headers = headers


def not_found(kind: str, ident: str) -> ApiError:
    # the same answer whether the id is unknown or another tenant's: existence is not leaked
    return ApiError(404, f"no {kind} {ident!r}")


def problem(
    status: int, reason: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The problem document of an error: one ``type`` and ``title`` per reason."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + reason,
        "title": re.sub(r"(?<=[a-z])(?=[A-Z])", " ", reason),  # NotFound -> Not Found
        "status": status,
        "detail": message,
        "error": reason,
        "message": message,
    }
    if details:
        body["details"] = details
    return body


def error_response(
    status: int,
    reason: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem(status, reason, message, details),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def _describe(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for err in errors:
        loc = ".".join(str(part) for part in err.get("loc", ()) if part != "body") or "body"
        details.append(
            {"field": loc, "message": str(err.get("msg", "invalid")), "type": err["type"]}
        )
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return message or "invalid request", details


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.reason, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "MalformedJSON", "the request body is not valid JSON")
        shape = ("model_attributes_type", "dict_type", "missing")
        if any(tuple(e.get("loc", ())) == ("body",) and e["type"] in shape for e in errors):
            return error_response(400, "MalformedJSON", "the request body must be a JSON object")
        message, details = _describe(errors)
        return error_response(422, "InvalidRequest", message, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = _REASONS.get(exc.status_code, "Error")
        message = exc.detail if isinstance(exc.detail, str) else reason
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route; the API lives under /v1 (see /docs)"
        return error_response(exc.status_code, reason, message, dict(exc.headers or {}))

    @app.exception_handler(VystraError)
    async def _vystra(_: Request, exc: VystraError) -> JSONResponse:
        reason = exc.reason if exc.reason != "Error" else "BadRequest"
        return error_response(400, reason, str(exc))

    @app.exception_handler(QuotaExceeded)
    async def _quota(_: Request, exc: QuotaExceeded) -> JSONResponse:
        # details[0].limit names the limit for programs; the message says it for people
        return error_response(402, exc.reason, str(exc), details=[exc.detail])

    @app.exception_handler(BillingNotConfigured)
    async def _billing_off(_: Request, exc: BillingNotConfigured) -> JSONResponse:
        # not a 5xx: the service works, it just does not sell plans (self-hosted)
        return error_response(404, exc.reason, str(exc))

    @app.exception_handler(CapExceeded)
    async def _cap(_: Request, exc: CapExceeded) -> JSONResponse:
        detail = {"cap": exc.cap, "allowed": exc.allowed}
        headers = {"Retry-After": str(exc.retry_after)}
        return error_response(429, "CapExceeded", str(exc), headers, [detail])

    @app.exception_handler(QueueFullError)
    async def _queue_full(_: Request, exc: QueueFullError) -> JSONResponse:
        return error_response(503, "QueueFull", str(exc), {"Retry-After": "30"})

    @app.exception_handler(BackendError)
    @app.exception_handler(ObjectStoreError)
    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("backend unavailable: %s", exc)
        return error_response(503, "Unavailable", str(exc), {"Retry-After": "10"})

    @app.exception_handler(psycopg.DataError)
    async def _data(_: Request, exc: psycopg.DataError) -> JSONResponse:
        # values Postgres cannot hold (NUL bytes, out-of-range numbers) are the caller's input
        return error_response(400, "BadRequest", f"invalid value: {exc.diag.message_primary}")

    @app.exception_handler(psycopg.OperationalError)
    async def _db_down(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return error_response(503, "Unavailable", "the database is unavailable")
