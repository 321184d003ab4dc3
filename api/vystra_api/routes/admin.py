"""The platform's own routes (``VYSTRA_ADMIN_KEY``): tenants and their API keys, and moving
the search index to another embedding model without re-transcribing (vystra.reindex)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Response

from vystra import tenants
from vystra.db import searchindex as si
from vystra.errors import VystraError
from vystra.reindex import start_run
from vystra_api.deps import AdminDep, StateDep
from vystra_api.errors import ApiError
from vystra_api.models import (
    ReindexRequest,
    ReindexRunPublic,
    ReindexRuns,
    TenantCreate,
    TenantCreated,
    TenantPublic,
)

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


TenantName = Annotated[str, Path(max_length=40, pattern=tenants.TENANT_NAME.pattern)]


@router.post("/tenants", status_code=201, summary="Create a tenant; its API key, shown once")
def create_tenant(_: AdminDep, state: StateDep, body: TenantCreate) -> TenantCreated:
    try:
        tenants.validate_name(body.name)
    except VystraError as exc:
        raise ApiError(422, str(exc)) from exc
    with state.db.connect() as conn:
        try:
            key = tenants.create_tenant(conn, body.name)
        except VystraError as exc:  # it exists and is active
            raise ApiError(409, str(exc)) from exc
    return TenantCreated(name=body.name, api_key=key)


@router.get("/tenants", summary="Every tenant, active or revoked")
def list_tenants(_: AdminDep, state: StateDep) -> list[TenantPublic]:
    with state.db.connect() as conn:
        return [TenantPublic.model_validate(asdict(t)) for t in tenants.list_tenants(conn)]


@router.post(
    "/tenants/{name}/revoke",
    status_code=204,
    summary="Invalidate every key of a tenant (its data stays)",
)
def revoke_tenant(name: TenantName, _: AdminDep, state: StateDep) -> Response:
    with state.db.connect() as conn:
        try:
            tenants.revoke_tenant(conn, name)
        except VystraError as exc:
            raise ApiError(404, str(exc)) from exc
    return Response(status_code=204)
