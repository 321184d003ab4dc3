"""Dependencies routes declare through `Annotated` aliases: the state and the caller's tenant."""

from __future__ import annotations

import hmac
import re
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry import trace

from vystra import logs
from vystra.db import ratelimit
from vystra.tenants import tenant_for_key
from vystra_api import session
from vystra_api.errors import ApiError
from vystra_api.models import ID_MAX
from vystra_api.session import Session
from vystra_api.state import AppState

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_bearer = HTTPBearer(auto_error=False, description="A tenant's API key (`vystra tenants create`).")
_stream_token = APIKeyQuery(
    name="token",
    scheme_name="StreamToken",
    auto_error=False,
    description="A stream token (`POST /v1/session/stream-token`), for clients that can send"
    " neither a header nor the session cookie (EventSource).",
)
STREAM_TOKEN_MAX = 300
# what the OpenAPI document says of routes that take no API key (signed URLs, Stripe, probes)
PUBLIC: dict[str, Any] = {"security": []}


# raw bytes in a request or an answer: generated clients send and return them as files/bytes
BINARY: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}


def binary(media_type: str) -> dict[int | str, dict[str, Any]]:
    """A route's 200 answer as bytes of one media type."""
    return {200: {"content": {media_type: BINARY}}}


def get_state(request: Request) -> AppState:
    return request.app.state.vystra


StateDep = Annotated[AppState, Depends(get_state)]


def authenticate(
    state: StateDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Session:
    """The caller's session: from a bearer API key, or from the web app's session cookie."""
    challenge = {"WWW-Authenticate": "Bearer"}
    cookie = request.cookies.get(session.COOKIE)
    if credentials is None and cookie:
        found = session.decode(session.signing_key(state.settings, state.db), cookie, "session")
        if found is not None:
            with state.db.connect() as conn:
                live = session.is_live(conn, found)
        if found is None or not live:
            raise ApiError(401, "the session has expired or was revoked; sign in again")
        if request.method not in ("GET", "HEAD") and session.CSRF_HEADER not in request.headers:
            # SameSite=Strict already keeps other sites out; a form cannot set this header either
            raise ApiError(
                403, f"cookie-authenticated writes need the {session.CSRF_HEADER} header"
            )
        return found
    if credentials is None:
        raise ApiError(401, "send an API key as 'Authorization: Bearer <key>'", headers=challenge)
    with state.db.connect() as conn:
        tenant = tenant_for_key(conn, credentials.credentials)
    if tenant is None:
        raise ApiError(401, "the API key is unknown or revoked", headers=challenge)
    return session.issue(state.settings, tenant, credentials.credentials)


SessionDep = Annotated[Session, Depends(authenticate)]


def authenticate_admin(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The platform's admin key (``VYSTRA_ADMIN_KEY``); tenants' keys and sessions never pass."""
    expected = state.settings.admin_key
    if expected is None:
        raise ApiError(404, "admin routes are off: set VYSTRA_ADMIN_KEY to use them")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise ApiError(401, "send the admin key as 'Authorization: Bearer <key>'")


AdminDep = Annotated[None, Depends(authenticate_admin)]


def current_tenant(caller: SessionDep, state: StateDep, response: Response) -> str:
    return _within_rate(state, _logged(caller.tenant), response)


def _within_rate(state: AppState, tenant: str, response: Response) -> str:
    """Count the request against the tenant's requests per minute (across API processes);
    429 ``RateLimited`` beyond it. Answers say where the tenant stands (``RateLimit-*``)."""
    limit = state.settings.tenant_requests_per_minute
    if not limit:
        return tenant
    with state.db.connect() as conn:
        window = ratelimit.count(conn, tenant)
    standing = {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, limit - window.requests)),
        "RateLimit-Reset": str(window.reset_seconds),
    }
    if window.requests > limit:
        raise ApiError(
            429,
            f"more than {limit} requests in a minute; retry in {window.reset_seconds} s",
            reason="RateLimited",
            headers={**standing, "Retry-After": str(window.reset_seconds)},
        )
    response.headers.update(standing)
    return tenant


def _logged(tenant: str) -> str:
    """The request's records name its tenant from here on (see vystra.logs)."""
    context = logs.current()
    if context is not None:
        context.tenant = tenant
    trace.get_current_span().set_attribute("vystra.tenant", tenant)  # the request's span
    return tenant


TenantDep = Annotated[str, Depends(current_tenant)]


def stream_tenant(
    state: StateDep,
    request: Request,
    response: Response,
    token: Annotated[str | None, Depends(_stream_token)],
) -> str:
    """Like the tenant, but also from a short-lived stream token in the URL (EventSource).

    The token is a declared scheme (``StreamToken``), so the OpenAPI document says the route
    takes it or an API key; the header is read here, so either one will do.
    """
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    credentials = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=key.strip())
        if scheme.lower() == "bearer" and key.strip()
        else None
    )
    if token is None or credentials is not None or request.cookies.get(session.COOKIE):
        tenant = authenticate(state, request, credentials).tenant
        return _within_rate(state, _logged(tenant), response)
    found = (
        session.decode(session.signing_key(state.settings, state.db), token, "stream")
        if len(token) <= STREAM_TOKEN_MAX
        else None
    )
    if found is not None:
        with state.db.connect() as conn:
            live = session.is_live(conn, found)
        if live:
            return _within_rate(state, _logged(found.tenant), response)
    raise ApiError(401, "the stream token has expired or is invalid; request a new one")


StreamTenantDep = Annotated[str, Depends(stream_tenant)]


def valid_id(kind: str, value: str) -> str:
    """Ids are plain tokens; anything else cannot exist, so it is a 404 like any unknown id."""
    if not _ID.match(value):
        raise ApiError(404, f"no {kind} {value!r}")
    return value


VideoId = Annotated[str, Path(max_length=ID_MAX, description="A video id, e.g. v0123456789abcde")]
IngestId = Annotated[
    str, Path(max_length=ID_MAX, description="An ingest id, e.g. ing-0123456789ab")
]
UploadId = Annotated[str, Path(max_length=ID_MAX, description="An upload id, e.g. up-0123456789ab")]
