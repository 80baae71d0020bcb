"""Consumer lag of a consumer group, measured from its committed offsets.

A :class:`LagMonitor` reads, for every partition of the group's topics, the group's
committed offset and the partition's high watermark; the difference is the records not yet
processed (a record counts as processed once its offset is committed, which the services
do only after its outputs are durable). For a partition that lags, the record at the
committed offset is read to tell how long it has been waiting (its Kafka timestamp).

The monitor has a client of its own that never joins the group (it assigns partitions
itself and never commits), so it measures the group whether the group's members are
running, paused or stopped. Its calls block: run :meth:`LagMonitor.sample` in a thread
(:func:`watch_lag` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry, Gauge

from hookline.kafka_clients import consumer_config
from hookline.logs import get_logger
from hookline.settings import KafkaSettings

log = get_logger("hookline.lag")

TP = tuple[str, int]
_TIMEOUT_SECONDS = 5.0
#: Longest wait for the oldest unprocessed records of the lagging partitions.
_FETCH_SECONDS = 2.0


class LagMetrics:
    """Label values are bounded: groups and topics come from configuration, partitions
    from the topics' partition counts."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Gauge(
            "hookline_consumer_lag_records",
            "Records not yet processed (high watermark minus committed offset), by consumer "
            "group, topic and partition.",
            ["group", "topic", "partition"],
            registry=registry,
        )
        self.oldest_age = Gauge(
            "hookline_consumer_oldest_unprocessed_age_seconds",
            "Age (by its Kafka timestamp) of the oldest record not yet processed, by "
            "consumer group, topic and partition; 0 when nothing waits.",
            ["group", "topic", "partition"],
            registry=registry,
        )


@dataclass(frozen=True, slots=True)
class PartitionLag:
    records: int
    oldest_age_seconds: float


class LagMonitor:
    def __init__(
        self,
        kafka: KafkaSettings,
        group: str,
        topics: Sequence[str],
        metrics: LagMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.group = group
        self._topics = list(topics)
        self._metrics = metrics
        self._clock = clock
        config = consumer_config(kafka, group, "lag")
        # Read committed records like the group does; never join it, never commit.
        self._consumer = Consumer({**config, "enable.partition.eof": False})

    def sample(self) -> dict[TP, PartitionLag]:
        """Measure every partition of the topics now and set the gauges. Topics that do
        not exist yet are left out."""
        parts = self._partitions()
        committed = self._consumer.committed(parts, timeout=_TIMEOUT_SECONDS) if parts else []
        starts: dict[TP, int] = {}
        lags: dict[TP, int] = {}
        for part in committed:
            tp = (part.topic, part.partition)
            low, high = self._consumer.get_watermark_offsets(part, timeout=_TIMEOUT_SECONDS)
            # No commit yet: the group starts from the earliest record (auto.offset.reset).
            start = max(part.offset, low) if part.offset >= 0 else low
            starts[tp], lags[tp] = start, max(0, high - start)
        ages = self._oldest_ages({tp: starts[tp] for tp, lag in lags.items() if lag > 0})
        result = {tp: PartitionLag(lag, ages.get(tp, 0.0)) for tp, lag in lags.items()}
        self._export(result)
        return result

    def _partitions(self) -> list[TopicPartition]:
        metadata = self._consumer.list_topics(timeout=_TIMEOUT_SECONDS).topics
        return [
            TopicPartition(topic, p)
            for topic in self._topics
            if topic in metadata and metadata[topic].error is None
            for p in sorted(metadata[topic].partitions)
        ]

    def _oldest_ages(self, starts: dict[TP, int]) -> dict[TP, float]:
        """Age of the record at each partition's start offset; partitions whose record did
        not arrive within the fetch wait keep 0 until the next sample."""
        if not starts:
            return {}
        self._consumer.assign([TopicPartition(t, p, o) for (t, p), o in starts.items()])
        ages: dict[TP, float] = {}
        deadline = time.monotonic() + _FETCH_SECONDS
        try:
            while len(ages) < len(starts) and (left := deadline - time.monotonic()) > 0:
                for message in self._consumer.consume(len(starts), min(left, 0.5)):
                    tp = (message.topic() or "", message.partition() or 0)
                    if message.error() is None and tp in starts and tp not in ages:
                        _kind, millis = message.timestamp()
                        ages[tp] = max(0.0, self._clock() - millis / 1000)
        finally:
            self._consumer.unassign()
        return ages

    def _export(self, result: dict[TP, PartitionLag]) -> None:
        for (topic, partition), lag in result.items():
            labels = (self.group, topic, str(partition))
            self._metrics.lag.labels(*labels).set(lag.records)
            self._metrics.oldest_age.labels(*labels).set(lag.oldest_age_seconds)

    def close(self) -> None:
        self._consumer.close()


async def watch_lag(monitor: LagMonitor, interval_seconds: float, stop: asyncio.Event) -> None:
    """Sample every ``interval_seconds`` until ``stop`` is set (or the task is cancelled),
    then close the monitor. A failed sample is logged and retried at the next interval:
    lag is an observation, never a reason to stop a service."""
    loop = asyncio.get_running_loop()
    # One thread: the client is never used by two threads at once, not even by a close
    # that follows a cancelled sample.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-lag")
    try:
        while not stop.is_set():
            try:
                await loop.run_in_executor(executor, monitor.sample)
            except Exception as exc:
                log.warning("consumer lag not measured", group=monitor.group, error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)
    finally:
        executor.submit(monitor.close)
        executor.shutdown(wait=False)
