"""Keyset pages over a table's ``bigserial`` id, newest first, for every list route.

A cursor (:mod:`admin.dead_letters.cursor`) names the edge row's id and a digest of the
filters, so rows inserted while a client walks the pages land before its first page and
never shift, skip or repeat what it has not seen yet. ``select`` must name the id
``seq``; ``clauses`` are fixed SQL fragments with ``%(name)s`` parameters only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from admin.dead_letters.cursor import Cursor, decode, encode, filters_digest


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    total: int
    next_cursor: str | None
    prev_cursor: str | None

    def meta(self, limit: int) -> dict[str, Any]:
        return {
            "total": self.total,
            "limit": limit,
            "next_cursor": self.next_cursor,
            "prev_cursor": self.prev_cursor,
        }


@dataclass(frozen=True, slots=True)
class Query:
    select: str  # "SELECT …" fragment naming the id "seq"
    source: str  # " FROM …" fragment
    id_column: str  # e.g. "d.id"
    clauses: list[str]
    values: dict[str, Any]


async def page(
    pool: AsyncConnectionPool, query: Query, cursor_text: str | None, limit: int
) -> Page:
    filters: dict[str, object] = {k: str(v) for k, v in query.values.items() if v is not None}
    digest = filters_digest(filters)
    cursor = decode(cursor_text, digest) if cursor_text else None
    where = " WHERE " + " AND ".join(query.clauses) if query.clauses else ""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n{query.source}{where}", query.values)
        total = int((await cur.fetchone() or {"n": 0})["n"])
        rows = await _rows(cur, query, cursor, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    if cursor is not None and cursor.direction == "prev":
        rows.reverse()
    return Page(rows, total, *_neighbours(rows, cursor, more, digest))


async def _rows(cur: Any, query: Query, cursor: Cursor | None, limit: int) -> list[dict[str, Any]]:
    backwards = cursor is not None and cursor.direction == "prev"
    clauses = query.clauses
    if cursor is not None:
        edge = f"{query.id_column} {'>' if backwards else '<'} %(edge)s"
        clauses = [*clauses, edge]
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    order = "ASC" if backwards else "DESC"
    params = {**query.values, "edge": cursor.edge if cursor else None, "limit": limit + 1}
    await cur.execute(
        f"{query.select}{query.source}{where} ORDER BY {query.id_column} {order} LIMIT %(limit)s",
        params,
    )
    return list(await cur.fetchall())


def _neighbours(
    rows: list[dict[str, Any]], cursor: Cursor | None, more: bool, digest: str
) -> tuple[str | None, str | None]:
    if not rows:  # rows removed under the cursor: point back at where it stood
        if cursor is None:
            return None, None
        if cursor.direction == "next":
            return None, encode(Cursor("prev", cursor.edge - 1), digest)
        return encode(Cursor("next", cursor.edge + 1), digest), None
    first, last = rows[0]["seq"], rows[-1]["seq"]
    forward = cursor is None or cursor.direction == "next"
    has_next = more if forward else True
    has_prev = (cursor is not None) if forward else more
    return (
        encode(Cursor("next", last), digest) if has_next else None,
        encode(Cursor("prev", first), digest) if has_prev else None,
    )
