"""Reading a topic up to the end it had when the reading began, without a consumer group.

A replay must end, and must not consume records away: it captures each partition's end
offset (high watermark) first, reads from the start (or from a time) up to there, and
never reads or commits a group offset.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Generator
from datetime import datetime

from confluent_kafka import Consumer, Message, TopicPartition

from hookline.kafka_clients import consumer_config
from hookline.settings import KafkaSettings

_STALL_SECONDS = 60.0  # reading that makes no progress this long is an error, not a wait


class ReplayError(RuntimeError):
    """The replay stopped: a record could not be read or its replay was not acknowledged.
    Everything acknowledged before is in the ledger; run the replay again to continue."""


def read_to_captured_end(
    kafka: KafkaSettings, topic: str, since: datetime | None
) -> Generator[Message, None, None]:
    """Every record of ``topic`` from its start (or ``since``) up to the end offsets it
    had when this was called; no consumer-group offset is read or committed."""
    group = f"{kafka.client_id}-replay-{uuid.uuid4().hex}"  # never joins, never commits
    consumer = Consumer(consumer_config(kafka, group, "replay"))
    try:
        pending = _captured_ranges(consumer, topic, since)
        consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in pending.items()])
        progress_at = time.monotonic()
        while pending:
            msg = consumer.poll(0.5)
            if msg is None:
                _drop_finished(consumer, topic, pending)
                if time.monotonic() - progress_at > _STALL_SECONDS:
                    raise ReplayError(f"reading {topic} made no progress")
                continue
            if msg.error():
                raise ReplayError(f"reading {topic}: {msg.error()}")
            progress_at = time.monotonic()
            partition, offset = msg.partition() or 0, msg.offset() or 0
            end = pending[partition][1] if partition in pending else 0
            if offset < end:
                yield msg
            if offset + 1 >= end:
                pending.pop(partition, None)
    finally:
        consumer.close()


def _captured_ranges(
    consumer: Consumer, topic: str, since: datetime | None
) -> dict[int, tuple[int, int]]:
    """Partition -> (first offset to read, end offset now), for partitions with records."""
    metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise ReplayError(f"topic {topic} cannot be read: {getattr(metadata, 'error', None)}")
    bounds = {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        for p in sorted(metadata.partitions)
    }
    starts = {p: low for p, (low, _) in bounds.items()}
    if since is not None:
        at_ms = int(since.timestamp() * 1000)
        wanted = [TopicPartition(topic, p, at_ms) for p in bounds]
        for tp in consumer.offsets_for_times(wanted, timeout=10):
            # -1: no record at or after that time, so nothing to read there
            starts[tp.partition] = tp.offset if tp.offset >= 0 else bounds[tp.partition][1]
    return {p: (starts[p], high) for p, (_, high) in bounds.items() if starts[p] < high}


def _drop_finished(consumer: Consumer, topic: str, pending: dict[int, tuple[int, int]]) -> None:
    """Forget partitions whose position reached their end without a record at the end
    (a transaction marker or a compacted-away record takes the last offset)."""
    positions = consumer.position([TopicPartition(topic, p) for p in pending])
    for tp in positions:
        if tp.offset >= pending[tp.partition][1]:
            del pending[tp.partition]


def read_one(kafka: KafkaSettings, topic: str, partition: int, offset: int) -> Message | None:
    """The record at ``offset`` of ``topic``'s ``partition``, or None when there is none
    (out of the retained range, or a compacted-away / marker offset)."""
    group = f"{kafka.client_id}-replay-{uuid.uuid4().hex}"  # never joins, never commits
    consumer = Consumer(consumer_config(kafka, group, "replay"))
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        if not low <= offset < high:
            return None
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + _STALL_SECONDS
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise ReplayError(f"reading {topic}: {msg.error()}")
            return msg if msg.offset() == offset else None
        raise ReplayError(f"reading {topic} made no progress")
    finally:
        consumer.close()


_GAP = 500  # wanted offsets closer than this are read through, not seeked to


def read_positions(
    kafka: KafkaSettings, topic: str, positions: list[tuple[int, int]]
) -> dict[tuple[int, int], Message]:
    """The records at these (partition, offset) positions of ``topic``, with one consumer;
    a position that holds no record (out of the retained range, compacted away, a
    marker) is absent from the answer."""
    group = f"{kafka.client_id}-replay-{uuid.uuid4().hex}"  # never joins, never commits
    consumer = Consumer(consumer_config(kafka, group, "replay"))
    found: dict[tuple[int, int], Message] = {}
    try:
        for partition, offsets in _by_partition(positions).items():
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
            readable = [o for o in offsets if low <= o < high]
            for run in _runs(readable):
                found |= _read_run(consumer, topic, partition, run)
    finally:
        consumer.close()
    return found


def _by_partition(positions: list[tuple[int, int]]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for partition, offset in positions:
        grouped.setdefault(partition, []).append(offset)
    return {p: sorted(set(offsets)) for p, offsets in grouped.items()}


def _runs(offsets: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for offset in offsets:
        if runs and offset - runs[-1][-1] < _GAP:
            runs[-1].append(offset)
        else:
            runs.append([offset])
    return runs


def _read_run(
    consumer: Consumer, topic: str, partition: int, run: list[int]
) -> dict[tuple[int, int], Message]:
    wanted, last = set(run), run[-1]
    consumer.assign([TopicPartition(topic, partition, run[0])])
    found: dict[tuple[int, int], Message] = {}
    deadline = time.monotonic() + _STALL_SECONDS
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            [position] = consumer.position([TopicPartition(topic, partition)])
            if position.offset > last:  # the last wanted offset holds no record
                return found
            continue
        if msg.error():
            raise ReplayError(f"reading {topic}: {msg.error()}")
        offset = msg.offset() or 0
        if offset in wanted:
            found[(partition, offset)] = msg
        if offset >= last:
            return found
        deadline = time.monotonic() + _STALL_SECONDS
    raise ReplayError(f"reading {topic} made no progress")
