"""Keys in the platform's bucket: each tenant's media lives under ``uploads/<tenant>/``.

A VideoIngest's ``spec.source`` in cluster mode names an http(s) URL (the fetcher checks each
hop, see urlguard.py) or an object of the tenant's own in the configured bucket, as a bare key
or ``s3://<bucket>/<key>``. Anything else is refused before any request is made, so a refusal
says nothing about whether the object exists.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from vystra.errors import SourceForbidden, VystraError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
UPLOADS_PREFIX = "uploads/"


def tenant_prefix(tenant: str) -> str:
    return f"{UPLOADS_PREFIX}{tenant}/"


def upload_key(tenant: str, upload_id: str, filename: str) -> str:
    """Keys start with the tenant, so a key found in a video's source proves its owner."""
    name = _UNSAFE.sub("_", filename).strip("._")[:100] or "video"
    return f"{tenant_prefix(tenant)}{upload_id}/{name}"


def owned_by(key: str, tenant: str) -> bool:
    parts = key.split("/")
    return key.startswith(tenant_prefix(tenant)) and not {"", ".", ".."} & set(parts[2:])


def tenant_source(source: str, tenant: str, bucket: str | None) -> str:
    """The URL the fetcher reads for ``tenant``'s ``source``; SourceForbidden outside its own."""
    scheme = urlparse(source).scheme.lower()
    if scheme in ("http", "https"):
        return source
    if not bucket:
        raise VystraError(f"source {source!r} is an object key but no VYSTRA_S3_BUCKET is set")
    if scheme == "s3":
        named, _, key = source[len("s3://") :].partition("/")
    elif scheme:
        named, key = "", ""
    else:
        named, key = bucket, source
    if named != bucket or not owned_by(key, tenant):
        raise SourceForbidden(
            f"{source} is not this tenant's: sources are http(s) URLs or objects under"
            f" s3://{bucket}/{tenant_prefix(tenant)}"
        )
    return f"s3://{bucket}/{key}"
