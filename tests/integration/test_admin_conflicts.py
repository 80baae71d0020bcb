"""GET /api/v1/conflicts[/{id}]: both versions and the policy's verdict, filtered and
paged like every list."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

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
