"""Bulk replay jobs: progress, survival of an admin restart, at most once per dead letter,
cancellation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka import Producer

from admin.app import create_app
from hookline.dead_letter import SourceRecord, build_context, dead_letter_headers
from hookline.kafka_clients import ensure_topics, producer_config
from hookline.settings import Settings
from hookline.topics import Topics
from tests.conftest import ConsumeFn
from tests.integration.admin_fixtures import Admin, admin_api, admin_config, start_admin

__all__ = ["admin_api", "admin_config"]

JOBS = "/api/v1/dead-letters/replay-jobs"


def produce_dead_letters(settings: Settings, connector: str, count: int) -> None:
    topics = Topics(settings.kafka.topic_prefix)
    producer = Producer(producer_config(settings.kafka, "test"))
    for n in range(count):
        key = f"order:o-{n}".encode()
        value = b'{"id": "o-%d"}' % n
        record = SourceRecord(topics.events("order"), 0, n, key, value, [], None)
        context = build_context(
            record, stage="deliver", component=connector, error=ValueError("no"), http_status=422
        )
        producer.produce(
            topics.connector_dead_letter(connector),
            key=key,
            value=value,
            headers=[*dead_letter_headers(record, context)],
        )
    assert producer.flush(30) == 0


async def wait_for(admin: Admin, url: str, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = await admin.client.get(url, headers=admin.as_role("viewer"))
        body = await answer.json()
        if answer.status == 200 and done(body):
            return dict(body)
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never got there")


async def restart(admin: Admin) -> Admin:
    """A new admin process on the same database (the users and keys are there already)."""
    client = TestClient(TestServer(create_app(admin.settings, index_dead_letters=False)))
    await client.start_server()
    return Admin(client, admin.settings, admin.keys)


async def test_bulk_replay_survives_a_restart_and_replays_each_dead_letter_once(
    admin_config: Settings, topics: Topics, consume: ConsumeFn
) -> None:
    for name in ("crm", "erp"):
        ensure_topics(admin_config.kafka, topics.for_connector(name, 1))
    produce_dead_letters(admin_config, "crm", 200)
    produce_dead_letters(admin_config, "erp", 3)
    first = await start_admin(admin_config, index=True)
    try:
        await wait_for(first, "/api/v1/dead-letters?limit=1", lambda b: b["meta"]["total"] == 203)
        created = await first.client.post(
            JOBS, json={"connector": "crm", "chunk_size": 5}, headers=first.as_role("operator")
        )
        assert created.status == 201, await created.text()
        job = (await created.json())["data"]
        assert (job["state"], job["total"], job["done"]) == ("queued", 200, 0)
        url = f"{JOBS}/{job['id']}"
        await wait_for(first, url, lambda b: b["data"]["done"] >= 10)
    finally:
        await first.client.close()  # mid-job: the chunk in flight completes, the job is let go
    with psycopg.connect(admin_config.postgres.conninfo()) as conn:
        state, done, owner = conn.execute(
            "SELECT state, done, owner FROM replay_jobs WHERE id = %s", (job["id"],)
        ).fetchone() or ("", 0, "")
    assert (state, owner) == ("running", None)
    assert 10 <= done < 200
    second = await restart(first)
    try:
        finished = await wait_for(second, url, lambda b: b["data"]["state"] == "succeeded")
        progress = finished["data"]
        assert (progress["done"], progress["failed"], progress["skipped"]) == (200, 0, 0)
        assert progress["remaining"] == 0
        replayed = await second.client.get(
            "/api/v1/connectors/crm/dead-letters",
            params={"replayed": "false"},
            headers=second.as_role("viewer"),
        )
        assert (await replayed.json())["meta"]["total"] == 0
    finally:
        await second.client.close()
    records = consume(topics.connector_retry("crm"), 201, timeout=10)
    origins = [dict(r.headers() or [])["hookline-replayed-from"] for r in records]
    assert len(origins) == 200
    assert len(set(origins)) == 200
    assert consume(topics.connector_retry("erp"), 1, timeout=3) == []


def insert_unreplayable(admin: Admin, count: int) -> None:
    """Index rows of a topic outside this prefix: the worker counts them failed, fast."""
    with psycopg.connect(admin.settings.postgres.conninfo(), autocommit=True) as conn:
        conn.execute(
            'INSERT INTO dead_letters (topic, partition, "offset", payload, payload_bytes,'
            " connector) SELECT 'elsewhere.connector.crm.dlq', 0, g, '\\x7b7d'::bytea, 2,"
            " 'crm' FROM generate_series(1, %s) AS g",
            (count,),
        )


async def test_cancelled_job_stops_and_a_finished_one_cannot_be_cancelled(
    admin_api: Admin,
) -> None:
    insert_unreplayable(admin_api, 5000)
    operator = admin_api.as_role("operator")
    created = await admin_api.client.post(JOBS, json={"chunk_size": 1}, headers=operator)
    url = f"{JOBS}/{(await created.json())['data']['id']}"
    cancelled = await admin_api.client.post(f"{url}/cancel", headers=operator)
    assert cancelled.status == 200, await cancelled.text()
    assert (await cancelled.json())["data"]["state"] == "cancelled"
    await asyncio.sleep(2)  # a chunk in flight may still land; nothing after it
    settled = (await (await admin_api.client.get(url, headers=operator)).json())["data"]
    await asyncio.sleep(2)
    later = (await (await admin_api.client.get(url, headers=operator)).json())["data"]
    assert later == settled
    assert later["remaining"] > 0
    again = await admin_api.client.post(f"{url}/cancel", headers=operator)
    assert again.status == 409
    missing = await admin_api.client.post(f"{JOBS}/999999/cancel", headers=operator)
    assert missing.status == 404


async def test_job_counts_unreplayable_dead_letters_as_failed(admin_api: Admin) -> None:
    insert_unreplayable(admin_api, 7)
    created = await admin_api.client.post(
        JOBS, json={"connector": "crm"}, headers=admin_api.as_role("operator")
    )
    assert created.status == 201
    url = f"{JOBS}/{(await created.json())['data']['id']}"
    finished = await wait_for(admin_api, url, lambda b: b["data"]["state"] == "succeeded")
    assert (finished["data"]["total"], finished["data"]["failed"]) == (7, 7)
    refused = await admin_api.client.post(
        JOBS, json={"chunk_size": 0, "topic": "x' OR 1=1"}, headers=admin_api.as_role("operator")
    )
    assert refused.status == 422
    assert {e["field"] for e in (await refused.json())["errors"]} == {"chunk_size", "topic"}


async def test_replay_jobs_list_newest_first_by_state_in_cursor_pages(admin_api: Admin) -> None:
    insert_unreplayable(admin_api, 5000)  # the first job runs long: the next ones queue
    operator, viewer = admin_api.as_role("operator"), admin_api.as_role("viewer")
    made = []
    for _ in range(3):
        created = await admin_api.client.post(JOBS, json={"chunk_size": 1}, headers=operator)
        made.append((await created.json())["data"]["id"])
    cancelled = await admin_api.client.post(f"{JOBS}/{made[1]}/cancel", headers=operator)
    assert cancelled.status == 200
    first = await admin_api.client.get(JOBS, params={"limit": 2}, headers=viewer)
    assert first.status == 200, await first.text()
    body = await first.json()
    assert body["meta"]["total"] == 3
    rest = await admin_api.client.get(
        JOBS, params={"limit": 2, "cursor": body["meta"]["next_cursor"]}, headers=viewer
    )
    walked = [j["id"] for j in body["data"] + (await rest.json())["data"]]
    assert walked == made[::-1]
    by_state = await admin_api.client.get(JOBS, params={"state": "cancelled"}, headers=viewer)
    assert [j["id"] for j in (await by_state.json())["data"]] == [made[1]]
    hostile = await admin_api.client.get(JOBS, params={"state": "x' OR 1=1"}, headers=viewer)
    assert hostile.status == 422
