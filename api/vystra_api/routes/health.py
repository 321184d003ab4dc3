"""Liveness, readiness (database, object store, Kubernetes) and Prometheus metrics.

``router`` (liveness) is served on every port; ``ops_router`` (readiness, metrics) on the API's
own port in local mode, and on the operations port alone where one is set (the chart does), so
that a public Ingress never exposes them.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from vystra_api.deps import PUBLIC, StateDep

router = APIRouter(tags=["health"])
ops_router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive", openapi_extra=PUBLIC)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@ops_router.get(
    "/readyz",
    summary="The database, object store and Kubernetes API are reachable",
    openapi_extra=PUBLIC,
)
def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with state.db.connect() as conn:
            conn.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        state.objects.check()
        checks["object_store"] = "ok"
    except Exception as exc:
        checks["object_store"] = f"unreachable: {exc}"
    if state.backend.kind == "cluster":
        try:
            state.backend.check()
            checks["kubernetes"] = "ok"
        except Exception as exc:
            checks["kubernetes"] = f"unreachable: {exc}"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "unavailable", "mode": state.backend.kind, **checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@ops_router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, openapi_extra=PUBLIC
)
def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
