"""A tenant's cluster-mode source stays inside its own prefix of the platform's bucket."""

from __future__ import annotations

import pytest

from vystra.errors import SourceForbidden, VystraError
from vystra.objectkeys import owned_by, tenant_source, upload_key


@pytest.mark.parametrize(
    ("source", "read"),
    [
        ("uploads/alice/u1/talk.mp4", "s3://media/uploads/alice/u1/talk.mp4"),
        ("s3://media/uploads/alice/talks/a.mp4", "s3://media/uploads/alice/talks/a.mp4"),
        ("S3://media/uploads/alice/a.mp4", "s3://media/uploads/alice/a.mp4"),
        ("https://example.org/a.mp4", "https://example.org/a.mp4"),  # urlguard checks hops
    ],
)
def test_a_tenant_reads_its_own_objects(source, read):
    assert tenant_source(source, "alice", "media") == read


@pytest.mark.parametrize(
    "source",
    [
        "uploads/bob/u1/talk.mp4",  # another tenant's upload
        "s3://media/uploads/bob/u1/talk.mp4",
        "s3://other-bucket/uploads/alice/a.mp4",  # another bucket, even under the prefix
        "s3://media/talks/a.mp4",  # the bucket outside any tenant's prefix
        "uploads/alice-evil/a.mp4",  # a tenant whose name starts with alice's
        "uploads/alice/../bob/a.mp4",
        "s3://media/uploads/alice/./../bob/a.mp4",
        "uploads/alice//a.mp4",
        "uploads/alice/",
        "uploads/alice",
        "ftp://media/uploads/alice/a.mp4",
        "file:///etc/passwd",
        "s3://media",
    ],
)
def test_anything_else_is_refused_before_any_request(source):
    with pytest.raises(SourceForbidden, match="is not this tenant's"):
        tenant_source(source, "alice", "media")


def test_an_object_key_needs_a_configured_bucket():
    with pytest.raises(VystraError, match="no VYSTRA_S3_BUCKET"):
        tenant_source("uploads/alice/a.mp4", "alice", None)


def test_upload_keys_are_owned_by_their_tenant_alone():
    key = upload_key("alice", "u1", "../../My Talk (final).mp4")
    assert key == "uploads/alice/u1/My_Talk_final_.mp4"
    assert owned_by(key, "alice") and not owned_by(key, "bob") and not owned_by(key, "ali")
