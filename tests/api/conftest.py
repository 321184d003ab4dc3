"""Fixtures for the API: the app in-process (TestClient) and on a real loopback uvicorn server.

Both share the session's embedded Postgres; callers are real tenants with real keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from api_helpers import Caller, LiveServer
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.settings import Settings
from vystra.tenants import create_tenant
from vystra_api.main import create_app


@pytest.fixture(scope="session")
def api_app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db=db)


@pytest.fixture(scope="session")
def client(api_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(api_app) as test_client:  # runs the lifespan: the ingest workers start
        yield test_client


@pytest.fixture
def make_caller(db: Database) -> Callable[[], Caller]:
    def make() -> Caller:
        name = f"t-{uuid.uuid4().hex[:12]}"
        with db.connect() as conn:
            return Caller(name, create_tenant(conn, name))

    return make


@pytest.fixture
def caller(make_caller: Callable[[], Caller]) -> Caller:
    return make_caller()


@pytest.fixture(scope="session")
def live_url(settings: Settings, db: Database) -> Iterator[str]:
    with LiveServer(create_app(settings, db=db)) as url:
        yield url
