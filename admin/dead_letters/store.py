"""The dead-letter index in PostgreSQL: keyset pages, one row, marks.

Pages are ordered by ``id`` (the order of indexing), newest first (:mod:`admin.keyset`).
"Replayed" also counts rows the ``hookline replay`` command replayed (the ledger
``dead_letter_replays``).
Every value reaches SQL as a parameter; only fixed fragments are concatenated.
"""

from __future__ import annotations

import base64
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from admin import keyset
from admin.dead_letters.models import DeadLetterQuery
from admin.errors import ApiError
from admin.ids import INTEGER_DIGITS, id_number

FROM = (
    " FROM dead_letters d LEFT JOIN dead_letter_replays r ON r.dlq_topic = d.topic"
    ' AND r.dlq_partition = d.partition AND r.dlq_offset = d."offset"'
)
_SUMMARY = (
    'd.id AS seq, d.topic, d.partition, d."offset", d.connector, d.stage, d.component,'
    " d.exception_class, d.exception_message, d.source, d.original_topic, d.failed_at,"
    " d.indexed_at, coalesce(r.replayed_at, d.replayed_at) AS replayed_at, d.discarded_at,"
    " d.record_key, d.payload_bytes"
)
_DETAIL = (
    _SUMMARY + ", d.headers, d.payload, d.original_partition, d.original_offset, d.attempts,"
    " d.http_status, coalesce(d.replayed_by, r.requested_by) AS replayed_by,"
    " d.discarded_by, d.discard_reason"
)
_EQUALS = ("topic", "stage", "component", "connector", "exception_class", "source")
_REPLAYED = "(d.replayed_at IS NOT NULL OR r.dlq_topic IS NOT NULL)"


def where(query: DeadLetterQuery) -> tuple[list[str], dict[str, Any]]:
    values = query.model_dump(exclude={"limit", "cursor"})
    clauses = [f"d.{name} = %({name})s" for name in _EQUALS if values[name] is not None]
    if query.failed_after is not None:
        clauses.append("d.failed_at >= %(failed_after)s")
    if query.failed_before is not None:
        clauses.append("d.failed_at < %(failed_before)s")
    if query.replayed is not None:
        clauses.append(_REPLAYED if query.replayed else f"NOT {_REPLAYED}")
    if query.discarded is not None:
        clauses.append(f"d.discarded_at IS {'NOT ' if query.discarded else ''}NULL")
    return clauses, values


async def page(pool: AsyncConnectionPool, query: DeadLetterQuery) -> keyset.Page:
    clauses, values = where(query)
    spec = keyset.Query(f"SELECT {_SUMMARY}", FROM, "d.id", clauses, values)
    return await keyset.page(pool, spec, query.cursor, query.limit)


def parse_id(text: str) -> tuple[str, int, int]:
    topic, _, rest = text.partition(":")
    partition, _, offset = rest.partition(":")
    number, position = id_number(partition, INTEGER_DIGITS), id_number(offset)
    if not (topic and number is not None and position is not None and len(text) <= 300):
        raise ApiError(404, "not_found", "dead letter not found (ids are topic:partition:offset)")
    return topic, number, position


async def get(pool: AsyncConnectionPool, topic: str, partition: int, offset: int) -> Any:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f'SELECT {_DETAIL}{FROM} WHERE d.topic = %s AND d.partition = %s AND d."offset" = %s',
            (topic, partition, offset),
        )
        return await cur.fetchone()


async def mark_replayed(pool: AsyncConnectionPool, position: tuple[str, int, int], by: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE dead_letters SET replayed_at = coalesce(replayed_at, now()),"
            " replayed_by = coalesce(replayed_by, %s)"
            ' WHERE topic = %s AND partition = %s AND "offset" = %s',
            (by, *position),
        )


async def mark_discarded(
    pool: AsyncConnectionPool, position: tuple[str, int, int], by: str, reason: str
) -> bool:
    """Discard an open dead letter; False when it was replayed or discarded meanwhile."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "UPDATE dead_letters d SET discarded_at = now(), discarded_by = %s,"
            ' discard_reason = %s WHERE topic = %s AND partition = %s AND "offset" = %s'
            " AND discarded_at IS NULL AND replayed_at IS NULL AND NOT EXISTS (SELECT 1"
            " FROM dead_letter_replays r WHERE r.dlq_topic = d.topic"
            ' AND r.dlq_partition = d.partition AND r.dlq_offset = d."offset")'
            " RETURNING id",
            (by, reason, *position),
        )
        return await cursor.fetchone() is not None


def b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()
