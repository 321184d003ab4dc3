"""Fixtures for the security tests: the stand-in servers, and the shipped default settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from security_standins import Drip, Metadata, Recorder, Redirector

from vystra.settings import Settings


@pytest.fixture
def metadata() -> Iterator[Recorder]:
    server = Recorder(Metadata)
    yield server
    server.shutdown()


@pytest.fixture
def redirector() -> Iterator[Recorder]:
    server = Recorder(Redirector)
    yield server
    server.shutdown()


@pytest.fixture
def drip() -> Iterator[Recorder]:
    server = Recorder(Drip)
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def guarded(settings: Settings) -> Settings:
    """The shipped default: nothing internal is allowed."""
    return settings.model_copy(update={"fetch_allow": ""})
