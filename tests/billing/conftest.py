"""Billing fixtures: stripe-mock (built from its Go module) on loopback, and an API app with
billing enabled against it. Tenants are real, with real keys, in the session's Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from billing_helpers import API_KEY, PLANS, WEBHOOK_SECRET, StripeMock, ensure_stripe_mock
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from vystra.billing.plans import Catalog, load_catalog
from vystra.db import Database
from vystra.settings import Settings
from vystra_api.main import create_app


@pytest.fixture(scope="session")
def stripe_mock_binary() -> Path:
    return ensure_stripe_mock()


@pytest.fixture(scope="session")
def stripe_mock(
    stripe_mock_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StripeMock]:
    server = StripeMock(stripe_mock_binary, tmp_path_factory.mktemp("stripe-mock"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def billing_settings(settings: Settings, stripe_mock: StripeMock) -> Settings:
    return settings.model_copy(
        update={
            "billing_enabled": True,
            "stripe_api_key": SecretStr(API_KEY),
            "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "stripe_api_base": stripe_mock.url,
            "billing_plans_yaml": PLANS,
            "billing_default_plan": "free",
            "billing_report_interval_seconds": 3600.0,  # tests drain the outbox themselves
        }
    )


@pytest.fixture(scope="session")
def catalog(billing_settings: Settings) -> Catalog:
    return load_catalog(billing_settings)


@pytest.fixture(scope="session")
def billing_app(billing_settings: Settings, db: Database) -> FastAPI:
    return create_app(billing_settings, db=db)


@pytest.fixture(scope="session")
def billing_client(billing_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(billing_app) as client:
        yield client
