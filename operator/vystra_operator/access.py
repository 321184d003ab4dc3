"""What one worker Job may reach, issued by the operator just before it creates the Job.

A worker decodes hostile media, so it holds nothing that outlives or outreaches its ingest:
a database login of its own (vystra.db.grants: the tenant's rows only, expiring at the Job's
deadline) and, for an uploaded source, a GET URL presigned for that one object. The platform's
database and object-store credentials, and its LLM key (the API writes insights), stay with the
operator and the API. The tenant's plan is
read here too, so its limits bind resources made with kubectl as much as through the API.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from vystra.billing import quota
from vystra.billing.plans import load_catalog
from vystra.db import Database, grants
from vystra.fetch import s3_client
from vystra.objectkeys import tenant_source
from vystra.settings import Settings
from vystra.videoingest import Spec

# past the Job's deadline: a pod that starts late still finds its login valid to the end
GRACE = timedelta(minutes=15)
PRESIGN_MAX = timedelta(days=7)  # the longest a SigV4 URL may be valid


@dataclass(frozen=True)
class WorkerAccess:
    database_url: str  # the platform's database address, without credentials
    login: grants.WorkerLogin
    source_url: str | None  # the presigned GET of an object source; None for http(s)
    max_video_seconds: float | None = None  # the tenant's plan limit, checked once probed
    # the platform's LLM key: only for Groq's hosted transcription (insights are the API's)
    llm_key: bool = False


class GpuNotInPlan(Exception):
    """An ``auto`` ingest was placed on a GPU flavor, and its tenant's plan has no GPU: the
    operator places it again on CPU flavors (the API does so at creation; kubectl does not)."""


class LoginBatcher:
    """Group commit for worker logins. The Job threads ask at once when many ingests are
    admitted together; one of them issues every login asked for so far in one transaction
    (grants.issue_many) while the others wait, and whoever asked meanwhile leads the next
    batch. One commit and one round trip per batch instead of per Job."""

    def __init__(self, database: Database, valid_for: timedelta) -> None:
        self.database, self.valid_for = database, valid_for
        self._ready = threading.Condition()
        self._pending: dict[str, tuple[str, Future[grants.WorkerLogin]]] = {}
        self._issuing = False

    def issue(self, uid: str, tenant: str) -> grants.WorkerLogin:
        with self._ready:
            asked = self._pending.get(uid)
            if asked is None:  # the same uid asked twice at once gets the same login
                asked = self._pending[uid] = (tenant, Future())
            answer = asked[1]
            while self._issuing and not answer.done():
                self._ready.wait()
            if answer.done():
                return answer.result()
            self._issuing = True
            batch, self._pending = self._pending, {}
        try:
            with self.database.connect() as conn:
                logins = grants.issue_many(
                    conn, {u: t for u, (t, _) in batch.items()}, self.valid_for
                )
            for u, (_, future) in batch.items():
                future.set_result(logins[u])
        except Exception as exc:  # each Job create of the batch retries on its own
            for _, future in batch.values():
                future.set_exception(exc)
        finally:
            with self._ready:
                self._issuing = False
                self._ready.notify_all()
        return answer.result()


class AccessIssuer:
    def __init__(self, settings: Settings, database: Database, deadline_seconds: int) -> None:
        self.settings = settings
        self.database = database
        self.valid_for = timedelta(seconds=deadline_seconds) + GRACE
        # plans bind whoever made the resource (the API checks them too, and answers 402)
        self.catalog = load_catalog(settings) if settings.billing_enabled else None
        self._s3: Any = None
        self._logins = LoginBatcher(database, self.valid_for)

    def issue(self, uid: str, tenant: str, spec: Spec, gpu: bool) -> WorkerAccess:
        """SourceForbidden for a source outside the tenant's own, QuotaExceeded for an ingest
        its plan does not allow, GpuNotInPlan for ``auto`` on a GPU flavor (``gpu``) that the
        plan excludes: all before anything is issued."""
        resolved = tenant_source(spec.source, tenant, self.settings.s3_bucket)
        source_url = None
        if urlparse(resolved).scheme == "s3":
            key = resolved[len(f"s3://{self.settings.s3_bucket}/") :]
            source_url = self._presign(key)
        limit = self._plan_limit(tenant, spec, gpu)
        login = self._logins.issue(uid, tenant)
        url = grants.without_credentials(self.database.url)
        llm_key = self.settings.transcriber == "groq"
        return WorkerAccess(url, login, source_url, limit, llm_key)

    def _plan_limit(self, tenant: str, spec: Spec, gpu: bool) -> float | None:
        if self.catalog is None:
            return None
        with self.database.connect() as conn:
            state = quota.standing(conn, self.catalog, tenant)
        # concurrency is the API's fair-use bound and the scheduler's; this ingest is admitted
        quota.check_ingest(
            state,
            accelerator=str(spec.accelerator),
            duration_hint=spec.duration_hint_seconds,
            active_ingests=0,
        )
        if gpu and state.plan is not None and not state.plan.gpu_allowed:
            raise GpuNotInPlan(f"the {state.plan.name} plan does not include GPU processing")
        return state.plan.max_video_seconds if state.plan else None

    def warm_up(self) -> None:
        if self.settings.s3_bucket and self._s3 is None:
            self._s3 = s3_client(self.settings)

    def _presign(self, key: str) -> str:
        if self._s3 is None:  # boto3 clients are thread-safe; made once
            self._s3 = s3_client(self.settings)
        return self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.settings.s3_bucket, "Key": key},
            ExpiresIn=int(min(self.valid_for, PRESIGN_MAX).total_seconds()),
        )
