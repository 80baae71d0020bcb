"""Replaying dead letters back to their original topic, once per replay group."""

from __future__ import annotations

from datetime import UTC, datetime

from confluent_kafka import Producer

from hookline.kafka_clients import producer_config
from hookline.replay import REPLAYED_FROM_HEADER, ReplayFilter, replay_dead_letters
from hookline.settings import Settings
from hookline.topics import Topics
from schemas.dead_letter import DeadLetterContext
from tests.conftest import ConsumeFn, unique


def dead_letter(topics: Topics, offset: int, error: str) -> list[tuple[str, bytes]]:
    return DeadLetterContext(
        topic=topics.raw_webhooks,
        partition=0,
        offset=offset,
        stage="normalise",
        component="processors",
        exception_class=error,
        exception_message="boom",
        failed_at=datetime.now(UTC),
    ).to_headers()


def test_dead_letters_go_back_untouched_once_and_filters_hold(
    settings: Settings, topics: Topics, consume: ConsumeFn
) -> None:
    producer = Producer(producer_config(settings.kafka, "test"))
    original = [("hookline-source", b"gh"), ("content-type", b"application/json")]
    producer.produce(
        topics.raw_dead_letter,
        key=b"gh:1",
        value=b'{"a":1}',
        headers=original + dead_letter(topics, 10, "InvalidPayload"),
    )
    producer.produce(
        topics.raw_dead_letter,
        key=b"gh:2",
        value=b'{"a":2}',
        headers=original + dead_letter(topics, 11, "ValidationError"),
    )
    assert producer.flush(10) == 0

    group = unique("replay")
    report = replay_dead_letters(
        settings.kafka,
        topics.raw_dead_letter,
        group_id=group,
        selection=ReplayFilter(exception_class="InvalidPayload"),
        idle_seconds=3,
    )
    assert (report.replayed, report.skipped) == (1, 1)
    assert report.by_target == {topics.raw_webhooks: 1}

    [record] = consume(topics.raw_webhooks, 2, timeout=5)
    assert record.key() == b"gh:1"
    assert record.value() == b'{"a":1}'
    headers = record.headers() or []
    assert headers[:2] == original
    assert headers[2][0] == REPLAYED_FROM_HEADER
    assert not any(name.startswith("hookline.errors.") for name, _ in headers)

    again = replay_dead_letters(
        settings.kafka, topics.raw_dead_letter, group_id=group, idle_seconds=2
    )
    assert (again.replayed, again.skipped) == (0, 0)
