"""An asyncio face on confluent-kafka's consumer, and the offsets a batch may commit.

Every consumer call runs on one dedicated thread, so the event loop never blocks and the
rebalance callbacks (which librdkafka runs inside ``consume``) always run on that thread.
The group uses the range assignor: with the normalised topics and the retry topic having
equal partition counts, one instance holds the same partition numbers of all of them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from confluent_kafka import OFFSET_INVALID, Consumer, Message, TopicPartition

T = TypeVar("T")
TP = tuple[str, int]
#: Called on the consumer thread with the partitions being revoked; returns the offsets
#: to commit before they go.
RevokeHook = Callable[[list[TP]], list[TopicPartition]]
AssignHook = Callable[[list[TP]], None]


class AsyncConsumer:
    def __init__(self, config: dict[str, Any], name: str) -> None:
        self._consumer = Consumer({**config, "partition.assignment.strategy": "range"})
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"kafka-{name}")
        self.assigned: set[TP] = set()
        self._on_assign: AssignHook = lambda _tps: None
        self._on_revoke: RevokeHook = lambda _tps: []

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))

    async def subscribe(
        self, topics: Sequence[str], on_assign: AssignHook, on_revoke: RevokeHook
    ) -> None:
        self._on_assign, self._on_revoke = on_assign, on_revoke
        await self._call(
            partial(
                self._consumer.subscribe,
                list(topics),
                on_assign=self._assigned,
                on_revoke=self._revoked,
                on_lost=self._lost,
            )
        )

    # The rebalance callbacks: librdkafka runs them on the consumer thread, inside consume.

    def _assigned(self, consumer: Consumer, parts: list[TopicPartition]) -> None:
        # librdkafka keeps a partition's pause across rebalances: a partition paused for a
        # batch that the rebalance abandoned would stay silent. Start afresh.
        consumer.assign(parts)
        consumer.resume(parts)
        tps = [(p.topic, p.partition) for p in parts]
        self.assigned |= set(tps)
        self._on_assign(tps)

    def _revoked(self, consumer: Consumer, parts: list[TopicPartition]) -> None:
        tps = [(p.topic, p.partition) for p in parts]
        offsets = self._on_revoke(tps)
        if offsets:
            consumer.commit(offsets=offsets, asynchronous=False)
        self.assigned -= set(tps)

    def _lost(self, _consumer: Consumer, parts: list[TopicPartition]) -> None:
        tps = [(p.topic, p.partition) for p in parts]
        self._on_revoke(tps)  # nothing may be committed: the partitions are gone already
        self.assigned -= set(tps)

    async def consume(self, count: int, wait_seconds: float) -> list[Message]:
        """Up to ``count`` records: waits at most ``wait_seconds`` for the first, then takes
        what has been fetched already. (``Consumer.consume(count, timeout)`` waits until it
        has ``count`` records or the timeout passed: below a batch per poll timeout, every
        record would wait out the timeout.)"""
        return await self._call(self._take, count, wait_seconds)

    def _take(self, count: int, wait_seconds: float) -> list[Message]:
        first = self._consumer.poll(wait_seconds)
        if first is None:
            return []
        return [first, *self._consumer.consume(count - 1, 0)] if count > 1 else [first]

    async def pause(self, tps: Iterable[TP]) -> None:
        parts = [TopicPartition(t, p) for t, p in tps]
        if parts:
            await self._call(self._consumer.pause, parts)

    async def resume(self, tps: Iterable[TP]) -> None:
        parts = [TopicPartition(t, p) for t, p in tps]
        if parts:
            await self._call(self._consumer.resume, parts)

    async def rewind(self, tp: TP, offset: int) -> None:
        """Read ``tp`` again from ``offset`` (the next fetch starts there)."""
        await self._call(self._consumer.seek, TopicPartition(tp[0], tp[1], offset))

    async def commit(self, offsets: list[TopicPartition]) -> None:
        if offsets:
            await self._call(partial(self._consumer.commit, offsets=offsets, asynchronous=False))

    async def lag(self, fresh: bool = False) -> dict[str, int]:
        """Records behind the high watermark on the held partitions, summed by topic.
        The watermarks are those of the last fetch, or asked of the brokers when ``fresh``
        (paused partitions fetch nothing, so their cached ones stand still)."""
        return await self._call(self._lag, fresh)

    def _lag(self, fresh: bool) -> dict[str, int]:
        parts = [TopicPartition(t, p) for t, p in sorted(self.assigned)]
        totals: dict[str, int] = {}
        for part in self._consumer.position(parts) if parts else []:
            _low, high = self._consumer.get_watermark_offsets(part, cached=not fresh)
            if part.offset == OFFSET_INVALID or high < 0:
                continue
            totals[part.topic] = totals.get(part.topic, 0) + max(0, high - part.offset)
        return totals

    async def close(self) -> None:
        await self._call(self._consumer.close)
        self._executor.shutdown(wait=False)


class Prefetch:
    """Records polled ahead of the batch that will take them: at most ``capacity``.

    The runner adds what a poll returned, once the poll has returned, and takes all of it
    for the next batch; the revoke callback (on the consumer thread, inside a poll) purges
    the revoked partitions' records. Nothing else holds them, so a purge cannot be undone:
    a revoked partition is read again from its committed offset, whoever gets it.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._messages: list[Message] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._messages)

    @property
    def room(self) -> int:
        return max(0, self._capacity - len(self._messages))

    def add(self, messages: Iterable[Message]) -> None:
        with self._lock:
            self._messages.extend(messages)

    def purge(self, tps: Iterable[TP]) -> None:
        gone = set(tps)
        with self._lock:
            self._messages = [m for m in self._messages if (m.topic(), m.partition()) not in gone]

    def take(self) -> list[Message]:
        with self._lock:
            messages, self._messages = self._messages, []
        return messages


class OffsetTracker:
    """Which offsets of a batch are done; what may be committed: per partition, the first
    offset not done (every earlier one is durable), or one past the last."""

    def __init__(self, offsets: Iterable[tuple[TP, int]]) -> None:
        self._pending: dict[TP, list[int]] = {}
        for tp, offset in offsets:
            self._pending.setdefault(tp, []).append(offset)
        for pending in self._pending.values():
            pending.sort()
        self._done: set[tuple[TP, int]] = set()
        self._committed: dict[TP, int] = {}

    def done(self, tp: TP, offset: int) -> None:
        self._done.add((tp, offset))

    def committable(self, tps: Iterable[TP] | None = None) -> list[TopicPartition]:
        """Offsets to commit now for ``tps`` (default: all), skipping ones committed."""
        out = []
        for tp in self._pending if tps is None else tps:
            position = self._position(tp)
            if position is not None and position != self._committed.get(tp):
                self._committed[tp] = position
                out.append(TopicPartition(tp[0], tp[1], position))
        return out

    def _position(self, tp: TP) -> int | None:
        offsets = self._pending.get(tp, [])
        position = None
        for offset in offsets:
            if (tp, offset) not in self._done:
                return position
            position = offset + 1
        return position
