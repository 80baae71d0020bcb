"""The connectors' external calls counted in PostgreSQL, for the daily digest.

:class:`CallTally` counts each call the :class:`~connectors.http.HttpClient` finishes
(the same calls as ``hookline_connector_call_duration_seconds``) in memory per UTC hour
and category, and adds the counts to ``external_call_counts`` at most every
``flush_every_seconds`` (one upsert per hour and category) and when the connector
closes. A failed write keeps the counts for the next one and is logged, never raised:
counting must not stop delivery. A process killed between flushes loses at most that
interval's counts.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import AsyncConnectionPool

from connectors.errors import Category
from hookline.logs import get_logger

log = get_logger("hookline.connectors.call_log")

_ADD = """
INSERT INTO external_call_counts (connector, hour, category, calls) VALUES (%s, %s, %s, %s)
ON CONFLICT (connector, hour, category)
DO UPDATE SET calls = external_call_counts.calls + excluded.calls
"""


def _now() -> datetime:
    return datetime.now(UTC)


class CallTally:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        connector: str,
        *,
        flush_every_seconds: float = 10.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._pool = pool
        self._connector = connector
        self._every = flush_every_seconds
        self._clock = clock
        self._counts: Counter[tuple[datetime, str]] = Counter()
        self._last_flush = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None
        self._hour = (datetime.max.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))

    def record(self, category: Category) -> None:
        """Count one finished call; start a flush when one is due."""
        self._counts[(self._hour_of(self._clock()), category.value)] += 1
        idle = self._flushing is None or self._flushing.done()
        if idle and time.monotonic() - self._last_flush >= self._every:
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    def _hour_of(self, now: datetime) -> datetime:
        """The UTC hour ``now`` falls in; the last one is kept (every call asks)."""
        hour, end = self._hour
        if not hour <= now < end:
            hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            self._hour = (hour, hour + timedelta(hours=1))
        return hour

    async def flush(self) -> None:
        """Add the counts so far to the table."""
        self._last_flush = time.monotonic()
        counts, self._counts = self._counts, Counter()
        if not counts:
            return
        rows = [(self._connector, hour, cat, n) for (hour, cat), n in counts.items()]
        try:
            async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                await cur.executemany(_ADD, rows)
        except psycopg.Error as exc:
            self._counts.update(counts)  # kept for the next flush
            log.warning("call counts not written", connector=self._connector, error=str(exc))

    async def close(self) -> None:
        """Write what is counted (after a flush in flight)."""
        if self._flushing is not None:
            await self._flushing
        await self.flush()
