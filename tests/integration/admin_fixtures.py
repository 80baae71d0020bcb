"""Fixtures of the admin API tests: an app on this test's database and topic prefix, and
one credential per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from admin.app import create_app
from admin.auth import Role
from admin.bootstrap import create_key, create_user
from hookline.settings import PostgresSettings, Settings

JWT_SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery staple"


@dataclass
class Admin:
    client: TestClient[web.Request, web.Application]
    settings: Settings
    keys: dict[str, str]  # role -> API key

    def as_role(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"X-API-Key": self.keys[role]}

    async def login(self, username: str = "ada") -> dict[str, object]:
        answer = await self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert answer.status == 200, await answer.text()
        data: dict[str, object] = (await answer.json())["data"]
        return data


def admin_settings(settings: Settings, database: PostgresSettings) -> Settings:
    # A generous request rate: only the rate-limit test runs into it (its own settings).
    update = {"jwt_secret": SecretStr(JWT_SECRET), "rate_per_second": 1000.0, "rate_burst": 1000}
    section = settings.admin.model_copy(update=update)
    return settings.model_copy(update={"postgres": database, "admin": section})


@pytest.fixture
def admin_config(settings: Settings, fresh_database: PostgresSettings) -> Settings:
    return admin_settings(settings, fresh_database)


async def start_admin(
    config: Settings, *, index: bool = False, serve: Settings | None = None
) -> Admin:
    """Users and keys made in ``config``'s database; the app run with ``serve`` (default:
    ``config``: another route to the same database, say)."""
    conninfo = config.postgres.conninfo()
    create_user(conninfo, "ada", PASSWORD, "admin")
    create_user(conninfo, "otto", PASSWORD, "operator")
    roles: tuple[Role, ...] = ("viewer", "operator", "admin")
    keys: dict[str, str] = {r: create_key(conninfo, f"{r}-key", r, None) for r in roles}
    client = TestClient(TestServer(create_app(serve or config, index_dead_letters=index)))
    await client.start_server()
    return Admin(client, config, keys)


@pytest.fixture
async def admin_api(admin_config: Settings) -> AsyncIterator[Admin]:
    admin = await start_admin(admin_config)
    yield admin
    await admin.client.close()
