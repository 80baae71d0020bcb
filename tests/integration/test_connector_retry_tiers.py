"""A retry due in 15 minutes holds up no other retry, and survives a restart.

One entity's destination answers 503 with ``Retry-After: 900``; other entities (some on the
same partition, whose retry records share its retry partition) get a plain 503 and a short
backoff. They are delivered while the long one is still waiting; after a restart the long
one is still pending on a retry topic, neither attempted early nor lost.
"""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from connectors.config import BreakerConfig, RetryConfig
from hookline.kafka_clients import consumer_config
from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi, Reply
from tests.fakes.connector_harness import (
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)

SHORT = ["s0", "s2", "s9", "s10"]  # s9 and s10 share the long one's partition


def pending_on(settings: Settings, group_id: str, topics: list[str]) -> int:
    """Records of ``topics`` the group has not committed past."""
    consumer = Consumer(consumer_config(settings.kafka, group_id, "pending-probe"))
    try:
        parts = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ]
        pending = 0
        for part in consumer.committed(parts, timeout=10):
            low, high = consumer.get_watermark_offsets(part, timeout=10)
            pending += high - max(part.offset, low)
        return pending
    finally:
        consumer.close()


async def test_a_long_retry_after_does_not_hold_up_short_retries_and_survives_a_restart(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    fake_api.script_entity("cust:long", Reply(503, retry_after=900))
    for name in SHORT:
        fake_api.script_entity(f"cust:{name}", Reply(503))
    config = connector_config(
        "crm",
        fake_api.base_url,
        retry=RetryConfig(delays_seconds=(0.5,), jitter=0),
        breaker=BreakerConfig(failure_threshold=50),
    )
    group_id = config.consumer_group(connector_settings.kafka.topic_prefix)
    events = topics.events("customer")
    async with running_connector(connector_settings, config) as conn:
        [(_, long_partition, _)] = produce(connector_settings, events, [customer_event("long", 1)])
        await until(lambda: conn.count("retried") == 1, what="the long retry scheduled")
        landed = produce(connector_settings, events, [customer_event(n, 1) for n in SHORT])
        assert long_partition in {partition for _, partition, _ in landed}  # shares it
        await until(
            lambda: all(f"cust:{n}" in fake_api.state for n in SHORT), what="the short retries"
        )
        assert "cust:long" not in fake_api.state
        retry_topics = conn.runner.retry_topics()
    assert len(fake_api.calls_for("cust:long")) == 1
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, events, [customer_event("after", 1)], long_partition)
        await until(lambda: conn.count("applied") == 1, what="the restarted connector at work")
        assert pending_on(connector_settings, group_id, retry_topics) == 1
    assert len(fake_api.calls_for("cust:long")) == 1
    assert "cust:long" not in fake_api.state
