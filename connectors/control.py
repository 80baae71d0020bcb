"""Operators' controls of a running connector instance, and its status heartbeat.

Every ``interval_seconds`` (1 s) an instance reads its connector's row of
``connector_controls`` (written by the admin API: ``paused``) and writes its own row of
``connector_status``: breaker state, paused or not, partitions held, consumer lag, its
rate-limit bucket. While paused the runner delivers nothing and keeps every partition
paused (a batch already in delivery finishes first); records it had fetched stay in its
buffer, uncommitted, and are delivered after the resume. Both tables are read and written
through the connector's own pool; a failure there is an infrastructure failure (the
runner stops and is restarted, as for any PostgreSQL failure).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime

import psycopg
from psycopg_pool import AsyncConnectionPool

from connectors.breaker import BreakerGate

_READ = "SELECT paused FROM connector_controls WHERE connector = %s"
_WRITE = """
INSERT INTO connector_status (connector, instance, destination, bucket, breaker_state,
                              paused, partitions, lag, started_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (connector, instance) DO UPDATE SET
    breaker_state = excluded.breaker_state, paused = excluded.paused,
    partitions = excluded.partitions, lag = coalesce(excluded.lag, connector_status.lag),
    updated_at = excluded.updated_at
"""
_FORGET = "DELETE FROM connector_status WHERE connector = %s AND instance = %s"


def instance_name(configured: str) -> str:
    """The configured instance id, else host:pid:random (several runners per process)."""
    return configured or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ConnectorControl:
    """One instance's view of ``connector_controls`` and its ``connector_status`` row."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        connector: str,
        instance: str,
        *,
        destination: str,
        bucket: str | None,
        gate: BreakerGate,
        interval_seconds: float = 1.0,
    ) -> None:
        self._pool = pool
        self._connector = connector
        self._instance = instance
        self._destination = destination
        self._bucket = bucket
        self._gate = gate
        self._interval = interval_seconds
        self._started = datetime.now(UTC)
        self._next = 0.0
        self.paused = False
        self.lag: int | None = None  # set by the runner when it measures it

    async def refresh(self, partitions: int) -> bool:
        """Read the pause flag and write the heartbeat, at most once per interval;
        return whether the connector is paused."""
        if time.monotonic() < self._next:
            return self.paused
        self._next = time.monotonic() + self._interval
        state = self._gate.breaker.state.name.lower()
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_READ, (self._connector,))).fetchone()
            self.paused = bool(row and row[0])
            await conn.execute(
                _WRITE,
                (
                    self._connector,
                    self._instance,
                    self._destination,
                    self._bucket,
                    state,
                    self.paused,
                    partitions,
                    self.lag,
                    self._started,
                ),
            )
        return self.paused

    async def forget(self) -> None:
        """Remove this instance's status row (it stopped); a stale row is harmless, so a
        failure here must not hide why the instance stopped."""
        with suppress(psycopg.Error):
            async with self._pool.connection() as conn:
                await conn.execute(_FORGET, (self._connector, self._instance))
