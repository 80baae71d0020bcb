"""Pollers against the fakes, real PostgreSQL and Kafka: change detection, cursor overlap,
leases, a crash in the middle of a page, backfill resume and idempotence."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from confluent_kafka import Message

from hookline.dead_letter import header_list
from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from pollers.config import PollerConfig
from pollers.service import PollerService, open_service
from pollers.store import LeaseLost
from sandbox.shopify import FakeShopify
from tests.conftest import ConsumeFn
from tests.fakes.poll_sources import PollSource, poll_source
from tests.integration.poller_worker import poller_config
from tests.kafka_probe import records_written

KINDS = ["hubspot", "shopify"]


def with_db(settings: Settings, database: PostgresSettings) -> Settings:
    return settings.model_copy(update={"postgres": database})


def config_for(source: PollSource, overlap: float = 120.0) -> PollerConfig:
    return PollerConfig(
        name="src", source=source.adapter_type, page_size=7, overlap_seconds=overlap,
        lease_seconds=5, api=source.config,
    )  # fmt: skip


@asynccontextmanager
async def polling(
    settings: Settings, config: PollerConfig, holder: str = "a"
) -> AsyncIterator[PollerService]:
    async with open_service(settings, {config.name: config}, holder) as service:
        assert await service.store.take_lease(config.name, config.lease_seconds)
        yield service


def raw_count(settings: Settings, topics: Topics) -> int:
    return records_written(settings.kafka, [topics.raw_webhooks])


@pytest.mark.parametrize("kind", KINDS)
async def test_first_poll_emits_all_second_nothing_one_change_one(
    kind: str, settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    live = with_db(settings, fresh_database)
    async with poll_source(kind) as source:
        source.seed(20)
        async with polling(live, config_for(source)) as service:
            first = await service.poll_once("src")
            second = await service.poll_once("src")
            source.change(4)
            third = await service.poll_once("src")
    assert (first.emitted, second.emitted, third.emitted) == (20, 0, 1)
    assert second.seen > 0  # the overlap re-read records, and found them unchanged
    assert raw_count(live, topics) == 21


async def test_raw_records_carry_the_providers_headers_and_a_deterministic_key(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings, consume: ConsumeFn
) -> None:
    live = with_db(settings, fresh_database)
    async with poll_source("shopify") as source:
        source.seed(1)
        async with polling(live, config_for(source)) as service:
            await service.poll_once("src")
        (record,) = consume(topics.raw_webhooks, 1)
    headers = {k: v.decode() for k, v in header_list(record.headers())}
    assert headers["hookline-provider"] == "shopify"
    assert headers["hookline-source"] == "shopify"
    assert headers["hookline-event-type"] == "orders/updated"
    assert (record.key() or b"").decode() == f"shopify:{headers['hookline-event-id']}"
    assert headers["hookline-event-id"].startswith("poll:order:1:")


async def test_cursor_overlap_catches_a_change_that_became_visible_late(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    live = with_db(settings, fresh_database)
    async with poll_source("hubspot") as source:
        source.seed(5)
        async with polling(live, config_for(source, overlap=120)) as service:
            await service.poll_once("src")
            source.change(2, backdate_seconds=30)  # dated before the last high-water mark
            caught = await service.poll_once("src")
    assert caught.emitted == 1


async def test_one_instance_holds_a_poll_and_another_takes_over_when_it_dies(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    live = with_db(settings, fresh_database)
    async with poll_source("shopify") as source:
        source.seed(3)
        config = config_for(source).model_copy(update={"lease_seconds": 1.0})
        async with (
            open_service(live, {"src": config}, "a") as a,
            open_service(live, {"src": config}, "b") as b,
        ):
            assert await a.store.take_lease("src", 1.0)
            assert not await b.store.take_lease("src", 1.0)
            await asyncio.sleep(1.2)  # a stops renewing: it died
            assert await b.store.take_lease("src", 1.0)
            with pytest.raises(LeaseLost):
                await a.poll_once("src")  # a zombie cannot poll, nor move the cursor
            assert (await b.poll_once("src")).emitted == 3


async def run_with_kills(mode: str, live: Settings, shop_url: str, kills: int) -> str:
    """Run the worker, SIGKILL it ``kills`` times at random moments, then let it finish."""
    args = [mode, live.kafka.topic_prefix, live.postgres.database, shop_url]
    command = [sys.executable, "-m", "tests.integration.poller_worker", *args]
    for _ in range(kills):
        proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        await asyncio.sleep(random.uniform(1.0, 2.5))
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
    proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out.decode()


def keys_by_entity(records: list[Message]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = defaultdict(set)
    for record in records:
        key = (record.key() or b"").decode()  # shopify:poll:order:N:version
        keys[key.split(":")[3]].add(key)
    return keys


@pytest.mark.parametrize("mode", ["poll", "backfill"])
async def test_kill_9_mid_page_neither_skips_nor_repeats_an_unchanged_record(
    mode: str,
    settings: Settings,
    topics: Topics,
    fresh_database: PostgresSettings,
    consume: ConsumeFn,
) -> None:
    live = with_db(settings, fresh_database)
    shop = FakeShopify(maximum_available=1e9, restore_rate=1e9)
    for number in range(1, 3001):
        shop.store.seed_order(number)
    await shop.start()
    try:
        await run_with_kills(mode, live, shop.base_url, kills=3)
        for number in range(1, 3001, 10):  # 300 changes
            shop.store.orders_by_id[f"gid://shopify/Order/{number}"]["note"] = "changed"
            shop.store.orders_by_id[f"gid://shopify/Order/{number}"]["updatedAt"] = (
                shop.store._now()
            )
        await run_with_kills(mode, live, shop.base_url, kills=2)
        last = await run_with_kills(mode, live, shop.base_url, kills=0)
    finally:
        await shop.close()
    assert "emitted=0" in last  # a further walk emits nothing new
    total = raw_count(live, topics)
    keys = keys_by_entity(consume(topics.raw_webhooks, total, timeout=60))
    assert len(keys) == 3000  # nothing skipped
    changed = {str(n) for n in range(1, 3001, 10)}
    assert all(len(keys[e]) == (2 if e in changed else 1) for e in keys)  # no extra versions


async def test_backfill_twice_emits_nothing_new_and_after_a_poll_nothing_at_all(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    live = with_db(settings, fresh_database)
    async with poll_source("shopify") as source:
        source.seed(30)
        config = poller_config(source.config.base_url, page_size=7)
        async with open_service(live, {"shop": config}, "a") as service:
            lines: list[str] = []
            first = await service.backfill("shop", None, lambda p: lines.append(str(p.seen)))
            second = await service.backfill("shop", None)
            assert await service.store.take_lease("shop", 5)
            poll = await service.poll_once("shop")
    assert (first.emitted, second.emitted, poll.emitted) == (30, 0, 0)
    assert len(lines) == 5  # one progress report per page
    assert raw_count(live, topics) == 30
