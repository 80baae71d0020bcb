"""The vendor rate budgets: token buckets in PostgreSQL (table ``rate_limit_buckets``),
shared by every connector and poller instance that names the same bucket.

The statements live here so that the connectors (:mod:`connectors.ratelimit`, which adds
hints from the vendor's answers) and the pollers spend one budget the same way.

- :data:`TAKE` refills the bucket for the time elapsed, takes ``cost`` tokens *even when
  none is left* (a negative balance is a reservation: wait ``-tokens / refill``), then
  applies an optional ceiling. One statement: the row lock makes it atomic.
- :func:`take_spare` is for background work (backfills): it takes a token only while the
  balance stays at or above ``reserve`` (a share of the bucket's capacity) and never
  reserves ahead, so live callers, who do reserve, always come first and keep at least that
  share of the burst.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from psycopg_pool import AsyncConnectionPool

ENSURE = """
INSERT INTO rate_limit_buckets (bucket, tokens, capacity, refill_per_s)
VALUES (%(bucket)s, %(capacity)s, %(capacity)s, %(refill)s)
ON CONFLICT (bucket) DO UPDATE SET
    capacity = excluded.capacity, refill_per_s = excluded.refill_per_s,
    tokens = LEAST(rate_limit_buckets.tokens, excluded.capacity)
"""
#: Creates a bucket only if it is missing: a poller never overrides a connector's budget.
CREATE_IF_MISSING = """
INSERT INTO rate_limit_buckets (bucket, tokens, capacity, refill_per_s)
VALUES (%(bucket)s, %(capacity)s, %(capacity)s, %(refill)s)
ON CONFLICT (bucket) DO NOTHING
"""
# Refill for the time elapsed, take ``cost`` tokens, then apply an optional ceiling
# (NULL: none; LEAST ignores NULLs). One statement: the row lock makes it atomic.
TAKE = """
UPDATE rate_limit_buckets AS b
SET (tokens, updated_at) = (
    SELECT LEAST(
               LEAST(b.capacity, b.tokens + b.refill_per_s
                     * GREATEST(0, EXTRACT(EPOCH FROM (n.ts - b.updated_at)))::float8)
               - %(cost)s,
               %(ceiling)s::float8),
           GREATEST(b.updated_at, n.ts)
    FROM (SELECT clock_timestamp() AS ts) AS n)
WHERE b.bucket = %(bucket)s
RETURNING b.tokens, b.refill_per_s
"""
_REFILLED = """
SELECT LEAST(capacity, tokens + refill_per_s
             * GREATEST(0, EXTRACT(EPOCH FROM (clock_timestamp() - updated_at)))::float8),
       capacity, refill_per_s, GREATEST(updated_at, clock_timestamp())
FROM rate_limit_buckets WHERE bucket = %(bucket)s FOR UPDATE
"""
_SET = """
UPDATE rate_limit_buckets SET tokens = %(tokens)s, updated_at = %(at)s WHERE bucket = %(bucket)s
"""

Sleep = Callable[[float], Awaitable[None]]


class SharedBucket:
    """One named bucket, used by a poller (:meth:`acquire`) or a backfill
    (:meth:`acquire_spare`)."""

    def __init__(
        self, pool: AsyncConnectionPool, bucket: str, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._pool = pool
        self.bucket = bucket
        self._sleep = sleep

    async def create_if_missing(self, requests_per_second: float, burst: float) -> None:
        params = {"bucket": self.bucket, "capacity": burst, "refill": requests_per_second}
        async with self._pool.connection() as conn:
            await conn.execute(CREATE_IF_MISSING, params)

    async def acquire(self) -> float:
        """Take one token, waiting for it if it is reserved ahead; return the wait."""
        params = {"bucket": self.bucket, "cost": 1.0, "ceiling": None}
        async with self._pool.connection() as conn:
            row = await (await conn.execute(TAKE, params)).fetchone()
        if row is None:
            raise LookupError(f"rate limit bucket {self.bucket!r} is missing")
        tokens, refill = float(row[0]), float(row[1])
        wait = -tokens / refill if tokens < 0 else 0.0
        if wait > 0:
            await self._sleep(wait)
        return wait

    async def acquire_spare(self, reserve: float) -> float:
        """Take one token only while ``reserve`` (a share of capacity) stays in the bucket;
        wait for the refill otherwise. Returns the total wait."""
        waited = 0.0
        while True:
            wait = await self._take_above(reserve)
            if wait == 0:
                return waited
            waited += wait
            await self._sleep(wait)

    async def _take_above(self, reserve: float) -> float:
        async with self._pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(_REFILLED, {"bucket": self.bucket})).fetchone()
            if row is None:
                raise LookupError(f"rate limit bucket {self.bucket!r} is missing")
            tokens, capacity, refill, at = float(row[0]), float(row[1]), float(row[2]), row[3]
            floor = reserve * capacity
            if tokens - 1.0 >= floor:
                await conn.execute(_SET, {"tokens": tokens - 1.0, "at": at, "bucket": self.bucket})
                return 0.0
        return max((floor + 1.0 - tokens) / refill, 0.001)


async def hold_back(pool: AsyncConnectionPool, bucket: str, seconds: float) -> None:
    """The vendor asked every caller to wait ``seconds``: push the shared balance down to
    that many seconds of refill, as :mod:`connectors.ratelimit` does for a 429."""
    sql = TAKE.replace("%(ceiling)s::float8", "-b.refill_per_s * %(ceiling)s::float8")
    async with pool.connection() as conn:
        await conn.execute(sql, {"bucket": bucket, "cost": 0.0, "ceiling": seconds})
