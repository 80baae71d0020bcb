"""A rebalance in the middle of a batch, with records polled ahead in the buffer: the
offsets committed never pass a record that was not delivered, and every entity arrives.

A second member joins the connector's group while a slow batch runs and the buffer holds
the next batch's head (every partition is revoked, and those of the normalised topic are
assigned to the connector again); it delivers and commits nothing, then leaves. The
committed offsets are polled throughout: every offset below a commit must have its effective write
at the fake API. Then the connector is stopped and a fresh one started from the committed
offsets (what a restart after kill -9 sees): every entity is written.

Whether the revocation and the new assignment land in one ``consume`` call is a matter of
timing (the group's join and sync round trips against the runner's next poll), so the
connector's consumer here is the real one with one difference: the first ``consume``
after the second member is let in keeps polling until the group has revoked *and*
assigned partitions again, as a single consume with a longer wait may. Records polled
before the revocation are dropped there, as librdkafka drops outdated fetches itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

import connectors.service
from connectors.consumer import AsyncConsumer
from hookline.kafka_clients import consumer_config
from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi
from tests.fakes.connector_harness import (
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)

ENTITIES = 300
Position = tuple[str, int, int]  # topic, partition, offset


class SpanningConsumer(AsyncConsumer):
    """The real consumer; when ``span`` is set, its next ``consume`` returns only once the
    group revoked and assigned partitions again (records fetched before the revocation are
    dropped, as outdated)."""

    span: ClassVar[asyncio.Event]
    spanned: ClassVar[asyncio.Event]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.revocations = self.assignments = 0

    def _revoked(self, consumer: Consumer, parts: list[TopicPartition]) -> None:
        self.revocations += 1
        super()._revoked(consumer, parts)

    def _assigned(self, consumer: Consumer, parts: list[TopicPartition]) -> None:
        self.assignments += 1
        super()._assigned(consumer, parts)

    async def consume(self, count: int, wait_seconds: float) -> list[Message]:
        if not self.span.is_set() or self.spanned.is_set():
            return await super().consume(count, wait_seconds)
        revocations, assignments = self.revocations, self.assignments
        messages: list[Message] = []
        while self.assignments == assignments or self.revocations == revocations:
            before = self.revocations
            fetched = await super().consume(max(1, count - len(messages)), 0.1)
            messages = fetched if self.revocations != before else messages + fetched
        self.spanned.set()
        return messages


def undelivered_below_commits(
    group: Consumer, where: Mapping[Position, str], api: FakeDestinationApi
) -> list[Position]:
    """Records below a committed offset whose entity has no effective write."""
    parts = sorted({(t, p) for t, p, _ in where})
    committed = group.committed([TopicPartition(t, p) for t, p in parts], timeout=10)
    limits = {(c.topic, c.partition): c.offset for c in committed}
    return [
        position
        for position, entity in where.items()
        if position[2] < limits[position[:2]] and not api.writes_by_entity[entity]
    ]


async def join_and_leave(settings: Settings, group_id: str, topics: list[str]) -> None:
    """A second member that takes its share of ``topics`` for a while, then leaves."""
    options = consumer_config(settings.kafka, group_id, "rebalance-intruder")
    member = Consumer({**options, "partition.assignment.strategy": "range"})
    member.subscribe(topics)
    try:
        for _ in range(40):  # about 4 s in the group; it consumes nothing
            await asyncio.to_thread(member.poll, 0.1)
            if member.assignment():
                member.pause(member.assignment())
    finally:
        await asyncio.to_thread(member.close)


async def test_rebalance_mid_batch_never_commits_past_an_undelivered_record(
    connector_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    SpanningConsumer.span, SpanningConsumer.spanned = asyncio.Event(), asyncio.Event()
    monkeypatch.setattr(connectors.service, "AsyncConsumer", SpanningConsumer)
    api = FakeDestinationApi(latency=0.05)
    await api.start()
    topics = Topics(connector_settings.kafka.topic_prefix)
    events = [customer_event(f"e{n}", 1) for n in range(ENTITIES)]
    where = {
        position: event.data.id
        for position, event in zip(
            produce(connector_settings, topics.events("customer"), events), events, strict=True
        )
    }
    config = connector_config("crm", api.base_url, batch_size=40, concurrency=1)
    group_id = config.consumer_group(connector_settings.kafka.topic_prefix)
    observer = Consumer(consumer_config(connector_settings.kafka, group_id, "observer"))
    violations: list[Position] = []

    async def check() -> list[Position]:
        found = await asyncio.to_thread(undelivered_below_commits, observer, where, api)
        violations.extend(found)
        return found

    try:
        async with running_connector(connector_settings, config):
            await until(lambda: api.total_effective_writes >= 10, what="a batch under way")
            SpanningConsumer.span.set()
            intruder = asyncio.create_task(
                # Subscribed to the retry topic only: every partition of the normalised
                # topic is revoked from the connector and assigned to it again.
                join_and_leave(connector_settings, group_id, [topics.connector_retry("crm")])
            )
            while not intruder.done():
                await check()
                await asyncio.sleep(0.2)
            await intruder
            assert SpanningConsumer.spanned.is_set()
            await until(lambda: api.total_effective_writes >= ENTITIES // 2, 60, "more writes")
        # Stopped mid-way; a fresh instance continues from the committed offsets.
        await check()
        async with running_connector(connector_settings, config):
            for _ in range(300):  # until every entity is written or a commit passed one
                if await check() or len(api.writes_by_entity) == ENTITIES:
                    break
                await asyncio.sleep(0.2)
    finally:
        observer.close()
        await api.close()
    assert sorted(set(violations)) == []
    assert len(api.writes_by_entity) == ENTITIES
