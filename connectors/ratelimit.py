"""Proactive rate limits: one token bucket per destination in PostgreSQL, shared by every
instance of every connector that names the same bucket.

Each call takes a token with one atomic statement (``UPDATE … RETURNING``; the row lock
serialises concurrent takers): the bucket is refilled for the time elapsed, capped at its
capacity (the burst), and one token is taken *even when none is left*. A negative balance
is a reservation: the caller waits ``-tokens / refill`` seconds, by which time its token
has been refilled. Callers are thus spaced exactly at the budget, fairly across instances,
with no polling. A crashed instance's reservations expire on their own (the bucket just
refills).

Takes are grouped per instance: the callers that ask while a take is in flight are served
by the next one, one statement taking N tokens; each caller waits for its own token, as if
the N had taken one each at that instant (the k-th waits ``-(balance + N - k) / refill``).
So a batch of concurrent deliveries costs a few round trips, not one each.

The budget is adjusted from what the destination reports (:class:`RateLimitHint`): fewer
``remaining`` calls than our balance lowers the balance to that; a ``Retry-After`` (429)
pushes the balance down to ``-refill * retry_after``, so every instance holds back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import Gauge
from psycopg_pool import AsyncConnectionPool

from connectors.config import RateLimitConfig
from connectors.errors import RateLimitHint
from hookline.rate_buckets import ENSURE as _ENSURE
from hookline.rate_buckets import TAKE as _TAKE

Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        bucket: str,
        config: RateLimitConfig,
        gauge: Gauge,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._pool = pool
        self._bucket = bucket
        self._config = config
        self._gauge = gauge
        self._sleep = sleep
        self._last_tokens = config.burst
        self._waiting: list[asyncio.Future[float]] = []  # callers for the next take
        self._taker: asyncio.Task[None] | None = None

    async def ensure(self) -> None:
        """Create the bucket, or update its budget to this configuration."""
        params = {
            "bucket": self._bucket,
            "capacity": self._config.burst,
            "refill": self._config.requests_per_second,
        }
        async with self._pool.connection() as conn:
            await conn.execute(_ENSURE, params)

    async def acquire(self) -> float:
        """Take one token, waiting for it if it is reserved ahead; return the wait."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        if self._taker is None or self._taker.done():
            self._taker = asyncio.create_task(self._take_waiting())
        wait = await future
        if wait > 0:
            await self._sleep(wait)
        return wait

    async def _take_waiting(self) -> None:
        """One statement per group of waiting callers, until none is waiting."""
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                tokens, refill = await self._update(cost=float(len(group)), ceiling=None)
            except Exception as exc:
                for future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for k, future in enumerate(group, start=1):
                balance = tokens + len(group) - k  # after the k-th token of the group
                if not future.done():
                    future.set_result(-balance / refill if balance < 0 else 0.0)

    async def observe(self, hint: RateLimitHint | None, throttled: bool = False) -> None:
        """Adjust the shared balance from a destination's report (``throttled``: a 429)."""
        ceiling = None
        if hint is not None and hint.remaining is not None and hint.remaining < self._last_tokens:
            ceiling = hint.remaining
        if throttled or (hint is not None and hint.retry_after is not None):
            wait = hint.retry_after if hint is not None and hint.retry_after else 0.0
            ceiling = -self._config.requests_per_second * wait
        if ceiling is not None:
            await self._update(cost=0.0, ceiling=ceiling)

    async def _update(self, cost: float, ceiling: float | None) -> tuple[float, float]:
        params = {"bucket": self._bucket, "cost": cost, "ceiling": ceiling}
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_TAKE, params)
            row = await cursor.fetchone()
        if row is None:
            raise LookupError(f"rate limit bucket {self._bucket!r} is missing")
        tokens, refill = float(row[0]), float(row[1])
        self._last_tokens = tokens
        self._gauge.set(tokens)
        return tokens, refill
