"""The daily digest: its numbers equal the sync log's, the dead-letter index's and the
call metrics' for the same UTC day, and several instances send each day's digest once."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool
from structlog.testing import capture_logs

from connectors.call_log import CallTally
from connectors.errors import DeliveryError
from connectors.http import HttpClient
from connectors.metrics import ConnectorMetrics
from connectors.state import BatchRun, StateStore
from hookline.alerts import Alert
from hookline.db import create_pool
from hookline.digest import DigestSender, compute, render, window
from hookline.metrics import new_registry
from hookline.settings import PostgresSettings
from sandbox.destination_api import TOKEN, FakeDestinationApi, Reply
from tests.fakes.connector_harness import until
from tests.tcp_proxy import tcp_proxy

DAY = date(2026, 3, 10)
NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)
BEFORE = NOON - timedelta(days=1)  # the day before: outside the window


class Recording:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.sent.append(alert)


async def call_api(api: FakeDestinationApi, pool: AsyncConnectionPool) -> CollectorRegistry:
    """Six calls on DAY (three refused: 503, 503, 400) and two the day before."""
    now = [BEFORE]
    tally = CallTally(pool, "crm", clock=lambda: now[0])
    http = HttpClient("crm", ConnectorMetrics(new_registry()), timeout_seconds=5,
                      on_call=tally.record)  # fmt: skip
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        for n in range(2):
            await http.request("PUT", f"{api.base_url}/customer/old-{n}", json={}, headers=headers)
        await tally.flush()
        await http.close()
        registry = new_registry()  # the day's metrics only
        http = HttpClient("crm", ConnectorMetrics(registry), timeout_seconds=5,
                          on_call=tally.record)  # fmt: skip
        now[0] = NOON
        api.script_calls(Reply(503), Reply(503), Reply(400))
        for n in range(6):
            with suppress(DeliveryError):  # the refused ones: counted as failed calls
                await http.request("PUT", f"{api.base_url}/customer/{n}", json={}, headers=headers)
    finally:
        await http.close()
        await tally.close()
    return registry


async def seed_sync_log(pool: AsyncConnectionPool) -> None:
    store = StateStore(pool, "crm")
    for started, outcome, counts in (
        (NOON, "ok", {"applied": 5}),
        (NOON + timedelta(hours=1), "partial", {"applied": 3, "dead_lettered": 2}),
        (NOON + timedelta(hours=2), "failed", {"retried": 4}),
        (BEFORE, "partial", {"dead_lettered": 7}),
    ):
        run = BatchRun(("shopify",), "http_upsert", started, started, sum(counts.values()),
                       outcome, counts, ("p.events.customer",))  # fmt: skip
        await store.record_batch(run)
    polls = [("ok", NOON), ("failed", NOON), ("failed", NOON), ("failed", BEFORE)]
    reconciles = [("failed", NOON), ("ok", NOON + timedelta(hours=3))]
    async with pool.connection() as conn:
        for kind, rows in (("poll", polls), ("reconcile", reconciles)):
            for outcome, started in rows:
                await conn.execute(
                    "INSERT INTO sync_runs (kind, connector, source, destination, started_at,"
                    " finished_at, record_count, outcome) VALUES (%s, 'p', %s, 't', %s, %s, 0, %s)",
                    (kind, "stripe" if kind == "poll" else None, started, started, outcome),
                )


async def seed_failures(pool: AsyncConnectionPool) -> None:
    letters = [("shopify", NOON)] * 3 + [("stripe", NOON), ("github", BEFORE)]
    async with pool.connection() as conn:
        for offset, (source, failed_at) in enumerate(letters):
            await conn.execute(
                'INSERT INTO dead_letters (topic, partition, "offset", payload, payload_bytes,'
                " source, failed_at) VALUES ('p.raw.webhooks.dlq', 0, %s, '', 0, %s, %s)",
                (offset, source, failed_at),
            )
        for key, detected, status in (("a", NOON, "open"), ("b", NOON, "resolved"),
                                      ("c", BEFORE, "open")):  # fmt: skip
            await conn.execute(
                "INSERT INTO reconcile_mismatches (reconciliation, pair, family, entity_key,"
                " kind, status, detected_at) VALUES ('r', 'a~b', 'customer', %s, 'fields', %s, %s)",
                (key, status, detected),
            )


async def scalar(pool: AsyncConnectionPool, query: str) -> Any:
    async with pool.connection() as conn:
        row = await (await conn.execute(query, window(DAY))).fetchone()
    assert row is not None
    return row[0]


def metric_calls(registry: CollectorRegistry, *categories: str) -> float:
    """Calls counted by ``hookline_connector_call_duration_seconds`` in these categories."""
    name = "hookline_connector_call_duration_seconds_count"
    labels = ({"connector": "crm", "category": c} for c in categories)
    return sum(registry.get_sample_value(name, each) or 0.0 for each in labels)


async def test_digest_numbers_equal_the_sync_log_and_the_metrics(
    autocommit_pool: AsyncConnectionPool, fake_api: FakeDestinationApi
) -> None:
    pool = autocommit_pool
    registry = await call_api(fake_api, pool)
    await seed_sync_log(pool)
    await seed_failures(pool)

    digest = await compute(pool, DAY)

    (crm,) = digest.connectors
    assert crm.calls == metric_calls(registry, "success", "retriable", "permanent") == 6
    assert crm.call_errors == metric_calls(registry, "retriable", "permanent") == 3
    in_day = "started_at >= %(start)s AND started_at < %(end)s"
    batches = f"FROM sync_runs WHERE kind = 'connector' AND connector = 'crm' AND {in_day}"
    assert crm.batches == await scalar(pool, f"SELECT count(*) {batches}") == 3
    failed = f"SELECT count(*) {batches} AND outcome = 'failed'"
    assert crm.failed_batches == await scalar(pool, failed) == 1
    dead = f"SELECT sum((detail->'counts'->>'dead_lettered')::int) {batches}"
    assert crm.dead_letters == await scalar(pool, dead) == 2
    assert digest.runs == {"poll": (3, 2), "reconcile": (2, 1)}
    assert (digest.mismatches_found, digest.mismatches_open) == (2, 2)
    assert digest.failing_sources == (("shopify", 3), ("stripe", 3))
    text = render(digest)
    assert "connector crm: 6 API calls, 3 failed (50.0%)" in text
    assert "top failing sources: shopify 3, stripe 3" in text


async def test_two_instances_send_each_days_digest_once(
    autocommit_pool: AsyncConnectionPool,
) -> None:
    now = [datetime(2026, 3, 11, 8, tzinfo=UTC)]  # after 07:00 on the day after DAY
    sinks = [Recording(), Recording()]
    senders = [
        DigestSender(autocommit_pool, sink, time(7, tzinfo=UTC), f"i{n}", lambda: now[0])
        for n, sink in enumerate(sinks)
    ]
    for _ in range(2):
        await asyncio.gather(*(s.send_due() for s in senders))
    now[0] += timedelta(days=1)
    for _ in range(2):
        await asyncio.gather(*(s.send_due() for s in senders))

    sent = [alert for sink in sinks for alert in sink.sent]
    assert sorted(a.summary for a in sent) == [
        "Daily digest for 2026-03-10 (UTC)",
        "Daily digest for 2026-03-11 (UTC)",
    ]
    assert {a.kind for a in sent} == {"daily_digest"}


async def test_a_database_outage_is_one_warning_per_check_and_the_digest_goes_out_after(
    fresh_database: PostgresSettings,
) -> None:
    async with tcp_proxy(fresh_database.host, fresh_database.port) as proxy:
        through = fresh_database.model_copy(update={"port": proxy.port, "pool_timeout_seconds": 1})
        pool = create_pool(through, autocommit=True)
        await pool.open(wait=True)
        sink, stop = Recording(), asyncio.Event()
        now = datetime(2026, 3, 11, 8, tzinfo=UTC)  # the digest of March 10 is due
        sender = DigestSender(pool, sink, time(7, tzinfo=UTC), "i0", lambda: now)
        try:
            await proxy.cut()
            with capture_logs() as logs:
                task = asyncio.create_task(sender.run(stop, check_every_seconds=0.2))
                await until(
                    lambda: len([x for x in logs if x["event"] == "digest check failed"]) >= 2,
                    what="two failed checks",
                )
                await proxy.restore()
                await until(lambda: bool(sink.sent), what="the digest sent")
            stop.set()
            await task
        finally:
            await pool.close()
    failed = [x for x in logs if x["event"] == "digest check failed"]
    assert {x["log_level"] for x in failed} == {"warning"}
    assert {x["dependency"] for x in failed} == {"postgresql"}
    assert all("exc_info" not in x for x in failed)  # an outage: no traceback
    assert len(sink.sent) == 1
