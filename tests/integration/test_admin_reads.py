"""The admin API's sync log and sources, and the per-client request rate (429)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from hookline.settings import Settings
from tests.integration.admin_fixtures import Admin, admin_api, admin_config, start_admin

__all__ = ["admin_api", "admin_config"]

T0 = datetime(2026, 3, 1, tzinfo=UTC)
RUNS = [  # connector, sources, destination, outcome, minutes after T0
    ("crm", "shop", "http_upsert", "ok", 0),
    ("crm", "shop,stripe", "http_upsert", "failed", 1),
    ("erp", "stripe", "warehouse", "ok", 2),
    ("erp", None, "warehouse", "partial", 3),
    ("crm", "shopify", "http_upsert", "ok", 4),
]


def insert_runs(admin: Admin) -> None:
    with psycopg.connect(admin.settings.postgres.conninfo(), autocommit=True) as conn:
        for connector, source, destination, outcome, minutes in RUNS:
            start = T0 + timedelta(minutes=minutes)
            conn.execute(
                "INSERT INTO sync_runs (connector, source, destination, started_at, finished_at,"
                " record_count, outcome) VALUES (%s, %s, %s, %s, %s, 3, %s)",
                (connector, source, destination, start, start + timedelta(seconds=2), outcome),
            )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [4, 3, 2, 1, 0]),
        ({"connector": "crm"}, [4, 1, 0]),
        ({"source": "stripe"}, [2, 1]),
        ({"source": "shop"}, [1, 0]),  # not "shopify": whole names only
        ({"destination": "warehouse"}, [3, 2]),
        ({"status": "ok"}, [4, 2, 0]),
        ({"started_after": (T0 + timedelta(minutes=2)).isoformat()}, [4, 3, 2]),
        ({"started_before": (T0 + timedelta(minutes=2)).isoformat()}, [1, 0]),
        ({"connector": "crm", "status": "failed"}, [1]),
    ],
)
async def test_sync_runs_are_filtered_newest_first(
    admin_api: Admin, params: dict[str, str], expected: list[int]
) -> None:
    insert_runs(admin_api)
    answer = await admin_api.client.get(
        "/api/v1/sync-runs", params=params, headers=admin_api.as_role("viewer")
    )
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    minutes = [
        int((datetime.fromisoformat(r["started_at"]) - T0).total_seconds() // 60)
        for r in body["data"]
    ]
    assert minutes == expected
    assert body["meta"]["total"] == len(expected)
    assert all(r["duration_seconds"] == 2 for r in body["data"])


async def test_sync_runs_page_both_ways(admin_api: Admin) -> None:
    insert_runs(admin_api)
    headers = admin_api.as_role("viewer")
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        body = await (
            await admin_api.client.get("/api/v1/sync-runs", params=params, headers=headers)
        ).json()
        seen += [r["id"] for r in body["data"]]
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(RUNS)
    hostile = await admin_api.client.get(
        "/api/v1/sync-runs", params={"source": "x' OR 1=1 --"}, headers=headers
    )
    assert hostile.status == 422


async def test_sources_come_from_the_sources_file(admin_config: Settings, tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[sources.stripe]\nprovider = "stripe"\nsecrets = ["secret:a", "secret:b"]\n'
        "max_body_bytes = 262144\n"
        '[sources.gh]\nprovider = "github"\nsecrets = ["secret:c"]\n'
    )
    ingress = admin_config.ingress.model_copy(update={"sources_file": sources})
    admin = await start_admin(admin_config.model_copy(update={"ingress": ingress}))
    try:
        answer = await admin.client.get("/api/v1/sources", headers=admin.as_role("viewer"))
        body = await answer.json()
    finally:
        await admin.client.close()
    none = {"requests": None}  # no ingress metrics URL configured: no request counts
    assert body["data"] == [
        {"name": "gh", "provider": "github", "max_body_bytes": None, "secrets": 1, **none},
        {"name": "stripe", "provider": "stripe", "max_body_bytes": 262144, "secrets": 2, **none},
    ]
    assert "secret:a" not in str(body)


async def test_client_over_its_rate_gets_429_with_retry_after(admin_config: Settings) -> None:
    section = admin_config.admin.model_copy(update={"rate_per_second": 0.01, "rate_burst": 3})
    admin = await start_admin(admin_config.model_copy(update={"admin": section}))
    try:
        viewer = admin.as_role("viewer")
        statuses = [
            (await admin.client.get("/api/v1/sync-runs", headers=viewer)).status for _ in range(3)
        ]
        assert statuses == [200, 200, 200]
        over = await admin.client.get("/api/v1/sync-runs", headers=viewer)
        assert over.status == 429
        assert int(over.headers["Retry-After"]) >= 1
        assert (await over.json())["errors"][0]["code"] == "rate_limited"
        # another client has its own budget
        other = await admin.client.get("/api/v1/sync-runs", headers=admin.as_role("operator"))
        assert other.status == 200
    finally:
        await admin.client.close()
