"""Dependencies routes declare through `Annotated` aliases: the state and the caller's tenant."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vystra.tenants import tenant_for_key
from vystra_api.errors import ApiError
from vystra_api.models import ID_MAX
from vystra_api.state import AppState

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_bearer = HTTPBearer(auto_error=False, description="A tenant's API key (`vystra tenants create`).")


def get_state(request: Request) -> AppState:
    return request.app.state.vystra


StateDep = Annotated[AppState, Depends(get_state)]


def current_tenant(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise ApiError(401, "send an API key as 'Authorization: Bearer <key>'", headers=challenge)
    with state.db.connect() as conn:
        tenant = tenant_for_key(conn, credentials.credentials)
    if tenant is None:
        raise ApiError(401, "the API key is unknown or revoked", headers=challenge)
    return tenant


TenantDep = Annotated[str, Depends(current_tenant)]


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
