"""``Idempotency-Key`` on the POSTs that create something: a retry (a timeout, a dropped
connection) with the same key and body gets the first answer again, marked
``Idempotent-Replayed: true``, and nothing is created twice. The same key with another body is
refused (422), as is a retry while the first request still runs (409)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Header, Response
from pydantic import BaseModel

from vystra.db import idempotency
from vystra_api.errors import ApiError
from vystra_api.state import AppState

T = TypeVar("T", bound=BaseModel)

KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as Stripe and the IETF draft allow

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Any unique string (a UUID): a retry with the same key and body answers"
        " what the first request did, for 24 hours, instead of creating a second one.",
    ),
]


def fingerprint(request: BaseModel) -> str:
    """What must match for a request to count as a retry: its kind and its body."""
    return hashlib.sha256(
        f"{type(request).__name__}\n{request.model_dump_json()}".encode()
    ).hexdigest()


def idempotent(
    state: AppState,
    tenant: str,
    key: str | None,
    request: BaseModel,
    response: Response,
    answer: tuple[int, type[T]],
    create: Callable[[], T],
) -> T:
    """``create()``, once per ``key``; ``answer``: the route's success status and model."""
    status, model = answer
    if key is None:
        return create()
    if not KEY.match(key):
        raise ApiError(400, "Idempotency-Key must be 1 to 255 visible ASCII characters")
    with state.db.connect() as conn:
        found = idempotency.claim(conn, tenant, key, fingerprint(request))
    if found is not None:
        if found.fingerprint != fingerprint(request):
            raise ApiError(
                422,
                "this Idempotency-Key came with another request; use a new key for a new one",
                reason="IdempotencyKeyReused",
            )
        if found.status is None or found.body is None:
            raise ApiError(
                409,
                "the first request with this Idempotency-Key is still running; retry shortly",
                reason="IdempotencyKeyInUse",
                headers={"Retry-After": "1"},
            )
        response.status_code = found.status
        response.headers["Idempotent-Replayed"] = "true"
        return model.model_validate(found.body)
    try:
        created = create()
    except BaseException:
        with state.db.connect() as conn:
            idempotency.release(conn, tenant, key)
        raise
    with state.db.connect() as conn:
        idempotency.record(conn, tenant, key, status, created.model_dump(mode="json"))
    return created
