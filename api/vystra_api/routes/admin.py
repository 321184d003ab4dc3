"""The platform's own routes (``VYSTRA_ADMIN_KEY``): moving the search index to another
embedding model without re-transcribing (vystra.reindex)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path

from vystra.db import searchindex as si
from vystra.errors import VystraError
from vystra.reindex import start_run
from vystra_api.deps import AdminDep, StateDep
from vystra_api.errors import ApiError
from vystra_api.models import ReindexRequest, ReindexRunPublic, ReindexRuns

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def _public(run: si.ReindexRun) -> ReindexRunPublic:
    return ReindexRunPublic.model_validate(asdict(run))


@router.post(
    "/reindex",
    status_code=202,
    summary="Re-embed every stored unit with another model; search switches when done",
)
def create_reindex(_: AdminDep, state: StateDep, body: ReindexRequest) -> ReindexRunPublic:
    try:
        run = start_run(state.db, state.settings, body.model)
    except VystraError as exc:
        raise ApiError(400, str(exc), reason="BadModel") from exc
    try:
        state.backend.reindex(run.id)
    except Exception as exc:  # nothing will carry the run out: say so on it
        with state.db.connect() as conn:
            si.update_run(conn, run.id, status="failed", error=f"could not start: {exc}")
        raise
    return _public(run)


@router.get("/reindex", summary="Recent re-index runs, newest first")
def list_reindexes(_: AdminDep, state: StateDep) -> ReindexRuns:
    with state.db.connect() as conn:
        active = si.active(conn)
        runs = si.list_runs(conn)
    return ReindexRuns(
        model=active.model if active else None,
        name=active.name if active else None,
        dim=active.dim if active else None,
        items=[_public(r) for r in runs],
    )


@router.get("/reindex/{run_id}", summary="One re-index run and its progress")
def get_reindex(
    _: AdminDep, state: StateDep, run_id: Annotated[str, Path(max_length=64)]
) -> ReindexRunPublic:
    with state.db.connect() as conn:
        run = si.get_run(conn, run_id)
    if run is None:
        raise ApiError(404, f"no re-index run {run_id}")
    return _public(run)
