"""The S3 store's clean-up on the dev cluster's S3 server: the bucket rule for incomplete
multipart uploads, and abandoning what an upload left."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from vystra.objectkeys import tenant_prefix
from vystra_api.objectstore.s3 import LIFECYCLE_RULE, S3ObjectStore


@pytest.fixture
def store(s3, settings) -> Iterator[S3ObjectStore]:
    with pytest.MonkeyPatch.context() as mp:  # boto3 reads its credentials from the environment
        for key, value in s3.env().items():
            mp.setenv(key, value)
        yield S3ObjectStore(
            settings.model_copy(update={"s3_endpoint_url": s3.endpoint_url, "s3_bucket": s3.bucket})
        )


def test_the_bucket_rule_never_costs_the_bucket_its_own_rules(s3, store):
    client = s3.client()
    store.prepare()  # a bucket with no rules at all
    theirs = {
        "ID": "expire-logs",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 30},
    }
    client.put_bucket_lifecycle_configuration(
        Bucket=s3.bucket, LifecycleConfiguration={"Rules": [theirs]}
    )
    try:
        store.prepare()
        store.prepare()  # a restart adds nothing
        rules = client.get_bucket_lifecycle_configuration(Bucket=s3.bucket)["Rules"]
    finally:
        client.delete_bucket_lifecycle(Bucket=s3.bucket)
    by_id = {rule["ID"]: rule for rule in rules}
    assert by_id.pop("expire-logs") == theirs
    # AWS S3 and R2 keep the rule beside the bucket's own; this S3 server (MinIO) refuses it
    # and removes stale multipart uploads itself
    assert set(by_id) <= {LIFECYCLE_RULE}
    for rule in by_id.values():
        assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
        assert rule["Filter"] == {"Prefix": "uploads/"} and rule["Status"] == "Enabled"


def test_abandon_removes_multipart_parts_and_a_single_put(s3, store):
    client = s3.client()
    prefix = tenant_prefix(f"t-{uuid.uuid4().hex[:8]}")
    parted, single = f"{prefix}u1/a.mp4", f"{prefix}u2/b.mp4"
    multipart_id = client.create_multipart_upload(Bucket=s3.bucket, Key=parted)["UploadId"]
    client.upload_part(
        Bucket=s3.bucket, Key=parted, UploadId=multipart_id, PartNumber=1, Body=b"x" * 1024
    )
    client.put_object(Bucket=s3.bucket, Key=single, Body=b"y" * 1024)

    store.abandon(parted, multipart_id)
    store.abandon(single, None)

    open_uploads = client.list_multipart_uploads(Bucket=s3.bucket, Prefix=prefix)
    assert open_uploads.get("Uploads", []) == []
    assert store.object_size(parted) is None and store.object_size(single) is None
    store.abandon(parted, multipart_id)  # swept twice (two replicas, a retry): no error
