"""Web sessions: sign in with an API key once, then the browser carries an HttpOnly cookie."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from vystra.tenants import tenant_for_key
from vystra_api import session
from vystra_api.deps import PUBLIC, SessionDep, StateDep
from vystra_api.errors import ApiError
from vystra_api.models import Strict

router = APIRouter(prefix="/v1/session", tags=["session"])


class SessionCreate(Strict):
    api_key: str = Field(min_length=1, max_length=200, description="The tenant's API key.")


class SessionPublic(BaseModel):
    tenant: str
    expires_at: datetime


class StreamTokenPublic(BaseModel):
    token: str = Field(description="Pass as `?token=` to GET /v1/ingests/{id}/events.")
    expires_at: datetime


def _https(request: Request) -> bool:
    # behind a TLS-terminating ingress the API sees http; the header can only make the cookie
    # stricter (Secure), never looser, so it need not be trusted
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _public(found: session.Session) -> SessionPublic:
    return SessionPublic(
        tenant=found.tenant, expires_at=datetime.fromtimestamp(found.expires, tz=UTC)
    )


@router.post("", summary="Sign in: exchange an API key for a session cookie", openapi_extra=PUBLIC)
def create_session(
    body: SessionCreate, state: StateDep, request: Request, response: Response
) -> SessionPublic:
    with state.db.connect() as conn:
        tenant = tenant_for_key(conn, body.api_key.strip())
    if tenant is None:
        raise ApiError(401, "this API key is unknown or revoked; check it and try again")
    found = session.issue(state.settings, tenant, body.api_key.strip())
    # no Max-Age: the cookie ends with the browser session, the token after session_ttl_seconds
    response.set_cookie(
        session.COOKIE,
        session.encode(session.signing_key(state.settings, state.db), found),
        httponly=True,
        samesite="strict",
        secure=_https(request),
        path="/v1",
    )
    return _public(found)


@router.get("", summary="Who is signed in (cookie or API key)")
def get_session(caller: SessionDep) -> SessionPublic:
    return _public(caller)


@router.delete(
    "", status_code=204, summary="Sign out: clear the session cookie", openapi_extra=PUBLIC
)
def delete_session(request: Request) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(
        session.COOKIE,
        path="/v1",
        httponly=True,
        samesite="strict",
        secure=_https(request),
    )
    return response


@router.post(
    "/stream-token",
    summary="A token of a few minutes for the events stream",
    description="For clients that can send neither an Authorization header nor the session"
    " cookie to the events route (EventSource on another site): the token goes in the URL in"
    " place of the long-lived key.",
)
def stream_token(caller: SessionDep, state: StateDep) -> StreamTokenPublic:
    token = session.reissue(state.settings, caller, "stream")
    return StreamTokenPublic(
        token=session.encode(session.signing_key(state.settings, state.db), token),
        expires_at=datetime.fromtimestamp(token.expires, tz=UTC),
    )
