"""The proactive rate limit: one budget in PostgreSQL, shared by every instance."""

from __future__ import annotations

import asyncio
import itertools
import time

from connectors.config import RateLimitConfig
from connectors.errors import RateLimitHint
from connectors.metrics import ConnectorMetrics
from connectors.ratelimit import TokenBucket
from hookline.db import create_pool
from hookline.metrics import new_registry
from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi
from tests.fakes.connector_harness import (
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)

RATE, BURST, EVENTS = 10.0, 2.0, 36


def most_calls_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t - start < window) for i, start in enumerate(times))


async def test_two_instances_respect_one_shared_rate_budget(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    limit = RateLimitConfig(requests_per_second=RATE, burst=BURST)
    config = connector_config("crm", fake_api.base_url, rate_limit=limit)
    async with (
        running_connector(connector_settings, config) as one,
        running_connector(connector_settings, config) as two,
    ):
        await until(
            lambda: bool(one.runner.partitions()) and bool(two.runner.partitions()),
            what="both instances holding partitions",
        )
        events = [customer_event(f"e{i}", 1) for i in range(EVENTS)]
        produce(connector_settings, topics.events("customer"), events)
        await until(
            lambda: one.count("applied") + two.count("applied") == EVENTS, what="every change"
        )
        assert one.count("applied") > 0
        assert two.count("applied") > 0
    times = [c.at for c in fake_api.calls]
    assert max(times) - min(times) >= (EVENTS - BURST) / RATE - 0.2
    assert most_calls_in_any_window(times, 1.0) <= RATE + BURST + 1


async def test_rate_limit_headers_lower_the_shared_budget(
    fresh_database: PostgresSettings,
) -> None:
    pool = create_pool(fresh_database)
    await pool.open(wait=True)
    gauge = ConnectorMetrics(new_registry()).rate_limit_tokens.labels("crm")
    # A slow refill: the time between the two calls (longer on a busy machine) refills
    # little of the token waited for.
    config = RateLimitConfig(requests_per_second=2, burst=20)
    bucket, other = (TokenBucket(pool, "shared", config, gauge) for _ in range(2))
    try:
        await bucket.ensure()
        assert await bucket.acquire() == 0  # a full bucket: no wait
        await bucket.observe(RateLimitHint(remaining=0, reset_seconds=1))
        started = time.monotonic()
        waited = await other.acquire()  # another instance sees the lowered balance
        assert 0.4 <= waited <= 0.5  # one token at 2/s
        await bucket.observe(RateLimitHint(retry_after=0.5), throttled=True)
        assert await other.acquire() >= 0.5
        assert time.monotonic() - started >= 0.5
    finally:
        await pool.close()
        await asyncio.sleep(0)


async def test_concurrent_takes_wait_as_if_one_at_a_time(
    fresh_database: PostgresSettings,
) -> None:
    """Callers asking at once share one take of N tokens (connectors.ratelimit), each
    waiting for its own token: the burst at once, then one per 1/refill seconds."""
    pool = create_pool(fresh_database)
    await pool.open(wait=True)
    gauge = ConnectorMetrics(new_registry()).rate_limit_tokens.labels("crm")
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    config = RateLimitConfig(requests_per_second=10, burst=2)
    bucket = TokenBucket(pool, "grouped", config, gauge, sleep=record)
    try:
        await bucket.ensure()
        got = await asyncio.gather(*(bucket.acquire() for _ in range(6)))
        assert sorted(got) == got  # in the order asked
        assert got[:2] == [0.0, 0.0]  # the burst
        gaps = [later - earlier for earlier, later in itertools.pairwise(got[2:])]
        assert all(abs(gap - 0.1) < 0.01 for gap in gaps), got  # one token per 0.1 s
        assert waits == got[2:]
    finally:
        await pool.close()
        await asyncio.sleep(0)
