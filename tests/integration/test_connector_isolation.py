"""Connectors do not hold each other up, and a rebalance in mid-batch loses nothing."""

from __future__ import annotations

import asyncio

from connectors.config import ConnectorConfig
from connectors.metrics import ConnectorMetrics
from connectors.service import run_connectors
from hookline.metrics import new_registry
from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi
from tests.fakes.connector_harness import (
    RecordingSink,
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)


async def test_a_connector_whose_destination_is_down_does_not_block_another(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    section = connector_settings.connectors.model_copy(update={"shutdown_timeout_seconds": 0.5})
    settings = connector_settings.model_copy(update={"connectors": section})
    configs: dict[str, ConnectorConfig] = {
        "down": connector_config("down", "http://127.0.0.1:9"),  # nothing listens there
        "up": connector_config("up", fake_api.base_url),
    }
    registry, stop = new_registry(), asyncio.Event()

    def sample(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    task = asyncio.create_task(
        run_connectors(settings, configs, ConnectorMetrics(registry), stop, RecordingSink())
    )
    try:
        produce(
            settings, topics.events("customer"), [customer_event(f"e{i}", 1) for i in range(10)]
        )
        await until(
            lambda: sample("hookline_connector_breaker_state", connector="down") == 2,
            what="the breaker of 'down' open",
        )
        await until(
            lambda: (
                sample("hookline_connector_deliveries_total", connector="up", outcome="applied")
                == 10
            ),
            what="'up' delivering all",
        )
        assert fake_api.total_effective_writes == 10
        dead = sample(
            "hookline_connector_deliveries_total", connector="down", outcome="dead_lettered"
        )
        assert dead == 0  # an outage dead-letters nothing
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_a_rebalance_in_mid_batch_loses_nothing_and_reorders_nothing(
    connector_settings: Settings,
) -> None:
    api = FakeDestinationApi(latency=0.15)
    await api.start()
    topics = Topics(connector_settings.kafka.topic_prefix)
    config = connector_config("crm", api.base_url, concurrency=2, batch_size=100)
    events = [
        customer_event(f"e{n}", version, phone=f"v{version}")
        for version in (1, 2, 3)
        for n in range(12)
    ]
    try:
        async with running_connector(connector_settings, config):
            produce(connector_settings, topics.events("customer"), events)
            await until(lambda: api.total_effective_writes >= 6, what="the first batch under way")
            async with running_connector(connector_settings, config):
                assert api.total_effective_writes < len(events)  # it joined in mid-batch
                await until(lambda: api.total_effective_writes == len(events), what="all")
    finally:
        await api.close()
    assert set(api.effective_writes.values()) == {1}
    assert len(api.effective_writes) == len(events)
    assert api.regressions == 0
    assert {api.state[f"cust:e{n}"]["phone"] for n in range(12)} == {"v3"}
