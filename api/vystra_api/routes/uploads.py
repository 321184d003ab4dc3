"""Uploads: presigned PUTs straight to the object store, then a check that the object arrived."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import psycopg
from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from vystra.db import uploads
from vystra.db.listing import video_ids_with_source
from vystra.objectkeys import upload_key
from vystra_api import caps
from vystra_api.deps import BINARY, PUBLIC, StateDep, TenantDep, UploadId, valid_id
from vystra_api.errors import ApiError, not_found
from vystra_api.idempotency import IdempotencyKey, idempotent
from vystra_api.models import (
    PartTargetPublic,
    UploadComplete,
    UploadCreate,
    UploadPublic,
    UploadTargetPublic,
)
from vystra_api.objectstore.local import LocalObjectStore, SignatureError, SizeError
from vystra_api.state import AppState

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

# containers ffmpeg reads and browsers send; anything else is refused before a byte is stored
CONTENT_TYPES = frozenset(
    """video/mp4 video/quicktime video/webm video/x-matroska video/x-msvideo video/mpeg
    video/ogg video/3gpp video/x-flv audio/mpeg audio/mp4 audio/aac audio/wav audio/x-wav
    audio/ogg audio/webm audio/flac audio/x-flac""".split()
)


def to_public(row: uploads.Upload) -> UploadPublic:
    return UploadPublic(
        id=row.id,
        key=row.object_key,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        status=row.status,  # type: ignore[arg-type]
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


@router.post("", status_code=201, summary="Start an upload: get a presigned PUT")
def create_upload(
    body: UploadCreate,
    tenant: TenantDep,
    state: StateDep,
    request: Request,
    response: Response,
    key: IdempotencyKey = None,
) -> UploadTargetPublic:
    return idempotent(
        state,
        tenant,
        key,
        body,
        response,
        (201, UploadTargetPublic),
        lambda: _create_upload(body, tenant, state, str(request.base_url)),
    )


def _create_upload(
    body: UploadCreate, tenant: str, state: AppState, base_url: str
) -> UploadTargetPublic:
    settings = state.settings
    content_type = body.content_type.split(";")[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        raise ApiError(
            415,
            f"content type {body.content_type!r} is not accepted; send a video or audio type"
            f" such as video/mp4 (accepted: {', '.join(sorted(CONTENT_TYPES))})",
        )
    if body.size_bytes > settings.upload_max_bytes:
        raise ApiError(
            413,
            f"the file is {body.size_bytes} bytes; uploads are limited to"
            f" {settings.upload_max_bytes} bytes",
        )
    upload_id = f"up-{uuid.uuid4().hex[:12]}"
    key = upload_key(tenant, upload_id, body.filename)
    expires_at = datetime.now(UTC) + timedelta(seconds=settings.upload_url_ttl_seconds)
    with state.db.connect() as conn:  # one transaction: the storage check holds till the row
        caps.reserve_upload_bytes(conn, settings, tenant, body.size_bytes)
        target = state.objects.begin_upload(
            upload_id=upload_id,
            key=key,
            size=body.size_bytes,
            content_type=content_type,
            expires_at=expires_at,
            base_url=base_url,
        )
        row = uploads.create_upload(
            conn,
            upload_id=upload_id,
            tenant=tenant,
            object_key=key,
            filename=body.filename,
            content_type=content_type,
            size_bytes=body.size_bytes,
            multipart_id=target.multipart_id,
            expires_at=expires_at,
        )
    return UploadTargetPublic(
        **to_public(row).model_dump(),
        url=target.url,
        headers=target.headers,
        part_size=target.part_size,
        parts=[
            PartTargetPublic(number=p.number, url=p.url, size_bytes=p.size_bytes)
            for p in target.parts
        ],
    )


def _upload(conn: psycopg.Connection, tenant: str, upload_id: str) -> uploads.Upload:
    """The tenant's upload; 404 for an unknown id and for another tenant's alike."""
    valid_id("upload", upload_id)
    row = uploads.get_upload(conn, upload_id, tenant)
    if row is None:
        raise not_found("upload", upload_id)
    return row


@router.get("/{upload_id}", summary="An upload's state")
def get_upload(upload_id: UploadId, tenant: TenantDep, state: StateDep) -> UploadPublic:
    with state.db.connect() as conn:
        return to_public(_upload(conn, tenant, upload_id))


@router.delete(
    "/{upload_id}", status_code=204, summary="Delete an upload no video was ingested from"
)
def delete_upload(upload_id: UploadId, tenant: TenantDep, state: StateDep) -> Response:
    """Frees its storage (see the upload cap). A video's upload goes with the video instead."""
    with state.db.connect() as conn:
        row = _upload(conn, tenant, upload_id)
        readers = video_ids_with_source(conn, tenant, *state.objects.sources(row.object_key))
        if readers:
            raise ApiError(
                409,
                f"video {readers[0]} was ingested from upload {upload_id}; delete the video"
                " and its upload goes with it",
                "InUse",
            )
        state.objects.abandon(row.object_key, row.multipart_id)  # fails: the row stays
        uploads.delete_upload(conn, upload_id)
    return Response(status_code=204)


@router.post("/{upload_id}/complete", summary="Check the object arrived with the declared size")
def complete_upload(
    upload_id: UploadId,
    tenant: TenantDep,
    state: StateDep,
    body: Annotated[UploadComplete | None, Body()] = None,
) -> UploadPublic:
    with state.db.connect() as conn:
        row = _upload(conn, tenant, upload_id)
    if row.status == "complete":
        return to_public(row)
    if row.multipart_id:
        if not body or not body.parts:
            raise ApiError(400, "a multipart upload completes with the ETag of every part")
        state.objects.complete_multipart(
            row.object_key, row.multipart_id, [(p.number, p.etag) for p in body.parts]
        )
    size = state.objects.object_size(row.object_key)
    if size is None:
        raise ApiError(409, f"nothing has been uploaded for {upload_id} yet", "NotUploaded")
    if size != row.size_bytes:
        state.objects.delete(row.object_key)  # a wrong object must not be ingested later
        raise ApiError(
            409,
            f"the uploaded object has {size} bytes, the upload declared {row.size_bytes};"
            " upload it again",
            "SizeMismatch",
        )
    with state.db.connect() as conn:
        uploads.mark_complete(conn, upload_id)
        return to_public(_upload(conn, tenant, upload_id))


@router.put(
    "/{upload_id}/content",
    summary="Receive the bytes of an upload (local mode's presigned PUT target)",
    description="Authorised by the URL's signature, not by an API key. Cluster mode uploads"
    " go to S3 directly and this route answers 404.",
    openapi_extra={
        **PUBLIC,
        "requestBody": {"required": True, "content": {"application/octet-stream": BINARY}},
    },
)
async def put_content(
    upload_id: UploadId,
    state: StateDep,
    request: Request,
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(max_length=128)],
) -> JSONResponse:
    objects = state.objects
    if not isinstance(objects, LocalObjectStore):
        raise ApiError(404, "uploads go to the object store directly in cluster mode")
    valid_id("upload", upload_id)

    def lookup() -> uploads.Upload | None:
        with state.db.connect() as conn:
            return uploads.get_upload(conn, upload_id, None)

    row = await run_in_threadpool(lookup)
    forbidden = ApiError(403, "the URL signature does not match this request", "SignatureMismatch")
    if row is None:
        raise forbidden  # do not tell a guesser which upload ids exist
    try:
        objects.verify(signature, expires, "PUT", row.object_key, row.size_bytes, row.content_type)
    except SignatureError as exc:
        reason = "URLExpired" if "expired" in str(exc) else "SignatureMismatch"
        raise ApiError(403, str(exc), reason) from None
    if row.status == "complete":
        raise ApiError(409, f"upload {upload_id} is already complete")
    sent_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if sent_type != row.content_type:
        raise ApiError(415, f"Content-Type must be {row.content_type}, as declared for the upload")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) != row.size_bytes):
        status = 413 if length.isdigit() and int(length) > row.size_bytes else 400
        raise ApiError(status, f"the body must be exactly {row.size_bytes} bytes, as declared")
    try:
        await objects.write(row.object_key, row.size_bytes, request.stream())
    except SizeError as exc:
        raise ApiError(413 if "larger" in str(exc) else 400, str(exc)) from None
    return JSONResponse({"id": upload_id, "size_bytes": row.size_bytes, "stored": True})
