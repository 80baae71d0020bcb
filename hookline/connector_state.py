"""Writes to the connectors' applied state (``connector_entity_state``, migration 0001)
from outside the connectors: the one place that SQL lives for other services.

The connectors skip a change whose state hash equals the state they applied last
(``connectors.state``). To make a connector deliver an entity again although nothing
changed (a reconciliation's repair), its rows for that entity are forgotten: the next
change of the entity is then judged as new and applied.
"""

from __future__ import annotations

from collections.abc import Collection

from psycopg_pool import AsyncConnectionPool

# The connector as a sub-select, not a literal: with statistics that had not seen it yet
# the planner expected one row of it and tested the keys as a filter over all of its rows
# (as connectors.state._ADVANCE_MANY did); not knowing the value, it probes the keys.
_FORGET = (
    "DELETE FROM connector_entity_state"
    " WHERE connector = (SELECT %s::text) AND entity_key = ANY(%s)"
)


def person_key(email: str) -> str:
    """The key under which connectors keep a person's state (one per email, whichever
    system's IDs its changes carry): ``person:<email, trimmed, lower case>``."""
    return f"person:{email.strip().lower()}"


async def forget_entities(pool: AsyncConnectionPool, connector: str, keys: Collection[str]) -> int:
    """Delete ``connector``'s applied state under ``keys``; the number of rows deleted."""
    async with pool.connection() as conn:
        cursor = await conn.execute(_FORGET, (connector, list(keys)))
        return cursor.rowcount
