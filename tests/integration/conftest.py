"""Integration fixtures. Connector tests: settings bound to a fresh database and the core
topics of a unique prefix, and a local fake destination API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi
from tests.conftest import ROOT
from tests.installed_wheel import InstalledWheel, build_wheel, install_wheel


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


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """The ``hookline`` wheel built from this tree, installed in a fresh virtualenv outside
    the repository; ``.bin`` is its bin dir, ``.run(args, env, cwd)`` runs a command there
    (``.popen`` starts one), by default from ``.home``, a directory outside the repository.
    """
    workdir = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(ROOT, workdir)
    installed = install_wheel(wheel, workdir / "venv", tmp_path_factory.mktemp("home"))
    where = installed.run(["python", "-c", "import launcher; print(launcher.__file__)"])
    location = Path(where.stdout.strip())
    if where.returncode != 0 or not location.is_relative_to(workdir / "venv"):
        pytest.fail(f"launcher imported from {location or where.stderr}, not the wheel")
    return installed
