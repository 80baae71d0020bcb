"""A connector's records in PostgreSQL: applied state, held conflicts, the sync log.

- ``connector_entity_state``: per (connector, entity) the hash, version, source and body
  of the state last applied. Written only after the destination accepted the change,
  and never to an older version (``WHERE excluded.version >= version``), so a late
  writer cannot roll it back. An unchanged state seen at a newer version advances the
  version only. Saves, and advances, are group-committed: those requested while one is
  being written go together in the next transaction (one WAL flush instead of one each).
- ``conflicts``: every conflict with both versions (``current_state``: the state applied,
  ``incoming``: the change), one row per (connector, CloudEvent id), so a re-delivered
  change is recorded once. ``status``: ``open`` for a change held by the manual-review
  policy; ``applied`` (the incoming change won) or ``rejected`` (it lost) for one the
  policy resolved, with ``resolved_at``. ``held_event``: the incoming CloudEvent as
  consumed, which the admin API sends back to this connector when a person resolves it.
- ``sync_runs``: one row per batch (sources, destination, record count, outcome,
  duration, counts by outcome).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from connectors.conflicts import AppliedState
from connectors.destinations.base import Change
from schemas.text import json_without_nul, without_nul

T = TypeVar("T")

# The keys as one JSON array (psycopg escapes a list parameter element by element in
# Python: a batch's 500 keys cost more than the query), and one primary-key probe per
# key, whatever the planner's statistics say: with
# ``entity_key = ANY(keys)`` and statistics that had not seen the connector yet (a new
# connector, or its rows written since the last ANALYZE), the planner expected one row and
# checked the keys as a filter over every row of the connector, per batch: 185 ms per
# 500 keys at 20,000 rows, growing with them. LIMIT 1 keeps the lateral subquery a
# per-key index lookup (the key is unique) instead of being flattened into a join the
# same estimate could turn into a scan.
_LOAD = """
SELECT s.entity_key, s.state_hash, s.version, s.source, s.state
FROM jsonb_array_elements_text(%s::jsonb) AS k(key)
CROSS JOIN LATERAL (
    SELECT entity_key, state_hash, version, source, state
    FROM connector_entity_state
    WHERE connector = %s AND entity_key = k.key
    LIMIT 1
) AS s
"""
# Never to an older version: a late writer cannot roll a state back.
_UPSERT = """
ON CONFLICT (connector, entity_key) DO UPDATE SET
    state_hash = excluded.state_hash, version = excluded.version, source = excluded.source,
    state = excluded.state, event_id = excluded.event_id, applied_at = excluded.applied_at
WHERE connector_entity_state.version IS NULL
   OR excluded.version >= connector_entity_state.version
"""
_SAVE = (
    """
INSERT INTO connector_entity_state
    (connector, entity_key, state_hash, version, source, state, event_id, applied_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, now())"""
    + _UPSERT
)
# The same upsert for a group of changes of distinct entities: one statement reading the
# rows from one JSON array (the client encodes one document instead of binding seven
# parameters per row: about a third of the client's CPU per row; the server's is alike).
_SAVE_MANY = (
    """
INSERT INTO connector_entity_state
    (connector, entity_key, state_hash, version, source, state, event_id, applied_at)
SELECT %s, c.k, c.h, c.v, c.s, c.j, c.e, now()
FROM jsonb_to_recordset(%s::jsonb) AS c(k text, h text, v timestamptz, s text, j jsonb, e text)"""
    + _UPSERT
)
# Versions seen on unchanged states, for a group of changes: one statement, the newest
# version per entity (one UPDATE cannot change a row twice), never moved back. The
# connector is compared to a sub-select, not to the literal: given the literal, statistics
# that had not seen the connector yet (a new connector, or its rows written since the
# last ANALYZE) made the planner expect one row of it and hash all of them, per group
# (118 ms at 200,000 rows, growing with them). Not knowing the value, it expects an
# average connector's share of the table and probes the group's keys (0.4 ms). An UPDATE
# cannot take _LOAD's lateral form, and one that finds its rows by address (ctid) would
# skip a row another writer changed meanwhile.
_ADVANCE_MANY = """
UPDATE connector_entity_state AS s SET version = c.v
FROM (
    SELECT k, max(v) AS v
    FROM jsonb_to_recordset(%s::jsonb) AS r(k text, v timestamptz)
    GROUP BY k
) AS c
WHERE s.connector = (SELECT %s::text) AND s.entity_key = c.k
  AND (s.version IS NULL OR s.version < c.v)
"""
_HOLD = """
INSERT INTO conflicts (connector, entity_key, policy, current_state, incoming, event_id,
                       status, resolved_at, held_event)
VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s = 'open' THEN NULL ELSE now() END, %s)
ON CONFLICT (connector, event_id) DO NOTHING
"""
_RUN = """
INSERT INTO sync_runs (connector, source, destination, started_at, finished_at,
                       record_count, outcome, detail)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""


def _as_is(encoded: bytes) -> bytes:
    return encoded


def _json(value: Any) -> Jsonb:
    return Jsonb(without_nul(value), dumps=orjson.dumps)  # schemas.text


def _rows_document(changes: list[Change]) -> str:
    """The rows of ``_SAVE_MANY`` as one JSON array; each state embedded as the runner
    encoded it, when it did (not encoded again)."""
    return _json_document(
        [
            {
                "k": c.entity_key,
                "h": c.state_hash,
                "v": c.version,
                "s": c.source,
                "j": orjson.Fragment(c.encoded) if c.encoded is not None else c.state,
                "e": c.event_id,
            }
            for c in changes
        ]
    )


def _json_document(value: Any) -> str:
    """``value`` as one JSON parameter (a ``::jsonb`` read by the statement)."""
    return json_without_nul(orjson.dumps(value)).decode()  # PostgreSQL refuses U+0000


def _state_json(change: Change) -> Jsonb:
    """The change's state, as the runner encoded it when there is that."""
    if change.encoded is not None:
        return Jsonb(json_without_nul(change.encoded), dumps=_as_is)
    return _json(change.state)


@dataclass(frozen=True, slots=True)
class BatchRun:
    sources: tuple[str, ...]
    destination: str
    started_at: datetime
    finished_at: datetime
    record_count: int
    outcome: str
    counts: Mapping[str, int]
    topics: tuple[str, ...]


class GroupWriter(Generic[T]):
    """Group commit: items submitted while a write is in flight are written together by
    the next one, in one transaction. ``submit`` returns once its item is durable."""

    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._write([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


class StateStore:
    def __init__(self, pool: AsyncConnectionPool, connector: str) -> None:
        self._pool = pool
        self._connector = connector
        self._saves = GroupWriter(self._save_all)
        self._advances = GroupWriter(self._advance_all)

    async def load(self, keys: Collection[str]) -> dict[str, AppliedState]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_LOAD, (_json_document(list(keys)), self._connector))
            rows = await cursor.fetchall()
        return {row[0]: AppliedState(row[1], row[2], row[3], row[4]) for row in rows}

    async def save(self, change: Change) -> None:
        """Write the applied state; returns once it is durable (group-committed)."""
        await self._saves.submit(change)

    async def _save_all(self, changes: list[Change]) -> None:
        keys = [c.entity_key for c in changes]
        async with self._pool.connection() as conn:
            if len(set(keys)) < len(keys):  # one statement cannot upsert a row twice
                async with conn.transaction(), conn.cursor() as cur:
                    await cur.executemany(_SAVE, [self._row(c) for c in changes])
                return
            async with _atomic(conn):
                await conn.execute(_SAVE_MANY, (self._connector, _rows_document(changes)))

    def _row(self, c: Change) -> tuple[Any, ...]:
        state = _state_json(c)
        key = without_nul(c.entity_key)  # as _rows_document and load() write and read it
        return (self._connector, key, c.state_hash, c.version, c.source, state, c.event_id)

    async def advance(self, change: Change) -> None:
        """An unchanged state seen at a newer version: remember the version, so that a
        change older than it but newer than the applied one is still stale. Returns once
        it is durable (group-committed, like saves)."""
        await self._advances.submit(change)

    async def _advance_all(self, changes: list[Change]) -> None:
        document = _json_document([{"k": c.entity_key, "v": c.version} for c in changes])
        async with self._pool.connection() as conn, _atomic(conn):
            await conn.execute(_ADVANCE_MANY, (document, self._connector))

    async def hold_conflict(
        self,
        change: Change,
        prior: AppliedState,
        policy: str,
        status: str = "open",
        event: Mapping[str, Any] | None = None,
    ) -> None:
        current = {"source": prior.source, "version": prior.version, "state": prior.state}
        incoming = {"source": change.source, "version": change.version, "state": change.state}
        async with self._pool.connection() as conn:
            await conn.execute(
                _HOLD,
                (
                    self._connector,
                    change.entity_key,
                    policy,
                    _json(_jsonable(current)),
                    _json(_jsonable(incoming)),
                    change.event_id,
                    status,
                    status,
                    None if event is None else _json(event),
                ),
            )

    async def record_batch(self, run: BatchRun) -> None:
        detail = {"counts": dict(run.counts), "topics": list(run.topics)}
        async with self._pool.connection() as conn:
            await conn.execute(
                _RUN,
                (
                    self._connector,
                    ",".join(run.sources)[:500] or None,
                    run.destination,
                    run.started_at,
                    run.finished_at,
                    run.record_count,
                    run.outcome,
                    _json(detail),
                ),
            )


def _atomic(conn: AsyncConnection[Any]) -> AbstractAsyncContextManager[Any]:
    """Around one statement: atomic on its own (no BEGIN and COMMIT on an autocommit
    pool), else in a transaction of its own."""
    return nullcontext() if conn.autocommit else conn.transaction()


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in value.items()}
