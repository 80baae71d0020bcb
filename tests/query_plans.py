"""What PostgreSQL did for a query: read from its plan, for tests of the queries' shape."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection


async def unseen_by_statistics(
    conn: AsyncConnection[Any],
    table: str,
    insert: str,
    owner: str,
    *,
    known_rows: int = 2_000,
    owner_rows: int = 2_000,
) -> None:
    """``known_rows`` rows of ``known`` in ``table``, its statistics taken, then
    ``owner_rows`` of ``owner``: the statistics say ``owner`` has no rows (a new connector
    or source). ``insert`` takes the owner and the number of rows as its parameters and
    numbers its rows with ``g``."""
    await conn.execute(insert, ("known", known_rows))
    await conn.execute(f"ANALYZE {table}")
    await conn.execute(insert, (owner, owner_rows))


async def rows_filtered(conn: AsyncConnection[Any], query: str, params: tuple[Any, ...]) -> int:
    """Rows the query read and then dropped by a filter, over all its plan's nodes: 0 for
    a query that finds its rows through an index condition alone."""
    return _filtered(await _plan(conn, query, params))


async def rows_read(
    conn: AsyncConnection[Any], query: str, params: tuple[Any, ...], table: str
) -> int:
    """Rows the query's scans of ``table`` read, over all loops: those they returned and
    those their filter dropped (``EXPLAIN ANALYZE`` runs the query: a write is done). A
    join can read every row of a connector and drop them in a hash, which no filter
    counts."""
    return _read(await _plan(conn, query, params), table)


async def _plan(conn: AsyncConnection[Any], query: str, params: tuple[Any, ...]) -> Any:
    cursor = await conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params)
    [[[plan]]] = await cursor.fetchall()
    return plan["Plan"]


def _read(node: dict[str, Any], table: str) -> int:
    own = 0.0
    if node.get("Relation Name") == table:  # both figures are averages over the loops
        own = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
    return int(own) + sum(_read(child, table) for child in node.get("Plans", []))


def _filtered(node: dict[str, Any]) -> int:
    own = int(node.get("Rows Removed by Filter", 0))
    return own + sum(_filtered(child) for child in node.get("Plans", []))
