"""Where ingests (and re-indexes) run: in this process (local mode) or on Kubernetes (cluster
mode: VideoIngest resources, and a Job per re-index)."""

from __future__ import annotations

from typing import Protocol

from vystra_api.models import IngestPublic, IngestSpec


class QueueFullError(Exception):
    """Local mode's queue holds as many ingests as it may; try again later."""


class BackendError(Exception):
    """The backend (database or Kubernetes API) failed; not the caller's fault."""


class IngestBackend(Protocol):
    kind: str

    def create(
        self,
        tenant: str,
        ingest_id: str,
        source: str,
        upload_id: str | None,
        spec: IngestSpec,
        *,
        max_video_seconds: float | None = None,
    ) -> IngestPublic:
        """Create the ingest; ``max_video_seconds``: the plan's length limit, enforced once the
        video has been measured (local mode; in cluster mode the operator reads the plan)."""
        ...

    def get(self, tenant: str, ingest_id: str) -> IngestPublic | None: ...

    def list(
        self, tenant: str, *, limit: int, cursor: str | None
    ) -> tuple[list[IngestPublic], str | None]: ...

    def delete(self, tenant: str, ingest_id: str) -> bool:
        """Delete the ingest (cancelling it if running); False if the tenant has no such id."""
        ...

    def counts_by_phase(self) -> dict[str, int]: ...

    def active_count(self, tenant: str) -> int:
        """The tenant's ingests not yet finished (Pending, Queued or Running)."""
        ...

    def check(self) -> None:
        """Raise if the backend cannot be reached (for /readyz)."""
        ...

    def reindex(self, run_id: str) -> None:
        """Carry out a recorded re-index run (vystra.reindex) in the background."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...
