"""The admin API's connectors: status from a running connector, and pause / resume that
the running connector obeys."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from connectors.config import RateLimitConfig
from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi
from tests.fakes.connector_harness import (
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)
from tests.integration.admin_fixtures import Admin, admin_settings, start_admin


async def status(admin: Admin, name: str) -> dict[str, Any]:
    answer = await admin.client.get(f"/api/v1/connectors/{name}", headers=admin.as_role("viewer"))
    assert answer.status == 200, await answer.text()
    data: dict[str, Any] = (await answer.json())["data"]
    return data


async def wait_status(admin: Admin, name: str, holds: Any, what: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def check() -> bool:
        seen.clear()
        seen.update(await status(admin, name))
        return bool(holds(seen))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if await check():
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {seen}")


async def test_paused_connector_stops_delivering_and_resumes_where_it_stopped(
    connector_settings: Settings, fake_api: FakeDestinationApi, tmp_path: Path
) -> None:
    files = tmp_path / "connectors.toml"
    files.write_text('[connectors.crm.destination]\ntype = "http_upsert"\n')
    section = connector_settings.connectors.model_copy(update={"config_file": files})
    config_settings = connector_settings.model_copy(update={"connectors": section})
    topics = Topics(connector_settings.kafka.topic_prefix)
    config = connector_config(
        "crm",
        fake_api.base_url,
        lag_interval_seconds=0.05,
        rate_limit=RateLimitConfig(requests_per_second=50, burst=10),
    )
    admin = await start_admin(admin_settings(config_settings, connector_settings.postgres))
    operator = admin.as_role("operator")
    try:
        async with running_connector(connector_settings, config):
            produce(
                connector_settings, topics.events("customer"), [customer_event("a", 1)], partition=0
            )
            await until(lambda: fake_api.total_effective_writes == 1, what="first delivery")
            running = await wait_status(
                admin, "crm", lambda s: s["last_successful_batch_at"], "a sync run"
            )
            assert running["configured"] is True
            assert running["destination"] == "http_upsert"
            assert running["breaker_state"] == "closed"
            assert running["running_instances"] == 1
            assert running["rate_budget"]["bucket"] == "connector.crm"
            assert running["rate_budget"]["capacity"] == 10
            assert running["paused"] is False

            paused = await admin.client.post(
                "/api/v1/connectors/crm/pause", json={"reason": "vendor outage"}, headers=operator
            )
            assert paused.status == 200, await paused.text()
            assert (await paused.json())["data"]["paused"] is True
            await wait_status(
                admin, "crm", lambda s: s["instances"][0]["paused"], "the pause applied"
            )
            events = [customer_event(e, 2) for e in ("b", "c", "d")]
            produce(connector_settings, topics.events("customer"), events, partition=0)
            # the instance sees the three records waiting and delivers none of them
            held = await wait_status(admin, "crm", lambda s: s["lag"] == 3, "lag of 3")
            assert fake_api.total_effective_writes == 1
            assert held["pause_reason"] == "vendor outage"
            assert held["pause_changed_by"].endswith(":operator-key")

            resumed = await admin.client.post("/api/v1/connectors/crm/resume", headers=operator)
            assert resumed.status == 200, await resumed.text()
            await until(lambda: fake_api.total_effective_writes == 4, what="the rest delivered")
            after = await wait_status(
                admin, "crm", lambda s: not s["instances"][0]["paused"], "resume applied"
            )
            assert after["paused"] is False
        listed = await admin.client.get("/api/v1/connectors", headers=admin.as_role("viewer"))
        [crm] = (await listed.json())["data"]
        assert crm["name"] == "crm"
        assert crm["running_instances"] == 0  # stopped: its heartbeat row is gone
        assert crm["breaker_state"] == "unknown"
        missing = await admin.client.post("/api/v1/connectors/nope/pause", headers=operator)
        assert missing.status == 404
    finally:
        await admin.client.close()
