"""The connectors' consumer hands over what has arrived: a poll waits for the first record,
never for a whole batch (confluent-kafka's ``consume(n, timeout)`` waits until it has ``n``
records or the timeout passed: at a trickle every delivery waited the whole poll timeout)."""

from __future__ import annotations

import time

from confluent_kafka import Producer

from connectors.consumer import AsyncConsumer
from hookline.kafka_clients import consumer_config, producer_config
from hookline.settings import Settings
from hookline.topics import Topics
from tests.conftest import unique

LONG_WAIT = 20.0  # the poll timeout: far longer than any record takes to arrive


def produce(settings: Settings, topic: str, count: int) -> None:
    producer = Producer(producer_config(settings.kafka, "test"))
    for n in range(count):
        producer.produce(topic, key=b"k", value=f"v{n}".encode())
    assert producer.flush(30) == 0


async def test_a_poll_returns_the_records_there_without_waiting_for_a_full_batch(
    settings: Settings, topics: Topics
) -> None:
    topic = topics.events("customer")
    consumer = AsyncConsumer(consumer_config(settings.kafka, unique("g"), "test"), "test")
    try:
        await consumer.subscribe([topic], lambda _tps: None, lambda _tps: [])
        produce(settings, topic, 3)
        first: list[object] = []
        deadline = time.monotonic() + 60
        while len(first) < 3 and time.monotonic() < deadline:  # the group is joined here
            first += await consumer.consume(500, 1.0)
        assert len(first) == 3

        produce(settings, topic, 2)
        started = time.monotonic()
        second = await consumer.consume(500, LONG_WAIT)
        waited = time.monotonic() - started
        assert sorted(m.value() for m in second) == [b"v0", b"v1"]
        assert waited < LONG_WAIT / 2, f"the poll waited {waited:.1f} s for a full batch"
    finally:
        await consumer.close()
