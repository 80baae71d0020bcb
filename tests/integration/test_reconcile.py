"""Sync verification on real Kafka and PostgreSQL: a customer delivered by the running
connectors to the warehouse and the HubSpot stand-in, drift injected into the stand-in,
detected by the reconciliation (a mismatch row, the gauge, a sync run) and repaired
through the CRM connector until the stand-in matches the warehouse again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import psycopg
from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from connectors.destinations.hubspot import HubSpotConfig, PrivateAppAuth
from connectors.destinations.warehouse import WarehouseConfig
from hookline.settings import Settings
from hookline.topics import Topics
from pollers.reconcile.compare import Mismatch
from pollers.reconcile.config import ReconcileConfig
from pollers.reconcile.store import MismatchStore
from pollers.reconcile.systems import Seen
from pollers.service import PollerService, open_service
from sandbox.hubspot import FakeHubSpot
from tests.fakes.connector_harness import (
    RunningConnector,
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)

EXTERNAL_ID = "hookline_external_id"
ALICE = "cust:alice"


def reconcile_config(hubspot: FakeHubSpot) -> ReconcileConfig:
    return ReconcileConfig.model_validate(
        {
            "systems": {
                "warehouse": {"type": "warehouse", "key": "id"},
                "crm": {
                    "type": "hubspot",
                    "base_url": hubspot.base_url,
                    "token": hubspot.private_token,
                    "key_property": EXTERNAL_ID,
                },
            },
            "pairs": {
                "crm": {
                    "left": "warehouse",
                    "right": "crm",
                    "truth": "warehouse",
                    "repair_connector": "crm",
                },
            },
        }
    )


@asynccontextmanager
async def delivering(
    settings: Settings, hubspot: FakeHubSpot
) -> AsyncIterator[tuple[RunningConnector, RunningConnector]]:
    """The CRM connector (contacts keyed by the canonical ID) and the warehouse's."""
    auth = PrivateAppAuth(token=SecretStr(hubspot.private_token))
    crm = HubSpotConfig(base_url=hubspot.base_url, auth=auth, contact_id_property=EXTERNAL_ID)
    async with AsyncExitStack() as stack:
        running = [
            await stack.enter_async_context(
                running_connector(
                    settings, connector_config(name, "http://unused", destination=destination)
                )
            )
            for name, destination in (("crm", crm), ("warehouse", WarehouseConfig()))
        ]
        yield running[0], running[1]


def contact_email(hubspot: FakeHubSpot) -> str | None:
    record = hubspot.store.find("contacts", ALICE, EXTERNAL_ID)
    return None if record is None else record.properties.get("email")


def rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(settings.postgres.conninfo()) as db:
        return db.execute(sql).fetchall()


async def reconcile(
    service: PollerService, repair: bool = False
) -> tuple[int, tuple[str, ...], int]:
    (result,) = await service.reconcile(repair)
    assert result.error is None
    kinds = tuple(f"{m.kind}:{','.join(m.fields)}" for m in result.mismatches)
    return result.compared, kinds, result.repaired


async def test_drift_in_the_crm_is_detected_and_repaired_from_the_warehouse(
    connector_settings: Settings,
) -> None:
    live = connector_settings
    hubspot = FakeHubSpot()
    await hubspot.start()
    registry = CollectorRegistry()
    gauge = {"reconciliation": "reconcile", "pair": "warehouse~crm", "family": "customer"}
    try:
        async with delivering(live, hubspot) as (crm, warehouse):
            event = customer_event("alice", 1, first_name="Alice", last_name="Liddell")
            produce(live, Topics(live.kafka.topic_prefix).events("customer"), [event])
            await until(lambda: crm.count("applied") == 1 and warehouse.count("applied") == 1)
            assert contact_email(hubspot) == "alice@example.com"
            record = hubspot.store.find("contacts", ALICE, EXTERNAL_ID)
            assert record is not None
            record.properties["email"] = "drifted@example.com"  # edited behind our back

            async with open_service(
                live, {}, reconcile=reconcile_config(hubspot), registry=registry
            ) as service:
                assert await reconcile(service) == (1, ("fields:email",), 0)
                open_rows = rows(
                    live,
                    "SELECT entity_key, kind, fields, status, "
                    "left_state->'fields'->>'email', right_state->'fields'->>'email'"
                    " FROM reconcile_mismatches",
                )
                assert open_rows == [
                    (ALICE, "fields", ["email"], "open", "alice@example.com", "drifted@example.com")
                ]
                sample = registry.get_sample_value
                assert sample("hookline_reconcile_mismatches", {**gauge, "kind": "fields"}) == 1

                assert (await reconcile(service, repair=True))[2] == 1
                await until(
                    lambda: contact_email(hubspot) == "alice@example.com", what="the CRM repaired"
                )
                assert await reconcile(service) == (1, (), 0)
                assert sample("hookline_reconcile_mismatches", {**gauge, "kind": "fields"}) == 0
            assert warehouse.count("dead_lettered") == 0
            assert crm.count("dead_lettered") == 0
    finally:
        await hubspot.close()
    assert rows(live, "SELECT status FROM reconcile_mismatches") == [("repaired",)]
    # the warehouse's version guard kept the row the original event wrote
    assert rows(live, "SELECT event_id FROM warehouse.customers") == [(event.id,)]
    runs = rows(
        live,
        "SELECT kind, connector, source, destination, records_seen, "
        "records_changed, records_emitted, outcome FROM sync_runs "
        "WHERE kind = 'reconcile' ORDER BY id",
    )
    assert runs == [
        ("reconcile", "reconcile", "warehouse", "crm", 1, 1, 0, "ok"),
        ("reconcile", "reconcile", "warehouse", "crm", 1, 1, 1, "ok"),
        ("reconcile", "reconcile", "warehouse", "crm", 1, 0, 0, "ok"),
    ]


async def test_two_scheduled_instances_run_one_reconciliation(
    connector_settings: Settings,
) -> None:
    live = connector_settings
    systems = {"a": {"type": "warehouse"}, "b": {"type": "warehouse", "key": "email"}}
    config = ReconcileConfig.model_validate(
        {"interval_seconds": 3600, "systems": systems, "pairs": {"p": {"left": "a", "right": "b"}}}
    )
    sql = "SELECT connector, outcome FROM sync_runs WHERE kind = 'reconcile'"
    stop = asyncio.Event()
    async with (
        open_service(live, {}, "one", reconcile=config) as one,
        open_service(live, {}, "two", reconcile=config) as two,
    ):
        loops = asyncio.gather(one.run_scheduled(stop), two.run_scheduled(stop))
        await until(lambda: bool(rows(live, sql)), what="a scheduled reconciliation")
        holders = rows(live, "SELECT holder FROM poll_leases WHERE name = 'reconcile:reconcile'")
        stop.set()
        await loops
    assert len(holders) == 1  # both loops started together; one holds the lease
    assert rows(live, sql) == [("reconcile", "ok")]


async def test_a_mismatch_whose_values_hold_nul_is_recorded(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    """The values come from the systems compared; PostgreSQL's JSONB refuses U+0000."""
    left = Seen("a@example.com", "crm-1", {"name": "A\x00B"})
    right = Seen("a@example.com", "wh-1", {"name": "AB"})
    mismatch = Mismatch("a@example.com", "fields", ("name",), left, right)
    await MismatchStore(autocommit_pool, "nul").record("crm-warehouse", "customer", [mismatch])
    async with autocommit_pool.connection() as conn:
        cursor = await conn.execute("SELECT left_state FROM reconcile_mismatches")
        [(stored,)] = await cursor.fetchall()
    assert stored["fields"]["name"] == "A\ufffdB"
