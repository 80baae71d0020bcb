"""Counting what a topic holds, for tests and benchmarks (no pytest needed here)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from hookline.kafka_clients import consumer_config
from hookline.settings import KafkaSettings


def records_written(kafka: KafkaSettings, topics: Iterable[str]) -> int:
    """Records ever written to ``topics``: the sum of their partitions' high watermarks."""
    consumer = Consumer(consumer_config(kafka, "probe", "probe"))
    try:
        return sum(_high_watermarks(consumer, topic) for topic in topics)
    finally:
        consumer.close()


def _high_watermarks(consumer: Consumer, topic: str) -> int:
    for attempt in range(20):  # a just-created topic may not have leaders yet
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            return sum(
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions
            )
        except KafkaException:
            time.sleep(0.25 * attempt)
    raise AssertionError(f"no watermarks for {topic}")


def group_lag(
    kafka: KafkaSettings, group: str, partitions: list[TopicPartition]
) -> dict[tuple[str, int], int]:
    """Per partition (topic, number), how many records ``group`` has not committed yet."""
    consumer = Consumer(consumer_config(kafka, group, "lag-probe"))
    try:
        return _retried_lag(consumer, group, lambda: partitions)
    finally:
        consumer.close()


def topic_lag(kafka: KafkaSettings, group: str, topic: str) -> int:
    """How many records of ``topic`` (all its partitions) ``group`` has not committed yet."""
    consumer = Consumer(consumer_config(kafka, group, "lag-probe"))
    try:

        def partitions() -> list[TopicPartition]:
            found = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            return [TopicPartition(topic, p) for p in found]

        return sum(_retried_lag(consumer, group, partitions).values())
    finally:
        consumer.close()


def _retried_lag(
    consumer: Consumer, group: str, partitions: Callable[[], list[TopicPartition]]
) -> dict[tuple[str, int], int]:
    """Retried like the watermarks above: right after a topic was created, or while the
    controller is busy (tests create and delete topics all the time), a broker can answer
    "not leader for partition" for a moment; that is not a lag."""
    for attempt in range(20):
        try:
            return {
                (tp.topic, tp.partition): max(0, _high(consumer, tp) - max(tp.offset, 0))
                for tp in consumer.committed(partitions(), timeout=10)
            }
        except KafkaException:
            time.sleep(0.25 * attempt)
    raise AssertionError(f"no committed offsets or watermarks for {group}")


def _high(consumer: Consumer, tp: TopicPartition) -> int:
    high: int = consumer.get_watermark_offsets(tp, timeout=10)[1]
    return high
