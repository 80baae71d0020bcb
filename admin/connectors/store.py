"""Connector status from PostgreSQL: controls, heartbeats, sync runs, rate buckets.

Every value reaches SQL as a parameter.
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

LIVE_SECONDS = 15
_WORST = {"closed": 0, "half_open": 1, "open": 2}

_INSTANCES = """
SELECT instance, destination, bucket, breaker_state, paused, partitions, lag, started_at,
       updated_at, updated_at > now() - make_interval(secs => %(live)s) AS live
FROM connector_status WHERE connector = %(name)s ORDER BY instance
"""
_CONTROL = (
    "SELECT paused, reason, changed_by, changed_at FROM connector_controls WHERE connector = %s"
)
_LAST_OK = "SELECT max(finished_at) AS at FROM sync_runs WHERE connector = %s AND outcome = 'ok'"
_LAST = (
    "SELECT outcome, record_count, finished_at FROM sync_runs WHERE connector = %s"
    " ORDER BY started_at DESC LIMIT 1"
)
_BUCKET = """
SELECT bucket, capacity, refill_per_s AS refill_per_second,
       LEAST(capacity, tokens + refill_per_s
             * extract(epoch FROM clock_timestamp() - updated_at))::float8 AS tokens
FROM rate_limit_buckets WHERE bucket = %s
"""
_SET = """
INSERT INTO connector_controls (connector, paused, reason, changed_by, changed_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (connector) DO UPDATE SET paused = excluded.paused, reason = excluded.reason,
    changed_by = excluded.changed_by, changed_at = excluded.changed_at
"""


async def seen_names(pool: AsyncConnectionPool) -> set[str]:
    """Connectors that ran or were controlled (beside those of the file)."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT connector FROM connector_status UNION SELECT connector FROM connector_controls"
        )
        return {row[0] for row in await cursor.fetchall()}


async def status(pool: AsyncConnectionPool, name: str, destination: str | None) -> dict[str, Any]:
    """One connector's status (the ConnectorStatus fields but ``configured``)."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_INSTANCES, {"name": name, "live": LIVE_SECONDS})
        instances = await cur.fetchall()
        control = await (await cur.execute(_CONTROL, (name,))).fetchone()
        last_ok = await (await cur.execute(_LAST_OK, (name,))).fetchone()
        last = await (await cur.execute(_LAST, (name,))).fetchone()
        bucket = next((i["bucket"] for i in instances if i["bucket"]), None)
        budget = await (await cur.execute(_BUCKET, (bucket,))).fetchone() if bucket else None
    live = [i for i in instances if i["live"]]
    return {
        "name": name,
        "destination": destination or next((i["destination"] for i in instances), None),
        "paused": bool(control and control["paused"]),
        "pause_changed_by": control["changed_by"] if control else None,
        "pause_changed_at": control["changed_at"] if control else None,
        "pause_reason": control["reason"] if control else None,
        "breaker_state": max(
            (i["breaker_state"] for i in live), key=lambda s: _WORST.get(s, 0), default="unknown"
        ),
        "lag": sum(i["lag"] or 0 for i in live) if live else None,
        "running_instances": len(live),
        "last_successful_batch_at": last_ok["at"] if last_ok else None,
        "last_batch": last,
        "rate_budget": budget,
        "instances": instances,
    }


async def set_paused(
    pool: AsyncConnectionPool, name: str, paused: bool, reason: str | None, by: str
) -> None:
    async with pool.connection() as conn:
        await conn.execute(_SET, (name, paused, reason, by))
