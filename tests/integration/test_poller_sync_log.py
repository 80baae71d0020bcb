"""The pollers' sync log on real PostgreSQL and Kafka: a row per poll and per backfill
page, failed runs with their error, an alert at three failures in a row, and metrics."""

from __future__ import annotations

import psycopg
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from hookline.alerts import Alert
from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from pollers.base import PollError
from pollers.config import PollerConfig
from pollers.service import open_service
from tests.fakes.poll_sources import poll_source


class RecordingSink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def runs(database: PostgresSettings) -> list[tuple[object, ...]]:
    sql = """SELECT kind, connector, source, destination, records_seen, records_changed,
                    records_emitted, outcome, error, finished_at >= started_at
             FROM sync_runs WHERE kind <> 'connector' ORDER BY id"""
    with psycopg.connect(database.conninfo()) as db:
        return db.execute(sql).fetchall()


async def test_polls_and_backfill_pages_write_sync_runs_and_metrics(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    live = settings.model_copy(update={"postgres": fresh_database})
    registry = CollectorRegistry()
    async with poll_source("shopify") as source:
        source.seed(5)
        config = PollerConfig(name="orders", source="shop", page_size=2, api=source.config)
        async with open_service(live, {"orders": config}, "a", registry=registry) as service:
            assert await service.store.take_lease("orders", 30)
            await service.poll_once("orders")
            await service.poll_once("orders")
            source.seed(1)
            await service.backfill("orders", None)
    rows = runs(fresh_database)
    raw = topics.raw_webhooks
    # seen: records read, re-reads of records sharing the newest time included
    assert [(*r[:4], *r[5:]) for r in rows[:2]] == [
        ("poll", "orders", "shop", raw, 5, 5, "ok", None, True),
        ("poll", "orders", "shop", raw, 0, 0, "ok", None, True),  # re-read, unchanged
    ]
    seen = [int(str(r[4])) for r in rows]
    assert seen[0] >= 5
    assert seen[1] >= 1
    pages = rows[2:]
    assert len(pages) >= 3
    assert {r[0] for r in pages} == {"backfill"}
    assert sum(int(str(r[6])) for r in pages) == 1  # only the new order is emitted
    sample = registry.get_sample_value
    labels = {"poller": "orders", "kind": "poll"}
    assert sample("hookline_poller_runs_total", {**labels, "status": "ok"}) == 2
    assert sample("hookline_poller_records_total", {**labels, "stage": "seen"}) == sum(seen[:2])
    assert sample("hookline_poller_records_total", {**labels, "stage": "emitted"}) == 5
    lag = sample("hookline_poller_cursor_lag_seconds", {"poller": "orders"})
    assert lag is not None
    assert lag >= 0


async def test_three_failed_polls_in_a_row_raise_one_alert(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    live = settings.model_copy(update={"postgres": fresh_database})
    sink = RecordingSink()
    registry = CollectorRegistry()
    async with poll_source("shopify") as source:
        refused = source.config.model_copy(update={"token": SecretStr("wrong-token")})
        config = PollerConfig(name="orders", source="shop", api=refused)
        async with open_service(
            live, {"orders": config}, "a", sink=sink, registry=registry
        ) as service:
            assert await service.store.take_lease("orders", 30)
            for attempt in range(4):
                try:
                    await service.poll_once("orders")
                except PollError:
                    pass
                else:
                    raise AssertionError(f"poll {attempt} should have failed")
                assert len(sink.alerts) == (1 if attempt >= 2 else 0)
    rows = runs(fresh_database)
    assert [r[7] for r in rows] == ["failed"] * 4
    assert all(str(r[8]).startswith("PollError: ") for r in rows)
    assert "wrong-token" not in str(rows)
    alert = sink.alerts[0]
    assert (alert.connector, alert.kind, alert.details["kind"]) == (
        "orders",
        "runs_failing",
        "poll",
    )
    failed = {"poller": "orders", "kind": "poll", "status": "failed"}
    assert registry.get_sample_value("hookline_poller_runs_total", failed) == 4
