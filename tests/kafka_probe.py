"""Counting what a topic holds, for tests and benchmarks (no pytest needed here)."""

from __future__ import annotations

import time
from collections.abc import Iterable

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
