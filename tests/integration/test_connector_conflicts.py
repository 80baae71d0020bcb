"""Conflict policies: two sources change one entity; what reaches the destination."""

from __future__ import annotations

import psycopg

from connectors.config import ConflictConfig
from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi
from tests.fakes.connector_harness import (
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)

ENTITY = "cust:a"


def conflicts_total(conn: object, policy: str, resolution: str) -> float:
    labels = {"connector": "crm", "policy": policy, "resolution": resolution}
    registry = conn.registry  # type: ignore[attr-defined]
    return registry.get_sample_value("hookline_connector_conflicts_total", labels) or 0.0


async def test_last_write_wins_applies_the_newer_change_and_logs_the_conflict(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    config = connector_config("crm", fake_api.base_url)
    shop, crm = (
        customer_event("a", 1, phone="shop"),
        customer_event("a", 2, source="crm", phone="crm"),
    )
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), [shop, crm])
        await until(lambda: conn.count("applied") == 2, what="both applied")
        assert conflicts_total(conn, "last_write_wins", "applied") == 1
    assert fake_api.state[ENTITY]["phone"] == "crm"


async def test_source_priority_keeps_the_higher_source(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    policy = ConflictConfig(policy="source_priority", source_priority=("shop", "crm"))
    config = connector_config("crm", fake_api.base_url, conflict=policy)
    events = [
        customer_event("a", 1, phone="shop-1"),
        customer_event("a", 2, source="crm", phone="crm"),  # lower priority: rejected
        customer_event("a", 3, phone="shop-2"),  # higher priority: applied
    ]
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), events)
        await until(lambda: conn.count("applied") == 2, what="the shop changes applied")
        assert conn.count("conflict") == 1
        assert conflicts_total(conn, "source_priority", "rejected") == 1
    assert fake_api.state[ENTITY]["phone"] == "shop-2"
    assert fake_api.writes_by_entity[ENTITY] == 2


async def test_manual_review_holds_the_conflict_with_both_versions(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    config = connector_config(
        "crm", fake_api.base_url, conflict=ConflictConfig(policy="manual_review")
    )
    crm = customer_event("a", 2, source="crm", phone="crm")
    async with running_connector(connector_settings, config) as conn:
        produce(
            connector_settings, topics.events("customer"), [customer_event("a", 1, phone="shop")]
        )
        await until(lambda: conn.count("applied") == 1, what="the first change applied")
        produce(connector_settings, topics.events("customer"), [crm, crm])  # and a re-delivery
        await until(lambda: conn.count("conflict") == 2, what="the conflict held")
    assert fake_api.state[ENTITY]["phone"] == "shop"
    with psycopg.connect(connector_settings.postgres.conninfo()) as db:
        rows = db.execute(
            "SELECT entity_key, policy, status, current_state, incoming, event_id FROM conflicts"
        ).fetchall()
    [(entity, policy, status, current, incoming, event_id)] = rows
    assert (entity, policy, status, event_id) == (
        "customer:cust:a",
        "manual_review",
        "open",
        crm.id,
    )
    assert (current["source"], current["state"]["phone"]) == ("shop", "shop")
    assert (incoming["source"], incoming["state"]["phone"]) == ("crm", "crm")
