"""The pollers' store of what each source's entities looked like when last emitted."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from pollers.store import _HASHES, PollStore
from tests.query_plans import rows_filtered, unseen_by_statistics


async def test_hashes_are_read_by_entity_when_the_statistics_have_not_seen_the_source(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    """A source the planner's statistics do not know yet (new, or its rows written since
    the last ANALYZE) still has its hashes probed entity by entity: the read once filtered
    every row of the source against the page's entities (19,800 of 20,000 for 200)."""
    insert = (
        "INSERT INTO poll_states (source, entity, state_hash, version)"
        " SELECT %s, 'e' || g, '\\x01', '1' FROM generate_series(1, %s) AS g"
    )
    async with autocommit_pool.connection() as conn:
        await unseen_by_statistics(conn, "poll_states", insert, "unseen")
        entities = [f"e{n}" for n in range(1, 101)]
        assert await rows_filtered(conn, _HASHES, (entities, "unseen")) == 0
    page = {"e1": b"\x01", "e2": b"\x02", "new": b"\x01"}
    assert await PollStore(autocommit_pool, "h").changed("unseen", page) == {"e2", "new"}
