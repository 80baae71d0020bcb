"""The applied-state table as the connectors write it: saves requested together are
written together, a late writer never rolls a state back, and the stored body is the
state as encoded for the call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from psycopg_pool import AsyncConnectionPool

from connectors.delivery import encode_state, state_hash
from connectors.destinations.base import Change
from connectors.state import _ADVANCE_MANY, _LOAD, StateStore
from hookline.connector_state import _FORGET, forget_entities
from hookline.db import create_pool
from hookline.settings import PostgresSettings
from tests.query_plans import rows_filtered, rows_read, unseen_by_statistics

T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)
#: Rows of a connector at version T0, for tests of the queries' plans (tests.query_plans).
INSERT = (
    "INSERT INTO connector_entity_state (connector, entity_key, state_hash, version)"
    " SELECT %s, 'customer:' || g, 'h', '2026-03-10 12:00+00' FROM generate_series(1, %s) g"
)
#: Another connector's rows seen by the statistics, many more than the new one's.
LARGER = {"known_rows": 50_000, "owner_rows": 2_000}


def change(key: str, version: datetime, *, encoded: bool = True, **state: Any) -> Change:
    return Change(
        entity_key=key,
        family="customer",
        entity_id=key.partition(":")[2],
        state=state,
        state_hash=state_hash(state),
        version=version,
        source="shop",
        event_id=f"{key}@{version.isoformat()}",
        event_type="com.hookline.customer.updated",
        encoded=encode_state(state) if encoded else None,
    )


async def rows(pool: AsyncConnectionPool) -> dict[str, tuple[Any, ...]]:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT entity_key, state_hash, version, source, state, event_id"
            " FROM connector_entity_state WHERE connector = 'crm'"
        )
        return {row[0]: row[1:] for row in await cursor.fetchall()}


async def test_saves_requested_together_are_all_written(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    store = StateStore(autocommit_pool, "crm")
    changes = [change(f"customer:{n}", T0, encoded=n % 2 == 0, name=f"n{n}") for n in range(300)]
    await asyncio.gather(*(store.save(c) for c in changes))
    saved = await rows(autocommit_pool)
    assert len(saved) == 300
    for c in changes:
        assert saved[c.entity_key] == (c.state_hash, T0, "shop", dict(c.state), c.event_id)
    loaded = await store.load([c.entity_key for c in changes[:3]])
    assert loaded[changes[1].entity_key].state == {"name": "n1"}


async def test_an_older_version_never_overwrites_a_newer_one(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    store = StateStore(autocommit_pool, "crm")
    newer = change("customer:1", T0 + timedelta(seconds=5), name="new")
    await store.save(newer)
    await asyncio.gather(
        store.save(change("customer:1", T0, name="old")),
        store.save(change("customer:2", T0, name="other")),
    )
    saved = await rows(autocommit_pool)
    assert saved["customer:1"][3] == {"name": "new"}
    assert saved["customer:2"][3] == {"name": "other"}


async def test_one_entity_twice_in_one_group_ends_at_the_newest(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    """One statement cannot upsert a row twice: such a group is written row by row."""
    store = StateStore(autocommit_pool, "crm")
    first, second = change("customer:1", T0, name="a"), change("customer:1", T0, name="b")
    late = change("customer:1", T0 - timedelta(seconds=1), name="late")
    await asyncio.gather(store.save(first), store.save(second), store.save(late))
    saved = await rows(autocommit_pool)
    assert saved["customer:1"][3] == {"name": "b"}
    assert orjson.dumps(saved["customer:1"][3]) == encode_state({"name": "b"})


async def test_advances_requested_together_move_each_version_forward_only(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    """Unchanged states seen at newer versions, group-committed: each entity ends at the
    newest version seen (one entity twice in a group included); an older one, or one of
    an entity never saved, changes nothing; the state itself is untouched."""
    store = StateStore(autocommit_pool, "crm")
    await asyncio.gather(*(store.save(change(f"customer:{n}", T0, name=f"n{n}")) for n in range(3)))
    later = [T0 + timedelta(seconds=s) for s in (1, 2, 3)]
    await asyncio.gather(
        store.advance(change("customer:0", later[1], name="n0")),
        store.advance(change("customer:0", later[2], name="n0")),
        store.advance(change("customer:0", later[0], name="n0")),
        store.advance(change("customer:1", later[0], name="n1")),
        store.advance(change("customer:2", T0 - timedelta(seconds=1), name="n2")),
        store.advance(change("customer:9", later[0], name="n9")),
    )
    saved = await rows(autocommit_pool)
    assert {key: row[1] for key, row in saved.items()} == {
        "customer:0": later[2],
        "customer:1": later[0],
        "customer:2": T0,
    }
    assert saved["customer:0"][3] == {"name": "n0"}
    await store.advance(change("customer:0", later[1], name="n0"))  # alone, and older
    assert (await rows(autocommit_pool))["customer:0"][1] == later[2]


async def test_saves_through_a_pool_in_transactions_are_committed(
    fresh_database: PostgresSettings,
) -> None:
    """A pool whose connections are not in autocommit: the group is committed anyway."""
    pool = create_pool(fresh_database)
    await pool.open(wait=True)
    try:
        store = StateStore(pool, "crm")
        await asyncio.gather(*(store.save(change(f"customer:{n}", T0, name="x")) for n in range(3)))
        assert len(await rows(pool)) == 3
    finally:
        await pool.close()


async def test_states_are_loaded_by_key_when_the_statistics_have_not_seen_the_connector(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    """A connector the planner's statistics do not know yet (new, or its rows written since
    the last ANALYZE) still has its states probed key by key: the load once filtered every
    row of the connector against the keys, per batch (185 ms per 500 keys at 20,000 rows)."""
    keys = [f"customer:{n}" for n in range(1, 101)] + ["customer:absent"]
    async with autocommit_pool.connection() as conn:
        await unseen_by_statistics(conn, "connector_entity_state", INSERT, "unseen")
        filtered = await rows_filtered(conn, _LOAD, (orjson.dumps(keys).decode(), "unseen"))
    assert filtered == 0  # was 1,900: every row of the connector but the 100 asked for
    loaded = await StateStore(autocommit_pool, "unseen").load(keys)
    assert sorted(loaded) == sorted(keys[:-1])


async def test_versions_are_advanced_by_key_when_the_statistics_have_not_seen_the_connector(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    """The remembered-version update of a group reads only the group's rows, whatever the
    statistics say: it once hashed every row of a connector they had not seen, per group
    (118 ms at 200,000 rows, growing with them)."""
    later = T0 + timedelta(hours=1)
    group = [{"k": f"customer:{n}", "v": later.isoformat()} for n in range(1, 25)]
    group.append({"k": "customer:absent", "v": later.isoformat()})
    async with autocommit_pool.connection() as conn:
        # On a table of a few thousand rows in all, reading all of it is the cheaper plan.
        await unseen_by_statistics(conn, "connector_entity_state", INSERT, "unseen", **LARGER)
        params = (orjson.dumps(group).decode(), "unseen")
        read = await rows_read(conn, _ADVANCE_MANY, params, "connector_entity_state")
        cursor = await conn.execute(
            "SELECT count(*) FROM connector_entity_state WHERE connector = 'unseen'"
            " AND version = %s",
            (later,),
        )
        [(advanced,)] = await cursor.fetchall()
    assert read <= len(group)  # a probe per key; was 2,000: every row of the connector
    assert advanced == 24  # and the update did its job (the absent key changed nothing)


async def test_an_advance_that_waits_for_another_writer_applies_to_the_row_it_left(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    """A row another writer was changing is advanced at its newest version once that
    writer commits, and a version the other writer moved past is left alone (an update
    that took its rows by address, ctid, lost the first: the newest version was not in
    its snapshot)."""
    store = StateStore(autocommit_pool, "crm")
    await asyncio.gather(*(store.save(change(f"customer:{n}", T0, name="x")) for n in range(2)))
    later = [T0 + timedelta(seconds=s) for s in (1, 2, 3)]
    async with autocommit_pool.connection() as other, other.transaction():
        await other.execute(  # customer:0 moves to later[0], customer:1 past the advance
            "UPDATE connector_entity_state SET version = CASE entity_key"
            " WHEN 'customer:0' THEN %s::timestamptz ELSE %s::timestamptz END"
            " WHERE connector = 'crm'",
            (later[0], later[2]),
        )
        advancing = asyncio.gather(
            store.advance(change("customer:0", later[1], name="x")),
            store.advance(change("customer:1", later[1], name="x")),
        )
        await asyncio.sleep(0.5)
        assert not advancing.done()  # waiting for the other writer's row locks
    await asyncio.wait_for(advancing, 10)
    versions = {key: row[1] for key, row in (await rows(autocommit_pool)).items()}
    assert versions == {"customer:0": later[1], "customer:1": later[2]}


async def test_forgotten_entities_are_found_by_key_when_the_statistics_have_not_seen_the_connector(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    """A reconciliation's repair forgets entities by key, whatever the statistics say: the
    delete once tested the keys as a filter over every row of the connector."""
    keys = [f"customer:{n}" for n in range(1, 25)]
    async with autocommit_pool.connection() as conn:
        # On a table of a few thousand rows in all, reading all of it is the cheaper plan.
        await unseen_by_statistics(conn, "connector_entity_state", INSERT, "unseen", **LARGER)
        read = await rows_read(conn, _FORGET, ("unseen", keys), "connector_entity_state")
    assert read <= len(keys)  # was 2,000
    assert await forget_entities(autocommit_pool, "unseen", ["customer:25"]) == 1
    assert await forget_entities(autocommit_pool, "unseen", ["customer:25", "x"]) == 0
