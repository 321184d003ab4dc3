"""Uploads in an S3 bucket (AWS S3, Cloudflare R2, MinIO) with presigned PUTs.

The presigned PUT signs Content-Type and Content-Length, so the store itself rejects a body of
another type or size. Above the multipart threshold the client gets one presigned URL per part
and sends the parts' ETags to ``complete``.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from vystra.fetch import s3_client
from vystra.objectkeys import UPLOADS_PREFIX
from vystra.settings import Settings
from vystra_api.objectstore import ObjectStoreError, PartTarget, UploadTarget

log = logging.getLogger(__name__)
MAX_PARTS = 10_000  # S3's limit
LIFECYCLE_RULE = "vystra-abort-incomplete-uploads"


class S3ObjectStore:
    kind = "s3"

    def __init__(self, settings: Settings) -> None:
        if not settings.s3_bucket:
            raise ObjectStoreError("cluster mode needs VYSTRA_S3_BUCKET, the bucket for uploads")
        self.bucket = settings.s3_bucket
        self.threshold = settings.upload_multipart_threshold_bytes
        self.part_bytes = settings.upload_part_bytes
        self._client: Any = s3_client(settings)

    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise ObjectStoreError(f"object store: {method} failed: {code}", code) from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"object store unreachable: {exc}") from exc

    def _presign(self, method: str, ttl: int, **params: Any) -> str:
        return self._client.generate_presigned_url(
            method, Params={"Bucket": self.bucket, **params}, ExpiresIn=ttl
        )

    def begin_upload(
        self,
        *,
        upload_id: str,
        key: str,
        size: int,
        content_type: str,
        expires_at: datetime,
        base_url: str,
    ) -> UploadTarget:
        ttl = max(1, int((expires_at - datetime.now(UTC)).total_seconds()))
        if size <= self.threshold:
            url = self._presign(
                "put_object", ttl, Key=key, ContentType=content_type, ContentLength=size
            )
            return UploadTarget(url, {"Content-Type": content_type}, expires_at)
        part_size = max(self.part_bytes, math.ceil(size / MAX_PARTS))
        multipart_id = self._call("create_multipart_upload", Key=key, ContentType=content_type)[
            "UploadId"
        ]
        parts = []
        for n in range(math.ceil(size / part_size)):
            length = min(part_size, size - n * part_size)
            url = self._presign(
                "upload_part",
                ttl,
                Key=key,
                UploadId=multipart_id,
                PartNumber=n + 1,
                ContentLength=length,
            )
            parts.append(PartTarget(n + 1, url, length))
        return UploadTarget(None, {}, expires_at, multipart_id, part_size, parts)

    def complete_multipart(self, key: str, multipart_id: str, parts: list[tuple[int, str]]) -> None:
        self._call(
            "complete_multipart_upload",
            Key=key,
            UploadId=multipart_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in parts]},
        )

    def object_size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise ObjectStoreError(f"object store: head failed: {exc}") from exc

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=key)

    def abandon(self, key: str, multipart_id: str | None) -> None:
        if multipart_id:
            try:
                self._call("abort_multipart_upload", Key=key, UploadId=multipart_id)
            except ObjectStoreError as exc:
                if exc.code != "NoSuchUpload":  # aborted already: by another sweep, or the rule
                    raise
        self.delete(key)  # a single PUT that arrived after all (deleting nothing is fine)

    def prepare(self) -> None:
        """A bucket rule aborting multipart uploads still incomplete a day after they began,
        beside the bucket's other rules: those the API never recorded (a crash between the
        create and the row) go too. AWS S3 and R2 keep such a rule; MinIO refuses it
        (InvalidArgument) and removes stale multipart uploads itself, after 24 h by default."""
        try:
            rules = self._call("get_bucket_lifecycle_configuration")["Rules"]
        except ObjectStoreError as exc:
            if exc.code != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        if any(rule.get("ID") == LIFECYCLE_RULE for rule in rules):
            return
        rule = {
            "ID": LIFECYCLE_RULE,
            "Status": "Enabled",
            "Filter": {"Prefix": UPLOADS_PREFIX},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
        configuration = {"Rules": [*rules, rule]}
        try:
            self._call("put_bucket_lifecycle_configuration", LifecycleConfiguration=configuration)
        except ObjectStoreError as exc:
            if exc.code not in ("InvalidArgument", "MalformedXML", "NotImplemented"):
                raise
            log.info(
                "the object store keeps no rule for incomplete multipart uploads (%s)", exc.code
            )

    def source_for(self, key: str) -> str:
        return key  # the VideoIngest contract: a bare key is read from the configured bucket

    def sources(self, key: str) -> tuple[str, ...]:
        return key, f"s3://{self.bucket}/{key}"  # an API ingest, a worker's resolved source

    def key_for_source(self, source: str) -> str | None:
        prefix = f"s3://{self.bucket}/"
        if source.startswith(prefix):
            return source[len(prefix) :]
        return source if source.startswith(UPLOADS_PREFIX) else None

    def media_url(self, key: str, *, base_url: str, ttl_seconds: int) -> str:
        return self._presign("get_object", ttl_seconds, Key=key)

    def check(self) -> None:
        self._call("head_bucket")
