"""What one worker Job may reach, issued by the operator just before it creates the Job.

A worker decodes hostile media, so it holds nothing that outlives or outreaches its ingest:
a database login of its own (vystra.db.grants: the tenant's rows only, expiring at the Job's
deadline) and, for an uploaded source, a GET URL presigned for that one object. The platform's
database and object-store credentials stay with the operator and the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from vystra.db import Database, grants
from vystra.fetch import s3_client
from vystra.objectkeys import tenant_source
from vystra.settings import Settings

# past the Job's deadline: a pod that starts late still finds its login valid to the end
GRACE = timedelta(minutes=15)
PRESIGN_MAX = timedelta(days=7)  # the longest a SigV4 URL may be valid


@dataclass(frozen=True)
class WorkerAccess:
    database_url: str  # the platform's database address, without credentials
    login: grants.WorkerLogin
    source: str  # the source as the tenant named it, normalised to s3://bucket/key for objects
    source_url: str | None  # the presigned GET of an object source; None for http(s)


class AccessIssuer:
    def __init__(self, settings: Settings, database: Database, deadline_seconds: int) -> None:
        self.settings = settings
        self.database = database
        self.valid_for = timedelta(seconds=deadline_seconds) + GRACE
        self._s3: Any = None

    def issue(self, uid: str, tenant: str, source: str) -> WorkerAccess:
        """SourceForbidden for a source outside the tenant's own, before anything is issued."""
        resolved = tenant_source(source, tenant, self.settings.s3_bucket)
        source_url = None
        if urlparse(resolved).scheme == "s3":
            key = resolved[len(f"s3://{self.settings.s3_bucket}/") :]
            source_url = self._presign(key)
        with self.database.connect() as conn:
            login = grants.issue(conn, uid, tenant, self.valid_for)
        return WorkerAccess(
            grants.without_credentials(self.database.url), login, resolved, source_url
        )

    def revoke(self, uid: str) -> bool:
        with self.database.connect() as conn:
            return grants.revoke(conn, uid)

    def _presign(self, key: str) -> str:
        if self._s3 is None:  # boto3 clients are thread-safe; made once
            self._s3 = s3_client(self.settings)
        return self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.settings.s3_bucket, "Key": key},
            ExpiresIn=int(min(self.valid_for, PRESIGN_MAX).total_seconds()),
        )
