"""Local mode's signed media URLs: a browser plays an uploaded video from a given second.

The signature (made by the video detail and search routes for the caller's own objects) is
the authorisation, since a <video> element cannot send an API key. The bytes are whatever was
uploaded, so they go out with the type the upload declared (one of the accepted video and
audio types, never guessed from the name), no sniffing, and a sandbox policy: a file that is
really HTML cannot run script on this origin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from vystra.db import uploads
from vystra_api.deps import PUBLIC, StateDep, binary
from vystra_api.errors import ApiError
from vystra_api.objectstore import ObjectStoreError
from vystra_api.objectstore.local import LocalObjectStore, SignatureError
from vystra_api.state import AppState

router = APIRouter(prefix="/v1/media", tags=["media"])

SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


def stored_type(state: AppState, key: str) -> str:
    """The content type the upload declared; keys are ``uploads/<tenant>/<upload id>/<name>``."""
    parts = key.split("/")
    if len(parts) == 4 and parts[0] == "uploads":
        with state.db.connect() as conn:
            row = uploads.get_upload(conn, parts[2], parts[1])
        if row is not None and row.object_key == key:
            return row.content_type
    return "application/octet-stream"


@router.get(
    "/{key:path}",
    summary="Play an uploaded video (signed URL; supports Range requests)",
    openapi_extra=PUBLIC,
    response_class=FileResponse,
    responses=binary("video/mp4"),
)
def get_media(
    key: str,
    state: StateDep,
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(max_length=128)],
) -> FileResponse:
    objects = state.objects
    if not isinstance(objects, LocalObjectStore):
        raise ApiError(404, "media is served by the object store in cluster mode")
    try:
        objects.verify(signature, expires, "GET", key)
        path = objects.path(key)
    except SignatureError as exc:
        raise ApiError(403, str(exc), "URLExpired" if "expired" in str(exc) else None) from None
    except ObjectStoreError:
        raise ApiError(404, "no such media") from None
    if not path.is_file():
        raise ApiError(404, "no such media")
    return FileResponse(path, media_type=stored_type(state, key), headers=SAFE_HEADERS)
