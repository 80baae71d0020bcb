"""Consumer lag is measured from the group's committed offsets, whether its members run
or not: records produced while nobody consumes are lag, with the age of the oldest; once
consumed and committed, the lag is 0."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer
from prometheus_client import CollectorRegistry

from hookline.kafka_clients import consumer_config, producer_config
from hookline.lag import LagMetrics, LagMonitor
from hookline.metrics import new_registry
from hookline.settings import Settings
from hookline.topics import Topics
from tests.conftest import drain, unique

RECORDS = 30
AGE_SECONDS = 120


def produce_old_records(settings: Settings, topic: str) -> None:
    """``RECORDS`` records stamped ``AGE_SECONDS`` ago, spread over the partitions."""
    producer = Producer(producer_config(settings.kafka, "test"))
    stamp = int((time.time() - AGE_SECONDS) * 1000)
    for i in range(RECORDS):
        producer.produce(topic, key=f"k{i}".encode(), value=b"{}", timestamp=stamp)
    assert producer.flush(20) == 0


def consume_and_commit(settings: Settings, group: str, topic: str) -> None:
    consumer = Consumer(consumer_config(settings.kafka, group, "test"))
    try:
        consumer.subscribe([topic])
        assert len(drain(consumer, RECORDS, 30)) == RECORDS
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()


def test_lag_is_the_unconsumed_records_then_zero_once_committed(
    settings: Settings, topics: Topics
) -> None:
    group, topic = unique("g"), topics.raw_webhooks
    registry = new_registry()
    monitor = LagMonitor(settings.kafka, group, [topic, f"{topic}.absent"], LagMetrics(registry))
    try:
        produce_old_records(settings, topic)

        waiting = monitor.sample()
        assert {t for t, _p in waiting} == {topic}
        assert len(waiting) == settings.kafka.default_partitions
        assert sum(lag.records for lag in waiting.values()) == RECORDS
        assert all(lag.oldest_age_seconds >= AGE_SECONDS for lag in waiting.values() if lag.records)
        labels = {"group": group, "topic": topic}
        assert total(registry, "hookline_consumer_lag_records", labels) == RECORDS

        consume_and_commit(settings, group, topic)

        done = monitor.sample()
        assert {lag.records for lag in done.values()} == {0}
        assert {lag.oldest_age_seconds for lag in done.values()} == {0.0}
        assert total(registry, "hookline_consumer_lag_records", labels) == 0
        assert total(registry, "hookline_consumer_oldest_unprocessed_age_seconds", labels) == 0
    finally:
        monitor.close()


def total(registry: CollectorRegistry, name: str, labels: dict[str, str]) -> float:
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )
