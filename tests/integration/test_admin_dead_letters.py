"""The admin API's dead letters: indexed from Kafka, paged without skips or repeats while
rows arrive, replayed to the failed connector only and marked."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import psycopg
from confluent_kafka import Producer

from hookline.dead_letter import SourceRecord, build_context, dead_letter_headers
from hookline.kafka_clients import ensure_topics, producer_config
from hookline.settings import Settings
from hookline.topics import Topics
from tests.conftest import ConsumeFn
from tests.integration.admin_fixtures import Admin, admin_api, admin_config, start_admin

__all__ = ["admin_api", "admin_config"]

_INSERT = (
    'INSERT INTO dead_letters (topic, partition, "offset", payload, payload_bytes, stage,'
    " component, exception_class, failed_at)"
    " SELECT %s, 0, g, '\\x7b7d'::bytea, 2, 'deliver', 'crm', 'PermanentError', now()"
    " FROM generate_series(%s::bigint, %s::bigint) AS g"
)


def insert_rows(admin: Admin, first: int, count: int, topic: str = "t.connector.crm.dlq") -> None:
    with psycopg.connect(admin.settings.postgres.conninfo(), autocommit=True) as conn:
        conn.execute(_INSERT, (topic, first, first + count - 1))


async def walk(
    admin: Admin, params: dict[str, str], cursor_key: str, start: str | None, between: Any = None
) -> tuple[list[str], list[dict[str, Any]]]:
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    cursor = start
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        answer = await admin.client.get(
            "/api/v1/dead-letters", params=query, headers=admin.as_role("viewer")
        )
        assert answer.status == 200, await answer.text()
        body = await answer.json()
        ids += [item["id"] for item in body["data"]]
        metas.append(body["meta"])
        cursor = body["meta"][cursor_key]
        if cursor is None:
            return ids, metas
        if between is not None:
            between()


async def test_pages_skip_and_repeat_nothing_while_rows_arrive(admin_api: Admin) -> None:
    insert_rows(admin_api, 0, 10_000)
    expected = [f"t.connector.crm.dlq:0:{o}" for o in range(9_999, -1, -1)]
    arriving = iter(range(10_000, 100_000, 15))
    params = {"limit": "263", "connector": "crm"}
    with psycopg.connect(admin_api.settings.postgres.conninfo(), autocommit=True) as conn:
        conn.execute("UPDATE dead_letters SET connector = 'crm'")

    def more() -> None:
        insert_rows(admin_api, next(arriving), 15, topic="t.connector.erp.dlq")
        insert_rows(admin_api, next(arriving), 15)  # same filter: lands before page one

    forward, metas = await walk(admin_api, params | {"connector": "crm"}, "next_cursor", None, more)
    assert forward == expected
    assert metas[0]["total"] == 10_000
    assert metas[0]["prev_cursor"] is None
    # and back from the last page: the same rows in reverse page order, nothing repeated
    backward, _ = await walk(admin_api, params, "prev_cursor", metas[-2]["next_cursor"], more)
    assert len(backward) == len(set(backward))
    assert set(backward) == set(expected)


async def test_cursor_of_other_filters_is_refused(admin_api: Admin) -> None:
    insert_rows(admin_api, 0, 5)
    headers = admin_api.as_role("viewer")
    first = await (
        await admin_api.client.get("/api/v1/dead-letters", params={"limit": "2"}, headers=headers)
    ).json()
    other = await admin_api.client.get(
        "/api/v1/dead-letters",
        params={"limit": "2", "stage": "decode", "cursor": first["meta"]["next_cursor"]},
        headers=headers,
    )
    assert other.status == 400
    assert (await other.json())["errors"][0]["code"] == "invalid_cursor"
    garbage = await admin_api.client.get(
        "/api/v1/dead-letters", params={"cursor": "';--"}, headers=headers
    )
    assert garbage.status == 400


def produce_dead_letter(
    settings: Settings,
    connector: str,
    key: bytes,
    value: bytes = b'{"id": "o-1"}',
    error: Exception | None = None,
) -> None:
    topics = Topics(settings.kafka.topic_prefix)
    record = SourceRecord(topics.events("order"), 0, 7, key, value, [("a", b"b")], None)
    error = error or ValueError("rejected")
    context = build_context(
        record, stage="deliver", component=connector, error=error, http_status=422
    )
    producer = Producer(producer_config(settings.kafka, "test"))
    producer.produce(
        topics.connector_dead_letter(connector),
        key=key,
        value=record.value,
        headers=[*dead_letter_headers(record, context)],
    )
    assert producer.flush(10) == 0


async def wait_indexed(admin: Admin, connector: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = await admin.client.get(
            f"/api/v1/connectors/{connector}/dead-letters", headers=admin.as_role("viewer")
        )
        items = (await answer.json())["data"]
        if items:
            return dict(items[0])
        await asyncio.sleep(0.5)
    raise AssertionError(f"no dead letter of {connector} indexed")


async def test_replay_reaches_that_connectors_retry_topic_only_and_marks_the_row(
    admin_config: Settings, topics: Topics, consume: ConsumeFn
) -> None:
    for name in ("crm", "erp"):
        ensure_topics(admin_config.kafka, topics.for_connector(name, 1))
    produce_dead_letter(admin_config, "crm", b"order:o-1")
    produce_dead_letter(admin_config, "erp", b"order:o-2")
    admin = await start_admin(admin_config, index=True)
    try:
        item = await wait_indexed(admin, "crm")
        await wait_indexed(admin, "erp")
        assert item["stage"] == "deliver"
        assert item["state"] == "open"
        detail = await (
            await admin.client.get(
                f"/api/v1/dead-letters/{item['id']}", headers=admin.as_role("viewer")
            )
        ).json()
        assert detail["data"]["payload"] == '{"id": "o-1"}'
        assert detail["data"]["http_status"] == 422
        url = f"/api/v1/dead-letters/{item['id']}/replay"
        replayed = await admin.client.post(url, headers=admin.as_role("operator"))
        assert replayed.status == 200, await replayed.text()
        assert (await replayed.json())["data"]["target_topic"] == topics.connector_retry("crm")
        again = await admin.client.post(url, headers=admin.as_role("operator"))
        assert again.status == 409
        after = await (
            await admin.client.get(
                f"/api/v1/dead-letters/{item['id']}", headers=admin.as_role("viewer")
            )
        ).json()
        assert after["data"]["state"] == "replayed"
    finally:
        await admin.client.close()
    [record] = consume(topics.connector_retry("crm"), 1)
    assert record.key() == b"order:o-1"
    origin = dict(record.headers() or [])["hookline-replayed-from"]
    assert isinstance(origin, bytes)
    assert origin.startswith(topics.connector_dead_letter("crm").encode())
    assert consume(topics.connector_retry("erp"), 1, timeout=3) == []
    assert consume(topics.raw_webhooks, 1, timeout=3) == []


async def test_a_dead_letter_whose_text_holds_nul_is_indexed(admin_config: Settings) -> None:
    """Its event ids and error message hold U+0000, which PostgreSQL's text refuses: before,
    the indexer's insert failed and it restarted on the same record forever, and no later
    dead letter was indexed either."""
    topics = Topics(admin_config.kafka.topic_prefix)
    ensure_topics(admin_config.kafka, topics.for_connector("crm", 1))
    value = orjson.dumps({"id": "o-\x001", "providereventid": "p\x00"})
    produce_dead_letter(admin_config, "crm", b"order:o-1", value, ValueError("bad \x00 input"))
    admin = await start_admin(admin_config, index=True)
    try:
        item = await wait_indexed(admin, "crm")
        assert item["stage"] == "deliver"
    finally:
        await admin.client.close()


async def test_discard_needs_a_reason_and_closes_the_dead_letter(admin_api: Admin) -> None:
    insert_rows(admin_api, 0, 1)
    url = "/api/v1/dead-letters/t.connector.crm.dlq:0:0"
    headers = admin_api.as_role("operator")
    assert (await admin_api.client.post(url + "/discard", json={}, headers=headers)).status == 422
    done = await admin_api.client.post(
        url + "/discard", json={"reason": "test data"}, headers=headers
    )
    assert done.status == 200
    assert (await done.json())["data"]["state"] == "discarded"
    assert (await admin_api.client.post(url + "/replay", headers=headers)).status == 409
    missing = await admin_api.client.get(url.replace(":0:0", ":0:99"), headers=headers)
    assert missing.status == 404
