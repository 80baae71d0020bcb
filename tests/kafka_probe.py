"""Counting what a topic holds, for tests and benchmarks (no pytest needed here)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from confluent_kafka import Consumer, KafkaException, TopicPartition

from hookline.kafka_clients import consumer_config
from hookline.settings import KafkaSettings

T = TypeVar("T")


def records_written(kafka: KafkaSettings, topics: Iterable[str]) -> int:
    """Records ever written to ``topics``: the sum of their partitions' high watermarks."""
    consumer = Consumer(consumer_config(kafka, "probe", "probe"))
    try:
        return sum(_high_watermarks(consumer, topic) for topic in topics)
    finally:
        consumer.close()


def _high_watermarks(consumer: Consumer, topic: str) -> int:
    return _retried(
        lambda: sum(_high(consumer, tp) for tp in _partitions(consumer, topic)),
        f"no watermarks for {topic}",
    )


def group_lag(
    kafka: KafkaSettings, group: str, partitions: list[TopicPartition]
) -> dict[tuple[str, int], int]:
    """Per partition (topic, number), how many records ``group`` has not committed yet."""
    consumer = Consumer(consumer_config(kafka, group, "lag-probe"))
    try:
        return _retried(
            lambda: _lag(consumer, partitions), f"no committed offsets or watermarks for {group}"
        )
    finally:
        consumer.close()


def topic_lag(kafka: KafkaSettings, group: str, topic: str) -> int:
    """How many records of ``topic`` (all its partitions) ``group`` has not committed yet."""
    consumer = Consumer(consumer_config(kafka, group, "lag-probe"))
    try:
        return _retried(
            lambda: sum(_lag(consumer, _partitions(consumer, topic)).values()),
            f"no committed offsets or watermarks for {group}",
        )
    finally:
        consumer.close()


def _retried(probe: Callable[[], T], failure: str) -> T:
    """``probe()``, tried again while Kafka raises: right after a topic was created (no
    leaders yet), or while the controller is busy (tests create and delete topics all the
    time), a broker can answer "not leader for partition" for a moment; that is no answer."""
    for attempt in range(20):
        try:
            return probe()
        except KafkaException:
            time.sleep(0.25 * attempt)
    raise AssertionError(failure)


def _partitions(consumer: Consumer, topic: str) -> list[TopicPartition]:
    found = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return [TopicPartition(topic, p) for p in found]


def _lag(consumer: Consumer, partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
    return {
        (tp.topic, tp.partition): max(0, _high(consumer, tp) - max(tp.offset, 0))
        for tp in consumer.committed(partitions, timeout=10)
    }


def _high(consumer: Consumer, tp: TopicPartition) -> int:
    high: int = consumer.get_watermark_offsets(tp, timeout=10)[1]
    return high
