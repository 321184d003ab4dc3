"""Fixtures for the API: the app in-process (TestClient) and on a real loopback uvicorn server.

Both share the session's embedded Postgres; callers are real tenants with real keys.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_helpers import LiveServer
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vystra.db import Database
from vystra.settings import Settings
from vystra_api.main import create_app


@pytest.fixture(scope="session")
def api_app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db=db)


@pytest.fixture(scope="session")
def client(api_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(api_app) as test_client:  # runs the lifespan: the ingest workers start
        yield test_client


@pytest.fixture(scope="session")
def live_url(settings: Settings, db: Database) -> Iterator[str]:
    with LiveServer(create_app(settings, db=db)) as url:
        yield url
