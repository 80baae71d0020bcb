"""Helpers for connector tests: events, producing them, running a connector in-process,
waiting on conditions (never sleeping and hoping)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from confluent_kafka import Message, Producer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from connectors.alerts import Alert, Alerter
from connectors.config import BreakerConfig, ConnectorConfig, RetryConfig
from connectors.destinations.http_upsert import HttpUpsertConfig
from connectors.metrics import ConnectorMetrics
from connectors.runner import ConnectorRunner
from connectors.service import supervise
from hookline.kafka_clients import producer_config
from hookline.metrics import new_registry
from hookline.settings import Settings
from sandbox.destination_api import TOKEN
from schemas.events import CloudEvent, Customer

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def customer_event(
    entity: str,
    version: float,
    *,
    source: str = "shop",
    email: str | None = None,
    partial: bool = False,
    **fields: Any,
) -> CloudEvent:
    """A customer change; ``version`` is seconds after T0 (its ``updated_at``). A partial
    one carries only the fields given."""
    email = email or (None if partial else f"{entity}@example.com")
    data = Customer(
        id=f"cust:{entity}", updated_at=at(version), email=email, partial=partial, **fields
    )
    return CloudEvent.build(
        source=source,
        provider="test",
        provider_event_id=uuid.uuid4().hex,
        provider_event_type="customer.updated",
        action="updated",
        time=at(version),
        data=data,
    )


def produce(
    settings: Settings, topic: str, events: Iterable[CloudEvent], partition: int | None = None
) -> list[tuple[str, int, int]]:
    """Produce ``events`` in order; return where each landed (topic, partition, offset)."""
    producer = Producer(producer_config(settings.kafka, "test"))
    landed: dict[int, tuple[str, int, int]] = {}

    def record(index: int, err: object, msg: Message) -> None:
        assert err is None, err
        landed[index] = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)

    for index, event in enumerate(events):
        producer.produce(
            topic,
            key=event.subject.encode(),
            value=event.model_dump_json().encode(),
            headers=[("test-header", b"kept")],
            partition=-1 if partition is None else partition,  # -1: by key
            on_delivery=partial(record, index),
        )
    assert producer.flush(10) == 0
    return [landed[i] for i in sorted(landed)]


def connector_config(name: str, base_url: str, **overrides: Any) -> ConnectorConfig:
    """A connector with the schedule shortened for tests."""
    fields: dict[str, Any] = {
        "name": name,
        "families": ("customer",),
        "poll_timeout_seconds": 0.2,
        "session_timeout_ms": 6000,
        "retry": RetryConfig(delays_seconds=(0.2, 0.4, 0.8, 1.6), jitter=0.1),
        "breaker": BreakerConfig(cooldown_seconds=1.0, max_cooldown_seconds=4.0),
        "destination": HttpUpsertConfig(base_url=base_url, token=SecretStr(TOKEN)),
    }
    fields.update(overrides)
    return ConnectorConfig.model_validate(fields)


async def until(condition: Callable[[], bool], within: float = 20.0, what: str = "") -> None:
    """Wait until ``condition()`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or condition}")
        await asyncio.sleep(0.02)


@dataclass
class RecordingSink:
    alerts: list[Alert] = field(default_factory=list)

    async def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def kinds(self) -> list[str]:
        return [a.kind for a in self.alerts]


@dataclass
class RunningConnector:
    runner: ConnectorRunner
    registry: CollectorRegistry
    sink: RecordingSink
    name: str

    def count(self, outcome: str) -> float:
        return self.sample("hookline_connector_deliveries_total", outcome=outcome)

    def sample(self, metric: str, **labels: str) -> float:
        """``metric``'s value for this connector and ``labels`` (0 when absent)."""
        value = self.registry.get_sample_value(metric, {"connector": self.name, **labels})
        return value or 0.0


@asynccontextmanager
async def running_connector(
    settings: Settings, config: ConnectorConfig
) -> AsyncIterator[RunningConnector]:
    """The connector, supervised as in production, once the group gave it partitions."""
    registry = new_registry()
    metrics = ConnectorMetrics(registry)
    sink = RecordingSink()
    alerter = Alerter(sink, metrics, min_interval_seconds=0)
    stop = asyncio.Event()
    runners: list[ConnectorRunner] = []
    task = asyncio.create_task(
        supervise(config, settings, metrics, alerter, stop, on_start=runners.append)
    )
    try:
        await until(lambda: bool(runners) or task.done(), 30, "the connector to start")
        if task.done():
            task.result()
        await asyncio.wait_for(runners[0].assigned.wait(), 30)
        yield RunningConnector(runners[-1], registry, sink, config.name)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
