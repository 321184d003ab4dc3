"""Local mode's signed media URLs: a browser plays an uploaded video from a given second.

The signature (made by the video detail and search routes for the caller's own objects) is
the authorisation, since a <video> element cannot send an API key.
"""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from vystra_api.deps import StateDep
from vystra_api.errors import ApiError
from vystra_api.objectstore import ObjectStoreError
from vystra_api.objectstore.local import LocalObjectStore, SignatureError

router = APIRouter(prefix="/v1/media", tags=["media"])


@router.get(
    "/{key:path}",
    summary="Play an uploaded video (signed URL; supports Range requests)",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}},
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
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type)
