"""Raw records faust skipped: found by their offsets, read again, handled in their place.

The cause found here is removed by processors.recovery (the partitions are sought before
they are fetched from); this stays as the safety net, at the cost of one comparison per
record, for a skip from any other cause.

faust-streaming (0.15.3) can skip records when a worker joins its group again. In one
branch of its recovery it resumes the flow before it seeks the partitions back to their
committed offsets; records the fetcher had already taken are dropped, and the offsets it
never delivered are marked as a "gap" that its next commit covers as if they had been
acknowledged (faust-streaming issues #216, #221, #606). Measured in the chaos test
(tests/integration/test_chaos.py, the processors killed twice): after a restart the agent
received, per partition, e.g. offsets 61 to 88 and then 100; records 89 to 99 were never
delivered, and once 100 was acknowledged faust committed past them. Those the previous run
had not finished were lost without a trace (about one run in fifteen lost one event).

The agent sees every record faust delivers, in offset order per partition. A delivered
offset more than one past the previous one of its partition reveals the skipped range. A
revoked partition starts afresh (its next owner may go further; if this worker gets it
back, faust resumes at the committed offset). The consumer generation is no boundary:
with it, no skip was found in 24 chaos runs where about one in fifteen had shown one,
presumably because the records around a skip carry different generation ids.

:class:`SkippedRecords` reads a skipped range directly (a plain consumer assigned to the
partition: no group joined, nothing committed), so the worker handles those records ahead
of the ones after them. faust's commit covers the gap only once a later record is
acknowledged, which happens after its batch, the records read again included, is settled.
Not covered: a skip before the first record a partition delivers after its assignment (it
would take the group's committed offset); not seen in the tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from hookline.dead_letter import SourceRecord
from hookline.kafka_clients import consumer_config
from hookline.logs import get_logger
from hookline.settings import KafkaSettings
from processors.resend import backoff_seconds

log = get_logger("hookline.processors")

#: How long one attempt at reading a skipped range may take.
READ_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Skipped:
    """Offsets ``start`` (included) to ``end`` (excluded) of one partition, not delivered."""

    topic: str
    partition: int
    start: int
    end: int


class SkipDetector:
    """The last offset delivered per partition; the ranges a batch skips."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], int] = {}

    def skipped(self, batch: Sequence[SourceRecord]) -> list[tuple[int, Skipped]]:
        """(index in ``batch`` of the first record after the range, the range) for each
        range the batch skips, in order."""
        found: list[tuple[int, Skipped]] = []
        for index, record in enumerate(batch):
            tp = (record.topic, record.partition)
            last = self._last.get(tp)
            if last is not None and record.offset > last + 1:
                found.append((index, Skipped(tp[0], tp[1], last + 1, record.offset)))
            self._last[tp] = record.offset
        return found

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Revoked partitions: whoever gets them next starts at the committed offset."""
        for tp in partitions:
            self._last.pop((tp[0], tp[1]), None)


class SkippedRecords:
    """Reads skipped ranges of the raw topic again, straight from the brokers."""

    def __init__(
        self, kafka: KafkaSettings, group_id: str, on_read: Callable[[Skipped], None]
    ) -> None:
        self._kafka = kafka
        self._group_id = group_id  # librdkafka wants one; nothing is committed under it
        self._on_read = on_read

    async def read_again(self, skipped: Skipped) -> list[SourceRecord]:
        """The records of ``skipped``, in offset order; tried again (with backoff) while
        Kafka cannot serve them, the batch waiting unacked meanwhile, as for any write
        Kafka cannot take for now (processors.resend)."""
        attempt = 0
        while True:
            try:
                return await asyncio.to_thread(self.read, skipped)
            except KafkaException as exc:
                attempt += 1
                delay = backoff_seconds(attempt)
                log.warning("skipped records not read yet", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)

    def read(self, skipped: Skipped) -> list[SourceRecord]:
        """The records of ``skipped``, in offset order (blocking). Raises
        ``KafkaException`` when they cannot all be read in time."""
        consumer = Consumer(consumer_config(self._kafka, self._group_id, "skipped"))
        try:
            consumer.assign([TopicPartition(skipped.topic, skipped.partition, skipped.start)])
            records = _read_range(consumer, skipped)
        finally:
            consumer.close()
        log.warning(
            "records the consumer skipped were read again",
            topic=skipped.topic,
            partition=skipped.partition,
            first_offset=skipped.start,
            last_offset=skipped.end - 1,
            records=len(records),
        )
        self._on_read(skipped)
        return records


class SkipFiller:
    """A batch's records as the worker should see them: each range faust skipped read
    again and put in its place, before the records after it."""

    def __init__(self, reader: SkippedRecords) -> None:
        self._detector = SkipDetector()
        self._reader = reader

    async def records(self, batch: Sequence[SourceRecord]) -> list[SourceRecord]:
        records = list(batch)
        for index, skipped in reversed(self._detector.skipped(batch)):
            records[index:index] = await self._reader.read_again(skipped)
        return records

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        self._detector.forget(partitions)


def _read_range(consumer: Consumer, skipped: Skipped) -> list[SourceRecord]:
    """Read until the consumer's position passes the range: it also moves past offsets
    that hold no record for a reader (a transaction's commit marker)."""
    records: list[SourceRecord] = []
    deadline = time.monotonic() + READ_TIMEOUT_SECONDS
    partition = TopicPartition(skipped.topic, skipped.partition)
    while True:
        for msg in consumer.consume(skipped.end - skipped.start, 0.5):
            offset = msg.offset()
            if msg.error() is None and offset is not None and offset < skipped.end:
                records.append(SourceRecord.from_message(msg))
        [position] = consumer.position([partition])
        if position.offset >= skipped.end:
            return records
        if time.monotonic() > deadline:
            raise KafkaException(f"could not read skipped offsets {skipped} in time")
