"""The connector runtime against real Kafka and PostgreSQL and a local fake API: retries,
Retry-After, dead letters, change detection, staleness, no stalled partitions."""

from __future__ import annotations

import time

import orjson
import psycopg
from confluent_kafka import Message

from connectors.config import BreakerConfig, RateLimitConfig, RetryConfig
from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi, Reply
from schemas.dead_letter import DeadLetterContext, original_headers
from tests.conftest import ConsumeFn
from tests.fakes.connector_harness import (
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)

ENTITY = "cust:a"


def headers_of(msg: Message) -> list[tuple[str, bytes | None]]:
    headers = msg.headers() or []
    assert isinstance(headers, list)
    return [(name, value if isinstance(value, bytes) else None) for name, value in headers]


async def test_503_then_success_is_retried_and_applied_once(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    fake_api.script_entity(ENTITY, Reply(503))
    config = connector_config("crm", fake_api.base_url)
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), [customer_event("a", 1)])
        await until(lambda: conn.count("applied") == 1, what="the retried change applied")
        assert conn.count("retried") == 1
    assert [c.status for c in fake_api.calls_for(ENTITY)] == [503, 200]
    assert fake_api.total_effective_writes == 1
    assert fake_api.state[ENTITY]["email"] == "a@example.com"
    with psycopg.connect(connector_settings.postgres.conninfo()) as db:
        runs = db.execute("SELECT record_count, outcome, detail FROM sync_runs").fetchall()
    assert sum(r[0] for r in runs) == 2  # the source record, then the retry record
    assert {r[1] for r in runs} == {"failed", "ok"}
    assert {k for r in runs for k in r[2]["counts"]} == {"retried", "applied"}


async def test_429_retry_after_is_honoured(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    fake_api.script_entity(ENTITY, Reply(429, retry_after=1.5))
    limit = RateLimitConfig(requests_per_second=50, burst=5)
    config = connector_config("crm", fake_api.base_url, rate_limit=limit)
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), [customer_event("a", 1)])
        await until(lambda: conn.count("applied") == 1, what="the throttled change applied")
    first, second = fake_api.calls_for(ENTITY)
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.5  # the backoff alone would have been 0.2 s
    assert fake_api.total_effective_writes == 1


async def test_400_dead_letters_at_once_with_context(
    connector_settings: Settings, fake_api: FakeDestinationApi, consume: ConsumeFn
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    fake_api.script_entity(ENTITY, Reply(400, body={"error": "invalid email", "field": "email"}))
    event = customer_event("a", 1)
    config = connector_config("crm", fake_api.base_url)
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), [event])
        await until(lambda: conn.count("dead_lettered") == 1, what="the dead letter")
        assert conn.sink.kinds() == ["dead_letter"]
    [dead] = consume(topics.connector_dead_letter("crm"), 1)
    assert len(fake_api.calls_for(ENTITY)) == 1  # never retried
    assert dead.key() == event.subject.encode()
    assert orjson.loads(dead.value() or b"") == orjson.loads(event.model_dump_json())
    assert original_headers(headers_of(dead)) == [("test-header", b"kept")]
    context = DeadLetterContext.from_headers(headers_of(dead))
    assert context.topic == topics.events("customer")
    assert (context.stage, context.component, context.attempts) == ("deliver", "crm", 1)
    assert (context.exception_class, context.http_status) == ("PermanentError", 400)
    assert "invalid email" in (context.http_body or "")


async def test_last_attempt_dead_letters_with_the_original_position(
    connector_settings: Settings, fake_api: FakeDestinationApi, consume: ConsumeFn
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    fake_api.script_entity(ENTITY, *[Reply(503)] * 3)
    config = connector_config(
        "crm",
        fake_api.base_url,
        retry=RetryConfig(delays_seconds=(0.1,), max_attempts=3, jitter=0),
        breaker=BreakerConfig(failure_threshold=100),
    )
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), [customer_event("a", 1)])
        await until(lambda: conn.count("dead_lettered") == 1, what="the dead letter")
        assert conn.count("retried") == 2
    [dead] = consume(topics.connector_dead_letter("crm"), 1)
    context = DeadLetterContext.from_headers(headers_of(dead))
    assert (context.topic, context.offset, context.attempts) == (topics.events("customer"), 0, 3)
    assert context.http_status == 503
    assert original_headers(headers_of(dead)) == [("test-header", b"kept")]
    assert fake_api.total_effective_writes == 0


async def test_unchanged_state_is_skipped(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    config = connector_config("crm", fake_api.base_url)
    same = [customer_event("a", 1), customer_event("a", 2), customer_event("a", 3)]
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), same)
        await until(lambda: conn.count("skipped_unchanged") == 2, what="two skipped repeats")
        produce(connector_settings, topics.events("customer"), [customer_event("a", 4, phone="1")])
        await until(lambda: conn.count("applied") == 2, what="the real change applied")
    assert fake_api.writes_by_entity[ENTITY] == 2
    assert fake_api.state[ENTITY]["phone"] == "1"


async def test_stale_change_is_skipped(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    config = connector_config("crm", fake_api.base_url)
    newer, older = customer_event("a", 10, phone="new"), customer_event("a", 5, phone="old")
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), [newer, older])
        await until(lambda: conn.count("skipped_stale") == 1, what="the stale change skipped")
        assert conn.count("applied") == 1
    assert fake_api.state[ENTITY]["phone"] == "new"
    assert fake_api.regressions == 0


async def test_entity_in_retry_does_not_stall_others_on_its_partition(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    fake_api.script_entity("cust:slow", *[Reply(503)] * 3)
    config = connector_config(
        "crm", fake_api.base_url, retry=RetryConfig(delays_seconds=(1.5,), jitter=0)
    )
    others = [customer_event(f"o{i}", 1) for i in range(20)]
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), [customer_event("slow", 1)], 0)
        await until(lambda: conn.count("retried") == 1, what="the slow entity in retry")
        started = time.monotonic()
        produce(connector_settings, topics.events("customer"), others, partition=0)
        await until(lambda: conn.count("applied") == 20, what="the other entities")
        assert time.monotonic() - started < 3.0  # bound: well under the slow one's retries
        assert "cust:slow" not in fake_api.state
        await until(lambda: "cust:slow" in fake_api.state, what="the slow entity at last")
    assert [c.status for c in fake_api.calls_for("cust:slow")] == [503, 503, 503, 200]


async def test_a_change_older_than_an_unchanged_repeat_is_stale(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    config = connector_config("crm", fake_api.base_url)
    events = [
        customer_event("a", 1, phone="A"),
        customer_event("a", 3, phone="A"),  # unchanged, but its version is remembered
        customer_event("a", 2, phone="B"),  # newer than the applied one, older than that
    ]
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), events)
        await until(lambda: conn.count("skipped_stale") == 1, what="the late change skipped")
        assert conn.count("skipped_unchanged") == 1
    assert fake_api.state[ENTITY]["phone"] == "A"
    assert fake_api.writes_by_entity[ENTITY] == 1


async def test_three_failed_batches_in_a_row_raise_an_alert(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    fake_api.script_calls(*[Reply(503)] * 3)
    config = connector_config(
        "crm",
        fake_api.base_url,
        retry=RetryConfig(max_attempts=1),
        breaker=BreakerConfig(failure_threshold=100),
    )
    async with running_connector(connector_settings, config) as conn:
        for n in range(3):
            produce(connector_settings, topics.events("customer"), [customer_event(f"{n}", 1)])
            await until(lambda n=n: conn.count("dead_lettered") == n + 1, what="a dead letter")
        await until(lambda: "batches_failing" in conn.sink.kinds(), what="the alert")
    assert conn.sink.kinds().count("dead_letter") == 3
    with psycopg.connect(connector_settings.postgres.conninfo()) as db:
        outcomes = [r[0] for r in db.execute("SELECT outcome FROM sync_runs ORDER BY id")]
    assert outcomes == ["failed"] * 3


async def test_consumer_lag_is_exported(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    limit = RateLimitConfig(requests_per_second=20, burst=1)
    config = connector_config(
        "crm", fake_api.base_url, rate_limit=limit, batch_size=5, lag_interval_seconds=0.1
    )
    lags: list[float] = []
    labels = {"connector": "crm", "topic": topics.events("customer")}
    async with running_connector(connector_settings, config) as conn:
        events = [customer_event(f"e{i}", 1) for i in range(30)]
        produce(connector_settings, topics.events("customer"), events, partition=0)

        def drained() -> bool:
            lag = conn.registry.get_sample_value("hookline_connector_consumer_lag_records", labels)
            lags.append(lag or 0)
            return conn.count("applied") == 30 and lag == 0

        await until(drained, what="the lag back to zero")
    assert max(lags) >= 10


async def test_a_partial_snapshot_patches_only_the_fields_it_carries(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    config = connector_config("crm", fake_api.base_url)
    full = customer_event("a", 1, phone="1", first_name="Ada")
    patch = customer_event("a", 2, partial=True, phone="2")
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), [full, patch])
        await until(lambda: conn.count("applied") == 2, what="both applied")
        again = customer_event("a", 3, partial=True, first_name="Ada")  # nothing new
        produce(connector_settings, topics.events("customer"), [again])
        await until(lambda: conn.count("skipped_unchanged") == 1, what="the repeat skipped")
    assert [c.method for c in fake_api.calls_for(ENTITY)] == ["PUT", "PATCH"]
    state = fake_api.state[ENTITY]
    assert (state["email"], state["first_name"], state["phone"]) == ("a@example.com", "Ada", "2")


async def test_a_change_whose_text_holds_nul_is_applied_and_its_state_stored(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    """Straight onto the normalised topic (another producer's, an older version's): the
    processors write no U+0000 any more. Before, the destination took the change, the
    applied state's insert failed (PostgreSQL's JSONB cannot hold U+0000) and the
    connector failed on every restart, its partition stuck behind the change."""
    topics = Topics(connector_settings.kafka.topic_prefix)
    config = connector_config("crm", fake_api.base_url)
    events = [
        customer_event("nul", 1, first_name="A\x00B"),
        customer_event("id\x00nul", 1),  # in its entity key too
        customer_event("after", 1),
    ]
    async with running_connector(connector_settings, config) as conn:
        produce(connector_settings, topics.events("customer"), events)
        await until(lambda: conn.count("applied") == 3, what="all three applied")
        assert conn.sample("hookline_connector_restarts_total", cause="error") == 0
        produce(connector_settings, topics.events("customer"), events[:1])  # the same again
        await until(lambda: conn.count("skipped_unchanged") == 1, what="the repeat skipped")
    with psycopg.connect(connector_settings.postgres.conninfo()) as pg:
        stored = dict(
            pg.execute(
                "SELECT entity_key, state::text FROM connector_entity_state"
                " WHERE entity_key LIKE %s",
                ("%nul%",),
            ).fetchall()
        )
    assert "A\ufffdB" in stored["customer:cust:nul"]
    assert "customer:cust:id\ufffdnul" in stored
