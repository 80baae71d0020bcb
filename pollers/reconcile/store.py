"""``reconcile_mismatches`` (migration 0013): one open row per (reconciliation, pair,
family, entity key) while the entity differs.

A run upserts a row for every mismatch it found (the first detection time stays, kind,
fields and both sides' states are the latest) and closes the open rows of that pair and
family it did not find again: ``resolved``. A repair closes its row: ``repaired``; a
later run that still finds the entity out of step opens a new row.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from pollers.reconcile.compare import Mismatch, view
from schemas.text import without_nul

_UPSERT = """
INSERT INTO reconcile_mismatches
    (reconciliation, pair, family, entity_key, kind, fields, left_state, right_state)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (reconciliation, pair, family, entity_key) WHERE status = 'open' DO UPDATE SET
    kind = excluded.kind, fields = excluded.fields,
    left_state = excluded.left_state, right_state = excluded.right_state
"""
_RESOLVE = """
UPDATE reconcile_mismatches SET status = 'resolved', closed_at = now()
WHERE reconciliation = %s AND pair = %s AND family = %s AND status = 'open'
  AND NOT (entity_key = ANY(%s))
"""
_REPAIRED = """
UPDATE reconcile_mismatches SET status = 'repaired', closed_at = now()
WHERE reconciliation = %s AND pair = %s AND family = %s AND status = 'open'
  AND entity_key = ANY(%s)
"""


def _json(value: object) -> Jsonb | None:
    """Values read from the systems compared: U+0000 (PostgreSQL refuses it) as U+FFFD."""
    if value is None:
        return None
    return Jsonb(without_nul(value), dumps=lambda v: orjson.dumps(v).decode())


class MismatchStore:
    def __init__(self, pool: AsyncConnectionPool, reconciliation: str) -> None:
        self._pool = pool
        self._name = reconciliation

    async def record(self, pair: str, family: str, found: Sequence[Mismatch]) -> None:
        """Open or refresh a row per mismatch, resolve the rows not found again."""
        rows = [
            (self._name, pair, family, m.key, m.kind, list(m.fields),
             _json(view(m.left)), _json(view(m.right)))
            for m in found
        ]  # fmt: skip
        async with self._pool.connection() as conn, conn.transaction():
            if rows:
                async with conn.cursor() as cur:
                    await cur.executemany(_UPSERT, rows)
            keys = [m.key for m in found]
            await conn.execute(_RESOLVE, (self._name, pair, family, keys))

    async def repaired(self, pair: str, family: str, keys: Sequence[str]) -> None:
        if keys:
            async with self._pool.connection() as conn:
                await conn.execute(_REPAIRED, (self._name, pair, family, list(keys)))
