"""The FastAPI application: routers, error handlers and the process's state.

uvicorn --factory vystra_api.main:create_app     # or: vystra serve --host H --port P
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig

from vystra import webhooks
from vystra.billing import usage
from vystra.db import Database, open_database
from vystra.settings import Settings, get_settings
from vystra_api import errors, web
from vystra_api.backends import IngestBackend
from vystra_api.deps import get_state
from vystra_api.errors import ApiError
from vystra_api.insightswriter import InsightsWriter
from vystra_api.limits import BodyLimit
from vystra_api.metrics import Metrics, RequestTimer
from vystra_api.models import ErrorBody
from vystra_api.objectstore import ObjectStore, open_store
from vystra_api.requestlog import RequestLog
from vystra_api.routes import (
    admin,
    billing,
    health,
    ingests,
    media,
    search,
    session,
    uploads,
    videos,
)
from vystra_api.routes import webhooks as webhook_routes
from vystra_api.state import AppState, open_billing
from vystra_api.sweeper import UploadSweeper
from vystra_api.webhooksender import WebhookSender

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def open_backend(settings: Settings, db: Database, objects: ObjectStore) -> IngestBackend:
    if settings.mode == "cluster":
        from vystra_api.backends.kube import KubeBackend

        return KubeBackend(settings)
    from vystra_api.backends.local import LocalBackend

    return LocalBackend(settings, db, objects)


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase (``create_ingest`` -> ``createIngest``): stable
    as long as the function keeps its name, and what generated clients name their methods
    (FastAPI's default, ``create_ingest_v1_ingests_post``, changes with the path)."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _document_problems(app: FastAPI) -> None:
    """FastAPI files every response model under ``application/json``; error answers are
    ``application/problem+json``, and the document must say so (clients and checkers pick the
    parser by it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for operations in document["paths"].values():
                for operation in operations.values():
                    for code, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if code[0] in "45" and "application/json" in content:
                            content[errors.PROBLEM_JSON] = content.pop("application/json")
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, ops_routes: bool = True
) -> FastAPI:
    """Build the app; ``db`` lets a caller share its pool (the app then leaves it open);
    ``ops_routes=False`` leaves readiness and metrics to :func:`create_ops_app`."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as started:  # stops what started, also when a later step fails
            database = db or started.enter_context(
                open_database(settings, max_size=settings.db_pool_size)
            )
            objects = open_store(settings)
            backend = open_backend(settings, database, objects)
            billing_state = open_billing(settings, database)
            metrics.watch_ingests(backend.counts_by_phase)
            if settings.billing_enabled:

                def outbox() -> tuple[int, float]:
                    with database.connect() as conn:
                        return usage.outbox(conn)

                metrics.watch_outbox(outbox)

            def webhook_backlog() -> tuple[int, float]:
                with database.connect() as conn:
                    return webhooks.backlog(conn)

            metrics.watch_webhooks(webhook_backlog)
            sweeper = UploadSweeper(database, objects, settings.upload_sweep_seconds)
            reader = database
            if settings.database_read_url:  # a standby: the primary migrates the schema
                reader = started.enter_context(
                    Database(
                        settings.database_read_url,
                        max_size=settings.db_pool_size,
                        migrate_schema=False,
                    )
                )
            app.state.vystra = AppState(
                settings, database, objects, backend, metrics, billing_state, reader
            )
            started.callback(backend.stop)
            backend.start()
            started.callback(app.state.vystra.streams.stop)
            started.callback(billing_state.stop)
            billing_state.start()
            started.callback(sweeper.stop)
            sweeper.start()
            writer = InsightsWriter(database, settings, app.state.vystra.current_embedder)
            started.callback(writer.stop)
            writer.start()
            sender = WebhookSender(database, settings)
            started.callback(sender.stop)
            sender.start()
            yield

    app = FastAPI(
        title="Vystra",
        version="1.0",
        summary="Self-hosted video search: uploads, ingests, videos and search.",
        description="Every /v1 route except the signed upload and media URLs needs a tenant's"
        " API key as a bearer token. Errors are RFC 9457 problems (application/problem+json)"
        " that also carry a stable `error` reason and a `message`.",
        license_info={"name": "MIT", "identifier": "MIT"},
        servers=[{"url": "/", "description": "This Vystra API"}],
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # requests are traced by requestlog (its span records no query string, where signed
        # URLs and stream tokens travel); metrics are Prometheus's, logs vystra.logs's
        telemetry=NO_TELEMETRY,
    )
    errors.install(app)
    # errors are ErrorBody problems, not FastAPI's default validation shape: say so
    errors_doc: dict[int | str, dict[str, Any]] = {
        "4XX": {"model": ErrorBody, "description": "Bad request: a problem, with a message."}
    }
    routers = (session, uploads, ingests, videos, search, media, webhook_routes, billing, health)
    for module in (*routers, admin):
        app.include_router(module.router, responses=errors_doc)
    if ops_routes:
        app.include_router(health.ops_router, responses=errors_doc)
    web.install(app, settings)
    _document_problems(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestTimer, metrics=metrics)
    app.add_middleware(RequestLog)  # around the limits: their refusals carry the id too
    origins = [o.strip().rstrip("/") for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # outermost, so error answers carry the CORS headers too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Vystra-CSRF"],
        )
    return app


def create_ops_app(app: FastAPI) -> FastAPI:
    """Liveness, readiness and metrics of ``app``, for a port of their own (``--ops-port``)."""
    ops = FastAPI(title="Vystra operations", openapi_url=None, telemetry=NO_TELEMETRY)
    errors.install(ops)
    ops.include_router(health.router)
    ops.include_router(health.ops_router)

    def started_state() -> AppState:
        state: AppState | None = getattr(app.state, "vystra", None)
        if state is None:
            raise ApiError(503, "the API is starting")
        return state

    ops.dependency_overrides[get_state] = started_state
    return ops
