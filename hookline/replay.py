"""Replaying dead letters: each record goes back to the topic it failed on, as it was.

A dead letter keeps the original key, value, headers and timestamp plus ``hookline.errors.*``
context headers (``schemas/dead_letter.py``). Replay produces the original record (context
headers removed, a ``hookline-replayed-from`` header added: ``{dlq topic}:{partition}:
{offset}``) to ``hookline.errors.topic``, with the idempotent ``acks=all`` producer, and
then commits the replay consumer group's offset: a record is replayed once per group, and
never lost between the two (at-least-once). Filters select by stage, component or exception
class; records not selected are skipped and committed too, unless ``commit_skipped`` is
off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from hookline.kafka_clients import consumer_config, producer_config
from hookline.settings import KafkaSettings
from schemas.dead_letter import DeadLetterContext, original_headers

REPLAYED_FROM_HEADER = "hookline-replayed-from"


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    stage: str | None = None
    component: str | None = None
    exception_class: str | None = None

    def accepts(self, context: DeadLetterContext) -> bool:
        return all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (self.stage, context.stage),
                (self.component, context.component),
                (self.exception_class, context.exception_class),
            )
        )


@dataclass(slots=True)
class ReplayReport:
    replayed: int = 0
    skipped: int = 0
    by_target: dict[str, int] = field(default_factory=dict)


def replay_dead_letters(
    kafka: KafkaSettings,
    dead_letter_topic: str,
    *,
    group_id: str,
    selection: ReplayFilter = ReplayFilter(),
    limit: int | None = None,
    idle_seconds: float = 5.0,
    on_record: Callable[[DeadLetterContext], None] | None = None,
) -> ReplayReport:
    """Replay until the topic has been idle for ``idle_seconds`` or ``limit`` is reached."""
    consumer = Consumer(consumer_config(kafka, group_id, "replay"))
    producer = Producer(producer_config(kafka, "replay"))
    report = ReplayReport()
    try:
        consumer.subscribe([dead_letter_topic])
        idle_since = time.monotonic()
        while (limit is None or report.replayed < limit) and (
            time.monotonic() - idle_since < idle_seconds
        ):
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise RuntimeError(f"consuming {dead_letter_topic}: {msg.error()}")
            idle_since = time.monotonic()
            _replay_one(msg, producer, selection, report, on_record)
            position = TopicPartition(
                msg.topic() or dead_letter_topic, msg.partition() or 0, (msg.offset() or 0) + 1
            )
            consumer.commit(offsets=[position], asynchronous=False)
    finally:
        producer.flush(30)
        consumer.close()
    return report


def _replay_one(
    msg: Message,
    producer: Producer,
    selection: ReplayFilter,
    report: ReplayReport,
    on_record: Callable[[DeadLetterContext], None] | None,
) -> None:
    headers = msg.headers() or []
    context = DeadLetterContext.from_headers(headers)  # type: ignore[arg-type]
    if not selection.accepts(context):
        report.skipped += 1
        return
    origin = f"{msg.topic()}:{msg.partition()}:{msg.offset()}".encode()
    producer.produce(
        context.topic,
        key=msg.key(),
        value=msg.value(),
        headers=[*original_headers(headers), (REPLAYED_FROM_HEADER, origin)],  # type: ignore[arg-type]
    )
    if producer.flush(30) != 0:  # durable before the dead letter's offset is committed
        raise RuntimeError(f"replay of {origin.decode()} was not acknowledged")
    report.replayed += 1
    report.by_target[context.topic] = report.by_target.get(context.topic, 0) + 1
    if on_record is not None:
        on_record(context)
