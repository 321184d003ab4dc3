"""Shared fixtures: one embedded Postgres per test session, media made with espeak-ng.

Each test gets its own tenant, so tests share the database without seeing each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from api_helpers import Caller

from vystra.db import Database, open_database
from vystra.demo import Section, make_talk_video
from vystra.pipeline import Pipeline
from vystra.settings import Settings
from vystra.tenants import create_tenant


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vystra-home")


@pytest.fixture(scope="session")
def settings(home: Path) -> Settings:
    # URL sources in tests are served on loopback, which Vystra refuses unless allowed; the
    # security tests take the allowance away again (tests/security)
    # insights left pending, and webhook deliveries, are sent by the API processes of the
    # tests that want them
    return Settings(
        home=home,
        database_url=None,
        groq_api_key=None,
        fetch_allow="127.0.0.1/32",
        insights_poll_seconds=0,
        webhook_delivery_seconds=0,
    )


@pytest.fixture(scope="session")
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings)
    yield database
    database.close()


@pytest.fixture
def own_db(db: Database) -> Iterator[Database]:
    """A database of its own on the same server, for tests that change what every tenant's
    search uses (the index's model)."""
    name = f"vystra_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = psycopg.conninfo.make_conninfo(db.url, dbname=name)
    database = Database(url)
    yield database
    database.close()
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pipeline(settings: Settings, db: Database) -> Pipeline:
    return Pipeline(settings, db)


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def talk(media_dir: Path) -> tuple[Path, list[Section]]:
    """A six-topic talk (about 90 s) as MP4, with the time span of each topic."""
    path = media_dir / "six_topic_talk.mp4"
    return path, make_talk_video(path)


@pytest.fixture(scope="session")
def ingested_talk(pipeline: Pipeline, talk: tuple[Path, list[Section]]):
    """The talk ingested once for the whole session under its own tenant."""
    tenant = "talk-fixture"
    result = pipeline.ingest(str(talk[0]), tenant=tenant)
    return tenant, result, talk[1]


@pytest.fixture
def make_caller(db: Database) -> Callable[[], Caller]:
    """Registers a new tenant with an API key, for the API and billing tests."""

    def make() -> Caller:
        name = f"t-{uuid.uuid4().hex[:12]}"
        with db.connect() as conn:
            return Caller(name, create_tenant(conn, name))

    return make


@pytest.fixture
def caller(make_caller: Callable[[], Caller]) -> Caller:
    return make_caller()
