"""Replaying dead letters: bounded by the end seen at the start, each at most once (the
ledger in PostgreSQL), skipped records left in place, each back to the stage it failed at."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg
import pytest
from confluent_kafka import Producer

from hookline.kafka_clients import ensure_topics, producer_config
from hookline.replay import REPLAYED_FROM_HEADER, ReplayFilter, replay_dead_letters
from hookline.replay_ledger import ReplayBusy, ReplayLedger
from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from schemas.dead_letter import DeadLetterContext
from schemas.retry import RetryInfo
from tests.conftest import ROOT, ConsumeFn
from tests.integration.processor_worker import ProcessorWorker
from tests.integration.test_processors import raw_headers
from tests.kafka_probe import records_written


def context_headers(
    original_topic: str,
    error: str,
    *,
    stage: str = "normalise",
    component: str = "processors",
    offset: int = 10,
) -> list[tuple[str, bytes]]:
    return DeadLetterContext(
        topic=original_topic,
        partition=0,
        offset=offset,
        stage=stage,
        component=component,
        exception_class=error,
        exception_message="boom",
        failed_at=datetime.now(UTC),
        http_status=422 if component != "processors" else None,
    ).to_headers()


def put(
    settings: Settings, topic: str, *records: tuple[bytes, bytes, list[tuple[str, bytes]]]
) -> None:
    producer = Producer(producer_config(settings.kafka, "test"))
    for key, value, headers in records:
        producer.produce(topic, key=key, value=value, headers=headers)
    assert producer.flush(10) == 0


def raw_letter(
    topics: Topics, key: bytes, error: str, source: str = "gh"
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    original = [("hookline-source", source.encode()), ("content-type", b"application/json")]
    return key, b'{"k":"' + key + b'"}', original + context_headers(topics.raw_webhooks, error)


def ledger_rows(postgres: PostgresSettings) -> list[tuple[str, int, str]]:
    with psycopg.connect(postgres.conninfo()) as db:
        rows = db.execute(
            "SELECT dlq_topic, dlq_offset, target_topic FROM dead_letter_replays"
            " ORDER BY dlq_offset"
        ).fetchall()
    return [(str(t), int(o), str(g)) for t, o, g in rows]


def test_a_processors_dead_letter_goes_back_to_the_raw_topic_untouched(
    settings: Settings, topics: Topics, consume: ConsumeFn, fresh_database: PostgresSettings
) -> None:
    put(settings, topics.raw_dead_letter, raw_letter(topics, b"gh:1", "InvalidPayload"))

    report = replay_dead_letters(settings.kafka, fresh_database.conninfo(), topics.raw_dead_letter)

    assert report.by_target == {topics.raw_webhooks: 1}
    [record] = consume(topics.raw_webhooks, 1, timeout=10)
    assert (record.key(), record.value()) == (b"gh:1", b'{"k":"gh:1"}')
    headers = record.headers() or []
    assert headers == [
        ("hookline-source", b"gh"),
        ("content-type", b"application/json"),
        (REPLAYED_FROM_HEADER, f"{topics.raw_dead_letter}:0:0".encode()),
    ]
    assert ledger_rows(fresh_database) == [(topics.raw_dead_letter, 0, topics.raw_webhooks)]


def test_a_replay_is_recorded_at_the_time_it_was_sent(
    settings: Settings, topics: Topics, consume: ConsumeFn, fresh_database: PostgresSettings
) -> None:
    """Not when Kafka acknowledged it: by then a consumer may have acted on the record, and
    an event's trace (admin API) ordered its delivery before its replay."""
    put(settings, topics.raw_dead_letter, raw_letter(topics, b"gh:1", "InvalidPayload"))
    replay_dead_letters(settings.kafka, fresh_database.conninfo(), topics.raw_dead_letter)
    [record] = consume(topics.raw_webhooks, 1, timeout=10)
    with psycopg.connect(fresh_database.conninfo()) as db:
        row = db.execute("SELECT replayed_at FROM dead_letter_replays").fetchone()
    assert row is not None
    produced_ms = record.timestamp()[1]
    assert row[0].timestamp() * 1000 <= produced_ms


def test_a_dead_letter_is_replayed_at_most_once_across_runs(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    put(settings, topics.raw_dead_letter, raw_letter(topics, b"gh:1", "InvalidPayload"))
    first = replay_dead_letters(settings.kafka, fresh_database.conninfo(), topics.raw_dead_letter)
    put(settings, topics.raw_dead_letter, raw_letter(topics, b"gh:2", "InvalidPayload"))
    second = replay_dead_letters(settings.kafka, fresh_database.conninfo(), topics.raw_dead_letter)

    assert [i.key for i in first.items] == [b"gh:1"]
    assert [i.key for i in second.items] == [b"gh:2"]
    assert second.already_replayed == 1
    assert records_written(settings.kafka, [topics.raw_webhooks]) == 2


def test_skipped_records_stay_for_a_later_replay_with_another_filter(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    put(
        settings,
        topics.raw_dead_letter,
        raw_letter(topics, b"gh:1", "InvalidPayload"),
        raw_letter(topics, b"gh:2", "ValidationError"),
        raw_letter(topics, b"st:3", "ValidationError", source="stripe"),
    )
    conninfo = fresh_database.conninfo()

    invalid = replay_dead_letters(
        settings.kafka,
        conninfo,
        topics.raw_dead_letter,
        selection=ReplayFilter(exception_class="InvalidPayload"),
    )
    stripe = replay_dead_letters(
        settings.kafka, conninfo, topics.raw_dead_letter, selection=ReplayFilter(source="stripe")
    )
    rest = replay_dead_letters(settings.kafka, conninfo, topics.raw_dead_letter)

    assert ([i.key for i in invalid.items], invalid.skipped) == ([b"gh:1"], 2)
    assert ([i.key for i in stripe.items], stripe.skipped) == ([b"st:3"], 2)
    assert ([i.key for i in rest.items], rest.already_replayed) == ([b"gh:2"], 2)


def test_a_connector_dead_letter_goes_to_that_connector_only(
    settings: Settings, topics: Topics, consume: ConsumeFn, fresh_database: PostgresSettings
) -> None:
    for name in ("crm", "mirror"):
        ensure_topics(settings.kafka, topics.for_connector(name, 3))
    customers = topics.events("customer")
    event = orjson.dumps({"source": "/hookline/shop", "subject": "customer:cust:a"})
    original = [("content-type", b"application/cloudevents+json")]
    headers = original + context_headers(
        customers, "PermanentError", stage="deliver", component="crm", offset=7
    )
    put(settings, topics.connector_dead_letter("crm"), (b"customer:cust:a", event, headers))
    before_ms = int(time.time() * 1000)

    report = replay_dead_letters(
        settings.kafka,
        fresh_database.conninfo(),
        topics.connector_dead_letter("crm"),
        selection=ReplayFilter(component="crm", source="shop"),
    )

    assert report.by_target == {topics.connector_retry("crm"): 1}
    [record] = consume(topics.connector_retry("crm"), 1, timeout=10)
    assert (record.key(), record.value()) == (b"customer:cust:a", event)
    info = RetryInfo.from_headers(record.headers() or [])
    assert info is not None
    assert (info.attempt, info.topic, info.partition, info.offset) == (1, customers, 0, 7)
    assert before_ms <= info.due_ms <= int(time.time() * 1000)  # due at once
    assert (info.last_status, info.last_error) == (422, "PermanentError")
    assert records_written(settings.kafka, [customers, topics.connector_retry("mirror")]) == 0


def test_one_replay_per_dead_letter_topic_at_a_time(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    put(settings, topics.raw_dead_letter, raw_letter(topics, b"gh:1", "InvalidPayload"))
    conninfo = fresh_database.conninfo()
    with (
        ReplayLedger.connect(conninfo) as other,
        other.hold(topics.raw_dead_letter),
        pytest.raises(ReplayBusy),
    ):
        replay_dead_letters(settings.kafka, conninfo, topics.raw_dead_letter)
    assert records_written(settings.kafka, [topics.raw_webhooks]) == 0


def test_dry_run_lists_what_would_be_replayed_and_changes_nothing(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    put(
        settings,
        topics.raw_dead_letter,
        raw_letter(topics, b"gh:1", "InvalidPayload"),
        raw_letter(topics, b"gh:2", "ValidationError"),
    )
    conninfo = fresh_database.conninfo()

    dry = replay_dead_letters(
        settings.kafka, conninfo, topics.raw_dead_letter, dry_run=True, limit=1
    )

    [item] = dry.items
    assert (item.key, item.original_topic, item.stage, item.exception_class, item.target) == (
        b"gh:1",
        topics.raw_webhooks,
        "normalise",
        "InvalidPayload",
        topics.raw_webhooks,
    )
    assert records_written(settings.kafka, [topics.raw_webhooks]) == 0
    assert ledger_rows(fresh_database) == []
    real = replay_dead_letters(settings.kafka, conninfo, topics.raw_dead_letter)
    assert [i.key for i in real.items] == [b"gh:1", b"gh:2"]


def test_replay_ends_while_the_processors_dead_letter_the_record_again(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings, tmp_path: Path
) -> None:
    """The reported defect: a signed non-JSON body replayed with the processors running
    was dead-lettered again and replayed again by the same run, without end."""
    put(settings, topics.raw_webhooks, (b"gh:bad", b"{not json", raw_headers("bad")))
    worker = ProcessorWorker(settings, tmp_path / "state", tmp_path / "worker.log")
    worker.start()
    try:
        worker.wait_drained(topics.raw_webhooks)
        assert records_written(settings.kafka, [topics.raw_dead_letter]) == 1
        env = {**worker.env, "HOOKLINE_POSTGRES__DATABASE": fresh_database.database}
        command = [sys.executable, "-m", "launcher.cli", "replay", topics.raw_dead_letter]
        dry = subprocess.run(
            [*command, "--dry-run"], check=True, cwd=ROOT, env=env, capture_output=True
        )
        listed = f"0:0 key=gh:bad from={topics.raw_webhooks} stage=normalise"
        assert listed.encode() in dry.stdout
        assert b"would replay 1," in dry.stdout
        # The timeout only turns the old endless replay into a failure instead of a hang.
        done = subprocess.run(
            command, check=False, cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        assert b"replayed 1," in done.stdout
        worker.wait_drained(topics.raw_webhooks)
    finally:
        worker.stop()
    assert records_written(settings.kafka, [topics.raw_webhooks]) == 2
    # Dead-lettered again, once: the dead-letter topic grew by the one record replayed.
    assert records_written(settings.kafka, [topics.raw_dead_letter]) == 2


def test_since_starts_reading_at_that_time(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings
) -> None:
    producer = Producer(producer_config(settings.kafka, "test"))
    for key, at in ((b"gh:old", datetime(2026, 1, 1, tzinfo=UTC)), (b"gh:new", None)):
        _, value, headers = raw_letter(topics, key, "InvalidPayload")
        stamp = int(at.timestamp() * 1000) if at else 0  # 0: now
        producer.produce(
            topics.raw_dead_letter, key=key, value=value, headers=headers, timestamp=stamp
        )
    assert producer.flush(10) == 0

    report = replay_dead_letters(
        settings.kafka,
        fresh_database.conninfo(),
        topics.raw_dead_letter,
        since=datetime(2026, 6, 1, tzinfo=UTC),
    )

    assert [i.key for i in report.items] == [b"gh:new"]
