"""A real round trip through the broker with Hookline's producer settings."""

from __future__ import annotations

import asyncio

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from hookline.kafka_clients import AsyncProducer, admin_config, ensure_topics, producer_config
from hookline.settings import Settings
from hookline.topics import TopicSpec
from tests.conftest import ConsumeFn


def test_idempotent_producer_round_trip_keeps_bytes_and_headers(
    settings: Settings, consume: ConsumeFn
) -> None:
    topic = f"{settings.kafka.topic_prefix}.roundtrip"
    ensure_topics(settings.kafka, [TopicSpec(topic, 3, 3_600_000)])
    config = producer_config(settings.kafka, "test")
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True
    producer = Producer(config)
    value = bytes(range(256)) * 4
    producer.produce(topic, key=b"k-1", value=value, headers=[("h", b"\x00\xff"), ("t", b"x")])
    assert producer.flush(10) == 0

    [record] = consume(topic, 1)
    assert record.key() == b"k-1"
    assert record.value() == value
    assert record.headers() == [("h", b"\x00\xff"), ("t", b"x")]


def test_async_producer_resolves_after_broker_acknowledgement(
    settings: Settings, consume: ConsumeFn
) -> None:
    topic = f"{settings.kafka.topic_prefix}.async"
    ensure_topics(settings.kafka, [TopicSpec(topic, 1, 3_600_000)])

    async def send_all() -> list[int]:
        producer = AsyncProducer(producer_config(settings.kafka, "test"))
        try:
            delivered = await asyncio.gather(
                *(producer.send(topic, value=f"v{i}".encode(), key=b"same") for i in range(20))
            )
        finally:
            producer.close()
        return [d.offset for d in delivered]

    offsets = asyncio.run(send_all())
    assert offsets == list(range(20))  # one partition, in order, each acknowledged
    assert [r.value() for r in consume(topic, 20)] == [f"v{i}".encode() for i in range(20)]


def test_topic_creation_is_idempotent(settings: Settings) -> None:
    spec = TopicSpec(f"{settings.kafka.topic_prefix}.once", 2, 3_600_000)
    assert ensure_topics(settings.kafka, [spec]) == [spec.name]
    assert ensure_topics(settings.kafka, [spec]) == []


def test_created_topics_are_led_when_creation_returns(settings: Settings) -> None:
    """A consumer that subscribes right after ``ensure_topics`` (a connector does, to its
    retry topics) must find every topic created in the brokers' metadata: one it missed
    is not assigned, and stays unread until its next metadata refresh (5 minutes). A
    controller busy deleting topics (the tests' teardowns keep it so) shows new ones
    about half a second after CreateTopics returned."""
    kafka = settings.kafka
    admin = AdminClient(admin_config(kafka))
    for round_ in range(3):
        scratch = [NewTopic(f"{kafka.topic_prefix}.scratch{round_}.{n}", 3, 1) for n in range(40)]
        for future in admin.create_topics(scratch).values():
            future.result()
        admin.delete_topics([t.topic for t in scratch])  # not awaited: the controller is busy
        specs = [TopicSpec(f"{kafka.topic_prefix}.led{round_}.{n}", 3, 60_000) for n in range(8)]
        ensure_topics(kafka, specs)
        seen = AdminClient(admin_config(kafka, "fresh")).list_topics(timeout=10).topics
        for spec in specs:
            topic = seen.get(spec.name)
            assert topic is not None, f"{spec.name} is not in the metadata yet"
            assert topic.error is None, f"{spec.name}: {topic.error}"
            assert sorted(topic.partitions) == [0, 1, 2]
            assert all(p.leader >= 0 for p in topic.partitions.values()), spec.name
