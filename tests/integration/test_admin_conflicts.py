"""GET /api/v1/conflicts[/{id}]: both versions and the policy's verdict, filtered and
paged like every list; POST …/resolve: a side or a merged version, to the destination."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

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
from tests.integration.admin_fixtures import Admin, admin_api, admin_config

__all__ = ["admin_api", "admin_config"]


def insert_conflict(admin: Admin, connector: str, status: str, event_id: str) -> None:
    current = {"source": "hubspot", "version": "2026-01-01T00:00:00+00:00", "state": {"n": 1}}
    incoming = {"source": "shopify", "version": "2026-01-01T00:00:01+00:00", "state": {"n": 2}}
    with psycopg.connect(admin.settings.postgres.conninfo(), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO conflicts (connector, entity_key, policy, current_state, incoming,"
            " event_id, status) VALUES (%s, 'customer:c-1', 'manual_review', %s, %s, %s, %s)",
            (connector, Jsonb(current), Jsonb(incoming), event_id, status),
        )


async def test_conflicts_list_filters_and_get_shows_both_versions(admin_api: Admin) -> None:
    insert_conflict(admin_api, "crm", "open", "e-1")
    insert_conflict(admin_api, "crm", "applied", "e-2")
    insert_conflict(admin_api, "shop", "open", "e-3")
    viewer = admin_api.as_role("viewer")
    answer = await admin_api.client.get(
        "/api/v1/conflicts", params={"connector": "crm", "verdict": "open"}, headers=viewer
    )
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    [held] = body["data"]
    assert body["meta"]["total"] == 1
    assert (held["verdict"], held["event_id"], held["policy"]) == ("open", "e-1", "manual_review")
    one = await admin_api.client.get(f"/api/v1/conflicts/{held['id']}", headers=viewer)
    detail = (await one.json())["data"]
    assert detail["current"]["state"] == {"n": 1}
    assert detail["incoming"]["state"] == {"n": 2}
    everything = await admin_api.client.get("/api/v1/conflicts", headers=viewer)
    assert [c["event_id"] for c in (await everything.json())["data"]] == ["e-3", "e-2", "e-1"]
    missing = await admin_api.client.get("/api/v1/conflicts/12345", headers=viewer)
    assert missing.status == 404
    hostile = await admin_api.client.get(
        "/api/v1/conflicts", params={"verdict": "open' OR '1'='1"}, headers=viewer
    )
    assert hostile.status == 422


async def test_resolving_a_held_conflict_with_a_merged_version_delivers_it_once(
    admin_api: Admin, connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    """manual_review holds the crm change; the operator merges both versions; exactly
    the merged version reaches the destination, once; the conflict cannot be resolved
    twice, and a viewer cannot resolve at all."""
    topics = Topics(connector_settings.kafka.topic_prefix)
    policy = ConflictConfig(policy="manual_review")
    config = connector_config("crm", fake_api.base_url, conflict=policy)
    held = customer_event("a", 2, source="crm", phone="crm", company="Crm Ltd")
    async with running_connector(connector_settings, config) as conn:
        shop = customer_event("a", 1, phone="shop", company="Shop Inc")
        produce(connector_settings, topics.events("customer"), [shop])
        await until(lambda: conn.count("applied") == 1, what="the first change applied")
        produce(connector_settings, topics.events("customer"), [held])
        await until(lambda: conn.count("conflict") == 1, what="the conflict held")
        listed = await admin_api.client.get(
            "/api/v1/conflicts", params={"verdict": "open"}, headers=admin_api.as_role("viewer")
        )
        [conflict] = (await listed.json())["data"]
        url = f"/api/v1/conflicts/{conflict['id']}/resolve"
        merged = held.data.model_dump(mode="json") | {"phone": "crm", "company": "Shop Inc"}
        viewer = await admin_api.client.post(
            url, json={"merged": merged}, headers=admin_api.as_role("viewer")
        )
        assert viewer.status == 403
        operator = admin_api.as_role("operator")
        resolved = await admin_api.client.post(url, json={"merged": merged}, headers=operator)
        assert resolved.status == 200, await resolved.text()
        data = (await resolved.json())["data"]
        assert (data["verdict"], data["resolution"]) == ("applied", "merged")
        assert str(data["resolved_by"]).endswith(":operator-key")
        await until(lambda: conn.count("applied") == 2, what="the merged version applied")
        again = await admin_api.client.post(url, json={"choose": "current"}, headers=operator)
        assert again.status == 409
        assert (await again.json())["errors"][0]["code"] == "conflict_resolved"
    written = fake_api.state["cust:a"]
    assert (written["phone"], written["company"]) == ("crm", "Shop Inc")
    assert fake_api.writes_by_entity["cust:a"] == 2  # the shop change, then the merged one


async def test_resolve_body_must_choose_a_side_or_merge_a_valid_entity(
    admin_api: Admin,
) -> None:
    insert_conflict(admin_api, "crm", "open", "e-1")
    operator = admin_api.as_role("operator")
    listed = await admin_api.client.get("/api/v1/conflicts", headers=operator)
    url = f"/api/v1/conflicts/{(await listed.json())['data'][0]['id']}/resolve"
    both = await admin_api.client.post(
        url, json={"choose": "current", "merged": {}}, headers=operator
    )
    assert both.status == 422
    neither = await admin_api.client.post(url, json={}, headers=operator)
    assert neither.status == 422
    side = await admin_api.client.post(url, json={"choose": "left"}, headers=operator)
    assert side.status == 422
    missing = await admin_api.client.post(
        "/api/v1/conflicts/999999/resolve", json={"choose": "current"}, headers=operator
    )
    assert missing.status == 404
