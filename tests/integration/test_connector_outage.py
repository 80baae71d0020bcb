"""A PostgreSQL outage pauses a connector: it waits, says what for, resumes by itself and
loses nothing. It is not reported as a crash (no traceback, no ``crashed`` alert)."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

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
from tests.tcp_proxy import tcp_proxy


async def test_a_postgres_outage_pauses_the_connector_which_resumes_and_loses_nothing(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    pg = connector_settings.postgres
    topics = Topics(connector_settings.kafka.topic_prefix)
    async with tcp_proxy(pg.host, pg.port) as proxy:
        section = connector_settings.connectors.model_copy(
            update={"outage_alert_after_seconds": 2.0}
        )
        # A statement waits 2 s for a connection (30 by default) before the run fails.
        through_proxy = pg.model_copy(update={"port": proxy.port, "pool_timeout_seconds": 2.0})
        settings = connector_settings.model_copy(
            update={"postgres": through_proxy, "connectors": section}
        )
        first = [customer_event(f"a{i}", 1) for i in range(20)]
        during = [customer_event(f"b{i}", 1) for i in range(20)]
        with capture_logs() as logs:
            async with running_connector(settings, connector_config("crm", fake_api.base_url)) as c:
                produce(settings, topics.events("customer"), first)
                await until(lambda: c.count("applied") == 20, what="the first 20 applied")
                await proxy.cut()
                produce(settings, topics.events("customer"), during)
                await until(
                    lambda: c.sample("hookline_connector_restarts_total", cause="postgresql") > 0,
                    what="the connector stopped for PostgreSQL",
                )
                assert c.sample("hookline_connector_running") == 0
                await asyncio.sleep(3)  # past outage_alert_after_seconds
                await proxy.restore()
                await until(
                    lambda: fake_api.total_effective_writes == 40, within=30, what="all 40 written"
                )
                await until(lambda: c.sample("hookline_connector_running") == 1, what="running")
                assert c.sample("hookline_connector_restarts_total", cause="error") == 0
    assert set(fake_api.effective_writes.values()) == {1}  # each change's effect once
    assert c.sink.kinds() == ["dependency_unavailable", "dependency_recovered"]
    assert "PostgreSQL unreachable for" in c.sink.alerts[0].summary
    events = [line["event"] for line in logs]
    assert "connector failed" not in events
    waiting = [line for line in logs if line["event"] == "connector waiting for a dependency"]
    assert waiting
    assert {line["dependency"] for line in waiting} == {"postgresql"}
    assert all("exc_info" not in line for line in waiting)  # one line, no traceback
    assert "connector resumed" in events
