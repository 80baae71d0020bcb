"""schemathesis against the served OpenAPI document: generated requests on every
operation (a bounded number of examples each), no 5xx, every answer conforms to the
document (status code listed, content type, body schema)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from admin.app import create_app
from admin.bootstrap import create_user
from hookline.settings import Settings
from tests.integration.admin_fixtures import PASSWORD, admin_config

__all__ = ["admin_config"]

EXAMPLES = 25  # per operation: bounded, so make test stays quick
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def served(admin_config: Settings) -> Iterator[str]:
    """The admin app on a port of its own, in a thread with its own event loop."""
    create_user(admin_config.postgres.conninfo(), "ada", PASSWORD, "admin")
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(admin_config, index_dead_letters=False))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def test_every_operation_answers_as_documented(served: str) -> None:
    document = requests.get(f"{served}/api/v1/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    login = requests.post(
        f"{served}/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}, timeout=10
    ).json()
    # a person's token: generated calls revoking API keys cannot lock the test out
    auth = {"Authorization": f"Bearer {login['data']['access_token']}"}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == sum(len(p) for p in document["paths"].values())
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            response = case.call(base_url=served, headers=auth, timeout=30)
            case.validate_response(response, checks=CHECKS)

        check()
