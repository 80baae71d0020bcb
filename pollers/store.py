"""What the pollers keep in PostgreSQL: leases, cursors and state hashes.

- **Lease** (``poll_leases``): one holder per poll name; held while renewed before
  ``expires_at``, taken over by anyone once it expired (its holder died or hung).
- **Cursor** (``poll_cursors``): a *walk* reads every record modified since a lower bound,
  page by page. The walk in progress (``run_since``, ``run_after``, ``run_max``) is saved
  after each page; a finished walk moves ``high_water`` to the newest modification time
  it saw, and the next walk starts ``overlap`` before it.
- **State hashes** (``poll_states``): the hash of the body last emitted per (source,
  entity), so an unchanged record is never emitted again.

:meth:`PollStore.commit_page` writes a page's hashes and the cursor in one transaction,
and only while the caller still holds the lease (else :class:`LeaseLost`): a poller that
lost its lease cannot move a cursor its successor owns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


class LeaseLost(Exception):
    """Another instance holds the poll now; stop without writing."""


@dataclass(frozen=True, slots=True)
class Cursor:
    high_water: datetime | None
    run_active: bool
    run_since: datetime | None
    run_after: str | None
    run_max: datetime | None
    records_seen: int
    records_emitted: int


EMPTY = Cursor(None, False, None, None, None, 0, 0)

_TAKE_LEASE = """
INSERT INTO poll_leases (name, holder, expires_at)
VALUES (%(name)s, %(holder)s, clock_timestamp() + make_interval(secs => %(ttl)s))
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE poll_leases.holder = excluded.holder OR poll_leases.expires_at < clock_timestamp()
RETURNING holder
"""
_HOLDS = """
SELECT 1 FROM poll_leases
WHERE name = %(name)s AND holder = %(holder)s AND expires_at >= clock_timestamp()
FOR UPDATE
"""
_CURSOR = """
SELECT high_water, run_active, run_since, run_after, run_max, records_seen, records_emitted
FROM poll_cursors WHERE name = %s
"""
_SAVE = """
INSERT INTO poll_cursors AS c (name, high_water, run_active, run_since, run_after, run_max,
                               records_seen, records_emitted, updated_at)
VALUES (%(name)s, %(high_water)s, %(run_active)s, %(run_since)s, %(run_after)s, %(run_max)s,
        %(records_seen)s, %(records_emitted)s, now())
ON CONFLICT (name) DO UPDATE SET
    high_water = excluded.high_water, run_active = excluded.run_active,
    run_since = excluded.run_since, run_after = excluded.run_after, run_max = excluded.run_max,
    records_seen = excluded.records_seen, records_emitted = excluded.records_emitted,
    updated_at = now()
"""
# One primary-key probe per entity, whatever the planner's statistics say (the same
# trap as connectors.state's load: with statistics that had not seen the source, the
# planner expected one row and filtered every row of the source against the entities).
_HASHES = """
SELECT p.entity, p.state_hash
FROM unnest(%s::text[]) AS k(entity)
CROSS JOIN LATERAL (
    SELECT entity, state_hash FROM poll_states WHERE source = %s AND entity = k.entity LIMIT 1
) AS p
"""
_PUT_HASH = """
INSERT INTO poll_states (source, entity, state_hash, version) VALUES (%s, %s, %s, %s)
ON CONFLICT (source, entity) DO UPDATE SET
    state_hash = excluded.state_hash, version = excluded.version, updated_at = now()
"""


class PollStore:
    def __init__(self, pool: AsyncConnectionPool, holder: str) -> None:
        self._pool = pool
        self.holder = holder

    async def take_lease(self, name: str, ttl_seconds: float) -> bool:
        """Take or renew the lease on ``name``; False while another holder has it."""
        params = {"name": name, "holder": self.holder, "ttl": ttl_seconds}
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_TAKE_LEASE, params)).fetchone()
        return row is not None

    async def release_lease(self, name: str) -> None:
        async with self._pool.connection() as conn:
            sql = "DELETE FROM poll_leases WHERE name = %s AND holder = %s"
            await conn.execute(sql, (name, self.holder))

    async def cursor(self, name: str) -> Cursor:
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_CURSOR, (name,))).fetchone()
        return EMPTY if row is None else Cursor(*row)

    async def changed(self, source: str, hashes: dict[str, bytes]) -> set[str]:
        """The entities of ``hashes`` whose stored hash differs (or is missing)."""
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(_HASHES, (list(hashes), source))).fetchall()
        stored = {entity: bytes(digest) for entity, digest in rows}
        return {entity for entity, digest in hashes.items() if stored.get(entity) != digest}

    async def commit_page(
        self,
        name: str,
        source: str,
        cursor: Cursor,
        emitted: Iterable[tuple[str, bytes, str]],
    ) -> None:
        """Save ``emitted`` (entity, hash, version) and ``cursor`` atomically, under the
        lease on ``name``; :class:`LeaseLost` (nothing written) when it is not ours."""
        async with self._pool.connection() as conn, conn.transaction():
            await self._check_lease(conn, name)
            rows: Sequence[tuple[str, str, bytes, str]] = [
                (source, entity, digest, version) for entity, digest, version in emitted
            ]
            if rows:
                async with conn.cursor() as cur:
                    await cur.executemany(_PUT_HASH, rows)
            await conn.execute(_SAVE, {"name": name, **_fields(cursor)})

    async def _check_lease(self, conn: AsyncConnection, name: str) -> None:
        row = await (await conn.execute(_HOLDS, {"name": name, "holder": self.holder})).fetchone()
        if row is None:
            raise LeaseLost(name)


def _fields(cursor: Cursor) -> dict[str, object]:
    return {
        "high_water": cursor.high_water,
        "run_active": cursor.run_active,
        "run_since": cursor.run_since,
        "run_after": cursor.run_after,
        "run_max": cursor.run_max,
        "records_seen": cursor.records_seen,
        "records_emitted": cursor.records_emitted,
    }
