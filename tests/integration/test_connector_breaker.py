"""The circuit breaker against a failing fake API: open, silent, probe, closed."""

from __future__ import annotations

from connectors.config import BreakerConfig
from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi, Reply
from tests.conftest import ConsumeFn
from tests.fakes.connector_harness import (
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)

COOLDOWN = 1.0
EVENTS, BATCH = 30, 4


async def test_five_failures_open_the_breaker_no_calls_while_open_probe_closes_it(
    connector_settings: Settings, fake_api: FakeDestinationApi, consume: ConsumeFn
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    fake_api.script_calls(*[Reply(503)] * 5)
    config = connector_config(
        "crm",
        fake_api.base_url,
        concurrency=1,
        batch_size=BATCH,
        lag_interval_seconds=0.05,
        breaker=BreakerConfig(failure_threshold=5, cooldown_seconds=COOLDOWN),
    )
    events = [customer_event(f"e{i}", 1) for i in range(EVENTS)]
    lag_labels = {"connector": "crm", "topic": topics.events("customer")}
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), events, partition=0)
        lags_while_open: list[float] = []

        def sample_then_done() -> bool:
            gauge = conn.registry.get_sample_value
            if gauge("hookline_connector_breaker_state", {"connector": "crm"}) == 2:
                lags_while_open.append(
                    gauge("hookline_connector_consumer_lag_records", lag_labels) or 0
                )
            return conn.count("applied") == EVENTS

        await until(sample_then_done, what="every change applied")
        assert len(lags_while_open) > 10
        # Late in the cooldown (the gauge is exported every keepalive), consumption has
        # stopped: one batch in delivery and one in the buffer at most were read.
        assert lags_while_open[-1] >= EVENTS - 3 * BATCH
        assert fake_api.total_effective_writes == EVENTS
        breaker = conn.registry.get_sample_value(
            "hookline_connector_breaker_state", {"connector": "crm"}
        )
        assert breaker == 0  # closed again
        assert conn.sink.kinds() == ["breaker_open"]
        assert conn.count("dead_lettered") == 0
        assert conn.count("retried") == 4  # the fifth failure waited for the probe instead
    statuses = [c.status for c in fake_api.calls]
    assert statuses[:6] == [503] * 5 + [200]
    fifth, probe = fake_api.calls[4], fake_api.calls[5]
    assert probe.at - fifth.at >= COOLDOWN  # not one call while the breaker was open
    assert probe.entity == fifth.entity == "cust:e4"  # the held change is the probe
    assert consume(topics.connector_dead_letter("crm"), 1, timeout=1) == []
