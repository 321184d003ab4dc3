"""Every error answer of the API is an RFC 9457 problem; the client raises it as one of these,
chosen by status, with the API's stable ``reason`` (e.g. ``NotFound``, ``RateLimited``)."""

from __future__ import annotations

from typing import Any


class VystraError(Exception):
    """An error answer of the API, or no answer at all (``status`` 0)."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message
        self.details = details or []
        self.request_id = request_id  # quote it when asking the platform's team
        self.retry_after = retry_after  # seconds, when the API said when to come back


class BadRequest(VystraError):
    """400 and 422: the request is wrong; sending it again will not help."""


class Unauthorized(VystraError):
    """401: no API key, or one that is unknown or revoked."""


class PaymentRequired(VystraError):
    """402: the tenant's plan does not allow it (``details`` names the limit)."""


class Forbidden(VystraError):
    """403."""


class NotFound(VystraError):
    """404: unknown, or another tenant's (the API does not say which)."""


class Conflict(VystraError):
    """409: the resource is in a state that does not allow it (e.g. an upload in use)."""


class TooLarge(VystraError):
    """413."""


class RateLimited(VystraError):
    """429: a per-tenant limit or cap; ``retry_after`` says when to come back."""


class Unavailable(VystraError):
    """5xx, or no answer: worth retrying later."""


_BY_STATUS: dict[int, type[VystraError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: PaymentRequired,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    415: BadRequest,
    422: BadRequest,
    429: RateLimited,
}


def error_for(
    status: int,
    body: Any,
    request_id: str | None = None,
    retry_after: str | None = None,
) -> VystraError:
    problem = body if isinstance(body, dict) else {}
    kind = _BY_STATUS.get(status, Unavailable if status >= 500 else VystraError)
    wait = float(retry_after) if retry_after and retry_after.isdigit() else None
    return kind(
        status,
        str(problem.get("error") or f"HTTP{status}"),
        str(problem.get("message") or problem.get("detail") or "no message"),
        details=problem.get("details"),
        request_id=request_id,
        retry_after=wait,
    )
