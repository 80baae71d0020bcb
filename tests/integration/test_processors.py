"""The faust processor worker as a subprocess on the real broker."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from hookline.kafka_clients import admin_config, ensure_topics, producer_config
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
    produce_raw_to(producer, topics, ids)
    assert producer.flush(30) == 0


def produce_raw_to(
    producer: Producer, topics: Topics, ids: list[str], partition: int | None = None
) -> None:
    for event_id in ids:
        body = orjson.dumps({"ref": "refs/heads/main", "after": event_id, "n": event_id})
        producer.produce(
            topics.raw_webhooks,
            key=f"gh:{event_id}".encode(),
            value=body,
            headers=raw_headers(event_id),
            **({} if partition is None else {"partition": partition}),
        )


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


def test_a_worker_on_a_fresh_disk_recovers_the_dedupe_table_from_its_changelog(
    settings: Settings, topics: Topics, tmp_path: Path, consume: ConsumeFn
) -> None:
    """The table's keys are written by processors.dedupe_table, not by faust: a worker with
    none of the RocksDB files (another machine, a lost volume) must rebuild them from the
    changelog topic, as faust's recovery reads it."""
    produce_raw(settings, topics, ["a", "b", "c"])
    first = ProcessorWorker(settings, tmp_path / "disk-1", tmp_path / "worker-1.log")
    first.drain(topics.raw_webhooks)

    produce_raw(settings, topics, ["a", "b", "d"])  # two redeliveries, one new event
    second = ProcessorWorker(settings, tmp_path / "disk-2", tmp_path / "worker-2.log")
    second.drain(topics.raw_webhooks)
    events = passthrough_events(consume, topics, 5, timeout=5)
    assert sorted(e.providereventid for e in events) == ["a", "b", "c", "d"]


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


def test_offsets_the_worker_is_not_given_are_read_again_and_counted(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    """A transaction's commit marker takes an offset no consumer is given: the worker is
    given offsets 0-4, 6-10 and 12, and reads offsets 5 and 11 again (processors.skipped),
    as it reads a range faust skipped after a rebalance (there, records it would lose)."""
    config = producer_config(settings.kafka, "test-tx")
    producer = Producer({**config, "transactional.id": f"{settings.kafka.topic_prefix}-tx"})
    producer.init_transactions(30)
    ids = [f"x{n}" for n in range(11)]
    for batch in (ids[:5], ids[5:10]):
        producer.begin_transaction()
        produce_raw_to(producer, topics, batch, partition=0)
        producer.commit_transaction(30)
    plain = Producer(config)
    produce_raw_to(plain, topics, ids[10:], partition=0)  # the last offset holds a record
    assert plain.flush(30) == 0

    worker.start()
    worker.wait_drained(topics.raw_webhooks)

    events = passthrough_events(consume, topics, len(ids))
    assert sorted(e.providereventid for e in events) == sorted(ids)
    status, body = worker.get("/metrics")
    assert status == 200
    assert "hookline_processor_skipped_records_total 2.0" in body.splitlines()


def test_a_rebalance_with_a_slow_seek_neither_stalls_nor_hands_a_record_over_twice(
    settings: Settings, topics: Topics, tmp_path: Path, consume: ConsumeFn
) -> None:
    """A second worker joins mid-stream, and the group coordinator is slow to answer the
    seek to the committed offsets (2 s, injected). faust resumes the partitions before that
    seek: without processors.recovery the first worker was handed records it then handed
    over again (counted as duplicates), or its partitions stalled uncommitted (3 runs of 4),
    as in the chaos test's rare stalls."""
    ids = [f"r{i:05d}" for i in range(30000)]
    produce_raw(settings, topics, ids)
    workers = [
        ProcessorWorker(
            settings,
            tmp_path / f"disk-{n}",
            tmp_path / f"worker-{n}.log",
            module="tests.integration.slow_seek_processors",
            env={"SLOW_SEEK_SECONDS": "2"},
        )
        for n in (1, 2)
    ]
    try:
        workers[0].start()
        deadline = time.monotonic() + 90
        while workers[0].committed_lag(topics.raw_webhooks) > len(ids) - 1000:  # under way
            assert time.monotonic() < deadline, workers[0].log_tail()
            time.sleep(0.1)
        workers[1].start()  # the group rebalances while the first worker has a backlog
        workers[0].wait_drained(topics.raw_webhooks, timeout=120)
        pages = [worker.get("/metrics") for worker in workers]
    finally:
        for worker in workers:
            worker.stop()
    assert all(status == 200 for status, _ in pages)
    forwarded = 'hookline_processor_records_total{outcome="forwarded"'
    assert all(forwarded in body for _, body in pages), "the second worker was given nothing"
    for _, body in pages:
        assert 'outcome="duplicate"' not in body  # every id is new: nothing handled twice
        assert _metric(body, "hookline_processor_skipped_records_total") == 0
    events = passthrough_events(consume, topics, len(ids) + 1, timeout=10)
    assert sorted(e.providereventid for e in events) == ids


def test_two_workers_one_killed_mid_stream_and_back_lose_nothing_and_keep_one_id_each(
    settings: Settings, topics: Topics, tmp_path: Path, consume: ConsumeFn
) -> None:
    """Two workers share the partitions; one dies (kill -9) with batches in flight, the
    other takes its partitions over (recovering their dedupe table from the changelog),
    then the dead one comes back and the group rebalances again, all mid-stream."""
    ids = [f"t{i:05d}" for i in range(4000)]
    produce_raw(settings, topics, ids)
    workers = [
        ProcessorWorker(settings, tmp_path / f"disk-{n}", tmp_path / f"worker-{n}.log")
        for n in (1, 2)
    ]
    try:
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 90
        while workers[0].committed_lag(topics.raw_webhooks) > 3000:  # both under way
            assert time.monotonic() < deadline, workers[0].log_tail()
            time.sleep(0.1)
        workers[0].kill()
        produce_raw(settings, topics, ids[:500])  # the providers redeliver some meanwhile
        time.sleep(5)
        workers[0].start()
        workers[1].wait_drained(topics.raw_webhooks, timeout=180)
    finally:
        for worker in workers:
            worker.stop()
    records = consume(topics.events("passthrough"), 3 * len(ids), timeout=15)
    by_raw: dict[str, set[str]] = {}
    for record in records:
        event = CloudEvent.model_validate_json(record.value())
        by_raw.setdefault(event.providereventid, set()).add(event.id)
    assert sorted(by_raw) == ids  # nothing lost
    assert all(len(cloud_ids) == 1 for cloud_ids in by_raw.values())  # one id per raw event


def test_a_killed_worker_with_an_instance_id_takes_its_partitions_back_at_once(
    settings: Settings, topics: Topics, worker: ProcessorWorker
) -> None:
    """Static membership: with dynamic membership the restarted worker could not drain
    before the dead one's session (a minute here) timed out; with its instance ID it rejoins
    as itself at once."""
    session = 60.0
    worker.env["HOOKLINE_PROCESSORS__INSTANCE_ID"] = "worker-a"
    worker.env["HOOKLINE_PROCESSORS__SESSION_TIMEOUT_SECONDS"] = str(session)
    produce_raw(settings, topics, [f"s{i:03d}" for i in range(100)])
    worker.start()
    worker.wait_drained(topics.raw_webhooks)
    worker.kill()

    produce_raw(settings, topics, [f"s{i:03d}" for i in range(100, 200)])
    worker.start()
    worker.wait_drained(topics.raw_webhooks, timeout=session / 2)  # well within the session


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


def test_foreign_records_are_dead_lettered_and_the_partition_keeps_committing(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    # All on partition 0: the poison records sit between valid ones, in one batch.

    valid = [f"ok-{i}" for i in range(6)]
    producer = Producer(producer_config(settings.kafka, "test"))

    def good(event_id: str) -> None:
        body = orjson.dumps({"n": event_id})
        producer.produce(
            topics.raw_webhooks,
            key=f"gh:{event_id}".encode(),
            value=body,
            headers=raw_headers(event_id),
            partition=0,
        )

    good(valid[0])
    good(valid[1])
    non_utf8_key = b"\xff\xfe foreign producer"
    producer.produce(
        topics.raw_webhooks, key=non_utf8_key, value=b"{}", headers=raw_headers("k"), partition=0
    )
    good(valid[2])
    producer.produce(
        topics.raw_webhooks, key=b"gh:null", value=None, headers=raw_headers("null"), partition=0
    )
    good(valid[3])
    huge = [*raw_headers("huge"), ("x-trace", b"x" * 900_000)]
    producer.produce(
        topics.raw_webhooks, key=b"gh:huge", value=b"{not json", headers=huge, partition=0
    )
    good(valid[4])
    good(valid[5])
    assert producer.flush(30) == 0

    worker.start()
    worker.wait_drained(topics.raw_webhooks)  # the committed offset reaches the end

    events = consume(topics.events("passthrough"), len(valid) + 1, timeout=10)
    forwarded = [CloudEvent.model_validate_json(r.value()).providereventid for r in events]
    assert sorted(forwarded) == valid
    dead = consume(topics.raw_dead_letter, 4, timeout=10)
    assert sorted(r.key() or b"" for r in dead) == sorted([non_utf8_key, b"gh:null", b"gh:huge"])
    by_key = {r.key(): DeadLetterContext.from_headers(r.headers() or []) for r in dead}
    assert by_key[non_utf8_key].exception_class == "InvalidRecord"
    assert all(context.offset >= 0 for context in by_key.values())
    assert worker.alive()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def _wait_for(check: Callable[[], bool], worker: ProcessorWorker, what: str) -> None:
    deadline = time.monotonic() + 90
    while not check():
        assert worker.alive(), f"worker exited; log:\n{worker.log_tail()}"
        assert time.monotonic() < deadline, f"{what}; log:\n{worker.log_tail()}"
        time.sleep(0.3)


def test_a_dead_letter_topic_that_cannot_be_written_fails_readiness_until_it_can(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    admin = AdminClient(admin_config(settings.kafka))
    for future in admin.delete_topics([topics.raw_dead_letter], operation_timeout=30).values():
        future.result()
    produce_raw(settings, topics, ["before"])
    producer = Producer(producer_config(settings.kafka, "test"))
    producer.produce(
        topics.raw_webhooks, key=b"gh:poison", value=b"{not json", headers=raw_headers("poison")
    )
    assert producer.flush(30) == 0
    worker.env["HOOKLINE_KAFKA__DELIVERY_TIMEOUT_MS"] = "3000"  # each attempt fails sooner
    worker.start()

    _wait_for(lambda: worker.get("/readyz")[0] == 503, worker, "readiness never failed")
    metrics = worker.get("/metrics")[1]
    assert _metric(metrics, "hookline_processor_dead_letter_blocked") == 1
    assert _metric(metrics, "hookline_processor_dead_letter_write_failures_total") >= 1
    assert topics.raw_dead_letter in worker.get("/readyz")[1]
    log = worker.log_path.read_text(errors="replace")
    assert "dead-letter write failed" in log
    assert topics.raw_dead_letter in log

    ensure_topics(settings.kafka, [s for s in topics.core(3) if s.name == topics.raw_dead_letter])
    worker.wait_drained(topics.raw_webhooks)
    _wait_for(lambda: worker.get("/readyz")[0] == 200, worker, "readiness never recovered")
    assert _metric(worker.get("/metrics")[1], "hookline_processor_dead_letter_blocked") == 0
    dead = consume(topics.raw_dead_letter, 2, timeout=10)
    assert [r.key() for r in dead] == [b"gh:poison"]
    assert [e.providereventid for e in passthrough_events(consume, topics, 1)] == ["before"]
    # The stall's log is bounded: one line per attempt (backoff 1-30 s), none from faust's
    # aiokafka producer, which never asks about the dead-letter topic (its own producer).
    log_lines = worker.log_path.read_text(errors="replace").splitlines()
    lines = [line for line in log_lines if topics.raw_dead_letter in line]
    assert all("hookline.processors" in line for line in lines), lines
    attempts = [line.split("attempt=")[1].split()[0] for line in lines if "attempt=" in line]
    assert len(attempts) == len(set(attempts)) >= 1, lines


def _produce_on_partition_0(
    settings: Settings, topics: Topics, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = Producer(producer_config(settings.kafka, "test"))
    for key, value, headers in records:
        producer.produce(topics.raw_webhooks, key=key, value=value, headers=headers, partition=0)
    assert producer.flush(30) == 0


def _valid(event_id: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return f"gh:{event_id}".encode(), orjson.dumps({"n": event_id}), raw_headers(event_id)


def test_an_output_over_the_message_limit_is_dead_lettered_with_its_size_and_the_limit(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    limit = 1024 * 1024  # the smallest max_message_bytes; the raw topic takes 8 MiB
    worker.env["HOOKLINE_KAFKA__MAX_MESSAGE_BYTES"] = str(limit)
    # A valid body of 400 KB whose normalised event is four times larger: orjson writes
    # each 1e9 as 1000000000.0.
    body = b'{"values": [' + b",".join([b"1e9"] * 100_000) + b"]}"
    assert len(body) < limit // 2
    valid = [f"ok-{i}" for i in range(4)]
    big = (b"gh:big", body, raw_headers("big"))
    _produce_on_partition_0(
        settings, topics, [*map(_valid, valid[:2]), big, *map(_valid, valid[2:])]
    )

    worker.start()
    worker.wait_drained(topics.raw_webhooks)  # committed past it: no stall

    events = consume(topics.events("passthrough"), len(valid) + 1, timeout=10)
    assert (
        sorted(CloudEvent.model_validate_json(r.value()).providereventid for r in events) == valid
    )
    dead = consume(topics.raw_dead_letter, 2, timeout=10)
    assert [r.key() for r in dead] == [b"gh:big"]
    assert dead[0].value() == body  # the original, untouched
    context = DeadLetterContext.from_headers(dead[0].headers() or [])
    assert (context.stage, context.exception_class) == ("produce", "OutputTooLarge")
    assert "too large" in context.exception_message
    assert str(limit - 1024) in context.exception_message  # the producible limit
    assert topics.events("passthrough") in context.exception_message
    metrics = worker.get("/metrics")[1]
    assert 'hookline_processor_dead_letters_total{error="OutputTooLarge"} 1.0' in metrics
    assert worker.alive()


def test_outputs_carry_only_hookline_headers_whatever_the_raw_record_carries(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    limit = 1024 * 1024
    worker.env["HOOKLINE_KAFKA__MAX_MESSAGE_BYTES"] = str(limit)
    huge = b"x" * 900_000
    custom = (b"gh:custom", b'{"n": 1}', [*raw_headers("custom"), ("x-custom", huge)])
    trace = (b"gh:trace", b'{"n": 2}', [*raw_headers("trace"), ("traceparent", huge)])
    # Hookline's own header, huge: its value is in the event (id, subject), over the limit.
    event_id = (b"gh:event-id", b'{"n": 3}', raw_headers("e" * 900_000))
    records = [_valid("ok-0"), custom, _valid("ok-1"), trace, event_id, _valid("ok-2")]
    _produce_on_partition_0(settings, topics, records)

    worker.start()
    worker.wait_drained(topics.raw_webhooks)

    events = consume(topics.events("passthrough"), 6, timeout=10)
    by_id = {CloudEvent.model_validate_json(r.value() or b"").providereventid: r for r in events}
    assert sorted(by_id) == ["custom", "ok-0", "ok-1", "ok-2", "trace"]
    declared = {"content-type", "hookline-cloudevent-id", "traceparent", "tracestate"}
    for record in by_id.values():
        headers = record.headers() or []
        assert {name for name, _ in headers} <= declared
        assert all(len(value or b"") < 1024 for _, value in headers)
        assert len(record.value() or b"") < 2048
    dead = consume(topics.raw_dead_letter, 2, timeout=10)
    assert [r.key() for r in dead] == [b"gh:event-id"]
    context = DeadLetterContext.from_headers(dead[0].headers() or [])
    assert (context.stage, context.exception_class) == ("produce", "OutputTooLarge")
    assert worker.alive()


def test_a_dead_letter_the_topic_refuses_as_too_large_is_written_without_the_original(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    """The broker (not the producer) refuses it: the dead-letter topic takes less than the
    producer's ``message.max.bytes`` (a topic created by hand, or by another tool)."""
    admin = AdminClient(admin_config(settings.kafka))
    for future in admin.delete_topics([topics.raw_dead_letter], operation_timeout=30).values():
        future.result()
    small = NewTopic(topics.raw_dead_letter, 3, 1, config={"max.message.bytes": "65536"})
    _created_when_the_deletion_is_done(admin, small)
    body = b"{not json " + random.randbytes(200_000)  # lz4 cannot shrink it below the limit
    _produce_on_partition_0(settings, topics, [(b"gh:big", body, raw_headers("big"))])

    worker.start()
    worker.wait_drained(topics.raw_webhooks)  # committed past it: no stall

    dead = consume(topics.raw_dead_letter, 2, timeout=10)
    assert [r.key() for r in dead] == [b"gh:big"]
    assert not dead[0].value()  # the original is omitted ...
    context = DeadLetterContext.from_headers(dead[0].headers() or [])
    assert "dead letter too large" in context.exception_message  # ... and the context says so
    assert (context.topic, context.partition) == (topics.raw_webhooks, 0)  # where to read it
    assert worker.alive()


def _created_when_the_deletion_is_done(admin: AdminClient, topic: NewTopic) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            admin.create_topics([topic], operation_timeout=30)[topic.topic].result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            assert time.monotonic() < deadline, "the deleted topic never went away"
            time.sleep(0.5)
        else:
            return
