"""The faust processor worker as a subprocess on the real broker."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from hookline.kafka_clients import producer_config
from hookline.settings import Settings
from hookline.topics import Topics
from schemas.dead_letter import DeadLetterContext, original_headers
from schemas.events import CloudEvent
from schemas.raw import RawHeaders
from tests.conftest import ConsumeFn
from tests.integration.processor_worker import ProcessorWorker


def raw_headers(event_id: str, provider: str = "github") -> list[tuple[str, bytes]]:
    return RawHeaders(
        source="gh",
        provider=provider,
        event_id=event_id,
        event_type="push",
        received_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        content_type="application/json",
        request_id="req-" + event_id,
    ).to_kafka()


def produce_raw(settings: Settings, topics: Topics, ids: list[str]) -> None:
    producer = Producer(producer_config(settings.kafka, "test"))
    for event_id in ids:
        body = orjson.dumps({"ref": "refs/heads/main", "after": event_id, "n": event_id})
        producer.produce(
            topics.raw_webhooks,
            key=f"gh:{event_id}".encode(),
            value=body,
            headers=raw_headers(event_id),
        )
    assert producer.flush(30) == 0


@pytest.fixture
def worker(settings: Settings, topics: Topics, tmp_path: Path) -> Iterator[ProcessorWorker]:
    handle = ProcessorWorker(settings, tmp_path / "state", tmp_path / "worker.log")
    yield handle
    handle.stop()


def passthrough_events(
    consume: ConsumeFn, topics: Topics, count: int, timeout: float = 60
) -> list[CloudEvent]:
    records = consume(topics.events("passthrough"), count, timeout=timeout)
    return [CloudEvent.model_validate_json(r.value()) for r in records]


def test_duplicates_are_suppressed_across_a_worker_restart(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    produce_raw(settings, topics, ["a", "b", "a", "c", "b"])
    worker.start()
    worker.wait_drained(topics.raw_webhooks)
    worker.stop()

    produce_raw(settings, topics, ["a", "c", "d"])  # two redeliveries, one new event
    worker.start()
    worker.wait_drained(topics.raw_webhooks)

    # The worker has committed everything, so its outputs are all in: ask for one more
    # than expected, briefly, to see that no duplicate is there.
    events = passthrough_events(consume, topics, 5, timeout=5)
    assert sorted(e.providereventid for e in events) == ["a", "b", "c", "d"]
    assert len({e.id for e in events}) == 4


def test_poison_records_are_dead_lettered_while_good_records_flow(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    producer = Producer(producer_config(settings.kafka, "test"))
    producer.produce(
        topics.raw_webhooks, key=b"gh:good-1", value=b'{"ok": 1}', headers=raw_headers("good-1")
    )
    producer.produce(
        topics.raw_webhooks, key=b"gh:bad-json", value=b"{not json", headers=raw_headers("bad-json")
    )
    producer.produce(topics.raw_webhooks, key=b"gh:no-headers", value=b"{}", headers=[("x", b"y")])
    producer.produce(
        topics.raw_webhooks, key=b"gh:good-2", value=b'{"ok": 2}', headers=raw_headers("good-2")
    )
    assert producer.flush(30) == 0
    worker.start()
    worker.wait_drained(topics.raw_webhooks)

    good = passthrough_events(consume, topics, 2)
    assert sorted(e.providereventid for e in good) == ["good-1", "good-2"]
    dead = consume(topics.raw_dead_letter, 2, timeout=30)
    by_key = {r.key(): r for r in dead}
    assert set(by_key) == {b"gh:bad-json", b"gh:no-headers"}
    bad = by_key[b"gh:bad-json"]
    assert bad.value() == b"{not json"  # the original record, untouched
    assert original_headers(bad.headers() or []) == raw_headers("bad-json")
    context = DeadLetterContext.from_headers(bad.headers() or [])
    assert context.topic == topics.raw_webhooks
    assert context.stage == "normalise"
    assert context.component == "processors"
    assert context.exception_class == "InvalidPayload"
    assert context.offset >= 0
    assert context.attempts == 1
    assert (
        DeadLetterContext.from_headers(by_key[b"gh:no-headers"].headers() or []).exception_class
        == "ValidationError"
    )


def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing_by_id(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    ids = [f"e{i:05d}" for i in range(3000)]
    produce_raw(settings, topics, ids)
    worker.start()
    deadline = time.monotonic() + 90
    while worker.committed_lag(topics.raw_webhooks) > 2000:  # let it get well under way
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.1)
    worker.kill()
    assert worker.committed_lag(topics.raw_webhooks) > 0, "killed too late to prove anything"

    worker.start()
    worker.wait_drained(topics.raw_webhooks, timeout=180)
    # At-least-once: records after the kill may be written twice (with the same id); read
    # until the topic is exhausted rather than up to a count.
    records = consume(topics.events("passthrough"), 2 * len(ids), timeout=15)
    events = [CloudEvent.model_validate_json(r.value()) for r in records]
    by_raw: dict[str, set[str]] = {}
    for event in events:
        by_raw.setdefault(event.providereventid, set()).add(event.id)
    assert sorted(by_raw) == ids  # nothing lost
    assert all(len(cloud_ids) == 1 for cloud_ids in by_raw.values())  # one id per raw event


def test_redeliveries_at_volume_are_suppressed_across_a_restart(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    rng = random.Random(7)
    unique_ids = [f"v{i:04d}" for i in range(1200)]
    first = unique_ids[:600] + [rng.choice(unique_ids[:600]) for _ in range(200)]
    second = unique_ids[600:] + [rng.choice(unique_ids) for _ in range(400)]
    rng.shuffle(first)
    rng.shuffle(second)
    produce_raw(settings, topics, first)
    worker.start()
    worker.wait_drained(topics.raw_webhooks)
    worker.stop()
    produce_raw(settings, topics, second)  # redeliveries of both halves, after a restart
    worker.start()
    worker.wait_drained(topics.raw_webhooks)

    events = passthrough_events(consume, topics, len(unique_ids) + 1, timeout=10)
    assert sorted(e.providereventid for e in events) == unique_ids
