"""Integration fixtures. Connector tests: settings bound to a fresh database and the core
topics of a unique prefix, and a local fake destination API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi


@pytest.fixture
def connector_settings(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> Settings:
    """This test's topic prefix (core topics created) and database (migrated)."""
    return settings.model_copy(update={"postgres": fresh_database})


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeDestinationApi]:
    api = FakeDestinationApi()
    await api.start()
    yield api
    await api.close()
