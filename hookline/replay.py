"""Replaying dead letters: each at most once, back to where its failure can be retried.

What a replay guarantees:

- **It ends.** It captures each partition's end offset of the dead-letter topic when it
  starts, reads up to there and stops. A record that fails again is dead-lettered after
  that end: the next replay sees it, this one does not.
- **Nothing is consumed away.** No consumer-group offset is read or committed: every run
  reads the retained log from its beginning (or from ``since``), so a record a filter
  skipped is still there for a later replay with another filter.
- **Once, durably.** The ledger (``dead_letter_replays``, :mod:`hookline.replay_ledger`)
  holds one row per replayed dead letter, written after Kafka acknowledged the replayed
  record (idempotent producer, ``acks=all``); a dead letter with a row is not replayed
  again, by this run or any later one. Between the acknowledgement and the ledger write
  this is at-least-once: a crash there replays those records again next time, and
  downstream dedupe absorbs it (the processors dedupe by event ID, connectors by state
  hash and idempotency key). One replay per dead-letter topic runs at a time (an advisory
  lock in PostgreSQL). A consumer group's committed offset cannot do this: it is one
  position per partition, so it cannot say "5 and 9 replayed, 7 skipped by a filter".
- **To the failed stage only.** ``{p}.raw.webhooks.dlq`` goes back to ``{p}.raw.webhooks``.
  ``{p}.connector.{name}.dlq`` goes to that connector's retry topic
  ``{p}.connector.{name}.retry`` as a retry record due now with attempt 1 (the full retry
  budget again; :mod:`schemas.retry`), so no other connector or downstream consumer of
  the shared normalised topics sees it again. Any other topic is refused.
- **As it was.** Key, value and original headers; the ``hookline.errors.*`` context is
  dropped and a ``hookline-replayed-from: {dlq topic}:{partition}:{offset}`` header added.
- **A dry run changes nothing:** it lists what would be replayed (the ledger is read, not
  written; nothing is produced).

Filters select by stage, component, exception class and source (the record's
``hookline-source`` header, or a CloudEvent's ``/hookline/{source}``); a ``limit`` counts
records replayed. A record without readable context headers is never replayed (counted
as unreadable). Blocking: async callers run it in a thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from confluent_kafka import KafkaError, Message, Producer
from pydantic import ValidationError

from hookline.dead_letter import SourceRecord
from hookline.kafka_clients import producer_config
from hookline.replay_ledger import LedgerRow, ReplayLedger
from hookline.replay_reader import ReplayError, read_one, read_positions, read_to_captured_end
from hookline.settings import KafkaSettings
from hookline.topics import Topics
from schemas.dead_letter import DeadLetterContext, original_headers
from schemas.retry import RetryInfo, without_retry_headers

__all__ = [
    "REPLAYED_FROM_HEADER",
    "PositionsReport",
    "ReplayError",
    "ReplayFilter",
    "ReplayItem",
    "ReplayReport",
    "replay_dead_letters",
    "replay_one",
    "replay_positions",
    "replay_target",
]

REPLAYED_FROM_HEADER = "hookline-replayed-from"
SOURCE_HEADER = "hookline-source"
_BATCH = 500  # records produced, then acknowledged, then written to the ledger together


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: SourceRecord  # as read from the dead-letter topic, context headers included
    context: DeadLetterContext
    source: str | None

    @classmethod
    def from_message(cls, msg: Message) -> DeadLetter | None:
        """The dead letter, or None when its context headers cannot be read."""
        record = SourceRecord.from_message(msg)
        try:
            context = DeadLetterContext.from_headers(record.headers)
        except ValidationError:
            return None
        return cls(record, context, _source_of(record.headers, record.value))

    @property
    def position(self) -> tuple[int, int]:
        return self.record.partition, self.record.offset


def _source_of(headers: Sequence[tuple[str, bytes]], value: bytes) -> str | None:
    for name, raw in headers:
        if name == SOURCE_HEADER:
            return raw.decode(errors="replace")
    try:  # a normalised record: the CloudEvent's source is "/hookline/{source}"
        source = orjson.loads(value).get("source")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return source.removeprefix("/hookline/") if isinstance(source, str) else None


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which dead letters to replay; ``None`` accepts any value."""

    stage: str | None = None
    component: str | None = None
    exception_class: str | None = None
    source: str | None = None

    def accepts(self, letter: DeadLetter) -> bool:
        context = letter.context
        return all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (self.stage, context.stage),
                (self.component, context.component),
                (self.exception_class, context.exception_class),
                (self.source, letter.source),
            )
        )


@dataclass(frozen=True, slots=True)
class ReplayTarget:
    """Where the dead letters of one topic go back to."""

    dlq_topic: str
    topic: str
    retry: bool  # a connector's retry topic: the record carries a retry context, due now

    def headers(self, letter: DeadLetter, now_ms: int) -> list[tuple[str, bytes]]:
        origin = f"{self.dlq_topic}:{letter.record.partition}:{letter.record.offset}".encode()
        kept = [
            (name, value)
            for name, value in without_retry_headers(original_headers(letter.record.headers))
            if name != REPLAYED_FROM_HEADER
        ]
        if self.retry:
            kept += _retry_context(letter.context, now_ms).to_headers()
        return [*kept, (REPLAYED_FROM_HEADER, origin)]


def _retry_context(context: DeadLetterContext, now_ms: int) -> RetryInfo:
    return RetryInfo(
        attempt=1,
        due_ms=now_ms,
        topic=context.topic,
        partition=context.partition,
        offset=context.offset,
        last_status=context.http_status,
        last_error=context.exception_class,
    )


def replay_target(topics: Topics, dlq_topic: str) -> ReplayTarget:
    """The target of a dead-letter topic of this prefix; ``ValueError`` for any other."""
    if dlq_topic == topics.raw_dead_letter:
        return ReplayTarget(dlq_topic, topics.raw_webhooks, retry=False)
    head, tail = f"{topics.prefix}.connector.", ".dlq"
    name = dlq_topic.removeprefix(head).removesuffix(tail)
    if dlq_topic == topics.connector_dead_letter(name) and name and "." not in name:
        return ReplayTarget(dlq_topic, topics.connector_retry(name), retry=True)
    raise ValueError(
        f"{dlq_topic!r} is not a dead-letter topic of prefix {topics.prefix!r}: expected "
        f"{topics.raw_dead_letter} or {head}<connector>{tail}"
    )


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One dead letter replayed (or, in a dry run, that would be)."""

    partition: int
    offset: int
    key: bytes | None
    original_topic: str
    stage: str
    component: str
    exception_class: str
    source: str | None
    target: str

    @classmethod
    def of(cls, letter: DeadLetter, target: ReplayTarget) -> ReplayItem:
        c = letter.context
        return cls(
            letter.record.partition,
            letter.record.offset,
            letter.record.key,
            c.topic,
            c.stage,
            c.component,
            c.exception_class,
            letter.source,
            target.topic,
        )


@dataclass(slots=True)
class ReplayReport:
    dry_run: bool
    items: list[ReplayItem] = field(default_factory=list)  # replayed, or would be
    skipped: int = 0  # not selected by the filter; left for another replay
    already_replayed: int = 0  # selected, but in the ledger
    unreadable: int = 0  # no readable dead-letter context

    @property
    def replayed(self) -> int:
        return len(self.items)

    @property
    def by_target(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.target] = counts.get(item.target, 0) + 1
        return counts


def replay_dead_letters(
    kafka: KafkaSettings,
    ledger_conninfo: str,
    dlq_topic: str,
    *,
    selection: ReplayFilter = ReplayFilter(),
    limit: int | None = None,
    since: datetime | None = None,
    dry_run: bool = False,
    requested_by: str = "cli",
) -> ReplayReport:
    """Replay the selected dead letters not replayed before, up to the topic's end as it
    was at the start (see the module docstring); ``since`` starts reading at that time.

    Raises ``ValueError`` for a topic that is not a dead-letter topic of ``kafka``'s
    prefix, :class:`hookline.replay_ledger.ReplayBusy` while another replay of the topic
    runs, :class:`ReplayError` when reading or producing fails.
    """
    target = replay_target(Topics(kafka.topic_prefix), dlq_topic)
    report = ReplayReport(dry_run=dry_run)
    with (
        ReplayLedger.connect(ledger_conninfo) as ledger,
        nullcontext() if dry_run else ledger.hold(dlq_topic),
        closing(read_to_captured_end(kafka, dlq_topic, since)) as records,
    ):
        sender = None if dry_run else _Sender(kafka, ledger, target, requested_by)
        for batch in _chunks(_selected(records, selection, report), _BATCH):
            done = ledger.replayed(dlq_topic, [d.position for d in batch])
            fresh = [d for d in batch if d.position not in done]
            report.already_replayed += len(batch) - len(fresh)
            if limit is not None:
                fresh = fresh[: limit - report.replayed]
            if sender is None:
                report.items += [ReplayItem.of(d, target) for d in fresh]
            else:
                report.items += sender.send(fresh)
            if limit is not None and report.replayed >= limit:
                break
    return report


def replay_one(
    kafka: KafkaSettings,
    ledger_conninfo: str,
    dlq_topic: str,
    partition: int,
    offset: int,
    *,
    requested_by: str,
) -> ReplayItem | None:
    """Replay the one dead letter at ``partition``:``offset`` of ``dlq_topic`` with the
    same guarantees as :func:`replay_dead_letters` (ledger, lock, target); None when it
    was replayed before. ``LookupError`` when no readable dead letter is there, else the
    errors of :func:`replay_dead_letters`."""
    target = replay_target(Topics(kafka.topic_prefix), dlq_topic)
    with ReplayLedger.connect(ledger_conninfo) as ledger, ledger.hold(dlq_topic):
        if ledger.replayed(dlq_topic, [(partition, offset)]):
            return None
        msg = read_one(kafka, dlq_topic, partition, offset)
        letter = DeadLetter.from_message(msg) if msg is not None else None
        if letter is None:
            raise LookupError(f"no readable dead letter at {dlq_topic}:{partition}:{offset}")
        return _Sender(kafka, ledger, target, requested_by).send([letter])[0]


@dataclass(frozen=True, slots=True)
class PositionsReport:
    """What :func:`replay_positions` did with each position asked for."""

    replayed: list[tuple[int, int]]
    already_replayed: list[tuple[int, int]]  # in the ledger before: not replayed again
    missing: list[tuple[int, int]]  # no readable dead letter there (gone, unreadable)


def replay_positions(
    kafka: KafkaSettings,
    ledger_conninfo: str,
    dlq_topic: str,
    positions: Sequence[tuple[int, int]],
    *,
    requested_by: str,
) -> PositionsReport:
    """Replay the dead letters at these (partition, offset) positions of ``dlq_topic``
    (one chunk of a bulk replay) with the guarantees of :func:`replay_dead_letters`:
    the ledger, the topic's lock, the target. Raises as :func:`replay_dead_letters`; on a
    :class:`ReplayError` the acknowledged replays are in the ledger already."""
    target = replay_target(Topics(kafka.topic_prefix), dlq_topic)
    with ReplayLedger.connect(ledger_conninfo) as ledger, ledger.hold(dlq_topic):
        done = ledger.replayed(dlq_topic, positions)
        fresh = [p for p in dict.fromkeys(positions) if p not in done]
        messages = read_positions(kafka, dlq_topic, fresh) if fresh else {}
        letters = {p: DeadLetter.from_message(m) for p, m in messages.items()}
        readable = [d for d in letters.values() if d is not None]
        sent = _Sender(kafka, ledger, target, requested_by).send(readable) if readable else []
    return PositionsReport(
        replayed=[(i.partition, i.offset) for i in sent],
        already_replayed=sorted(done),
        missing=[p for p in fresh if letters.get(p) is None],
    )


def _selected(
    records: Iterator[Message], selection: ReplayFilter, report: ReplayReport
) -> Iterator[DeadLetter]:
    for msg in records:
        letter = DeadLetter.from_message(msg)
        if letter is None:
            report.unreadable += 1
        elif not selection.accepts(letter):
            report.skipped += 1
        else:
            yield letter


def _chunks(letters: Iterator[DeadLetter], size: int) -> Iterator[list[DeadLetter]]:
    chunk: list[DeadLetter] = []
    for letter in letters:
        chunk.append(letter)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Sender:
    """Produces replays, waits for every acknowledgement, then records the acknowledged."""

    def __init__(
        self, kafka: KafkaSettings, ledger: ReplayLedger, target: ReplayTarget, by: str
    ) -> None:
        self._producer = Producer(producer_config(kafka, "replay"))
        self._timeout = kafka.delivery_timeout_ms / 1000 + 5
        self._ledger = ledger
        self._target = target
        self._by = by

    def send(self, letters: list[DeadLetter]) -> list[ReplayItem]:
        """The items replayed; :class:`ReplayError` when any was not acknowledged (those
        that were are recorded in the ledger first)."""
        landed: dict[int, tuple[int, int]] = {}
        errors: list[KafkaError] = []
        now_ms = int(time.time() * 1000)
        for index, letter in enumerate(letters):

            def on_delivery(err: KafkaError | None, msg: Message, index: int = index) -> None:
                if err is not None:
                    errors.append(err)
                else:
                    landed[index] = (msg.partition() or 0, msg.offset() or 0)

            headers: list[tuple[str, str | bytes | None]] = [*self._target.headers(letter, now_ms)]
            self._producer.produce(
                self._target.topic,
                key=letter.record.key,
                value=letter.record.value,
                headers=headers,
                on_delivery=on_delivery,
            )
        unsent = self._producer.flush(self._timeout)
        acknowledged = [(letters[i], landed[i]) for i in sorted(landed)]
        sent_at = datetime.fromtimestamp(now_ms / 1000, UTC)
        rows = [_ledger_row(d, self._target, at, self._by, sent_at) for d, at in acknowledged]
        self._ledger.record(rows)
        if errors or unsent:
            reason = errors[0].str() if errors else "delivery timed out"
            raise ReplayError(
                f"{len(letters) - len(acknowledged)} replays to {self._target.topic} were not "
                f"acknowledged ({reason}); the acknowledged ones are recorded"
            )
        return [ReplayItem.of(d, self._target) for d, _ in acknowledged]


def _ledger_row(
    letter: DeadLetter,
    target: ReplayTarget,
    landed: tuple[int, int],
    requested_by: str,
    sent_at: datetime,
) -> LedgerRow:
    c = letter.context
    return LedgerRow(
        dlq_topic=target.dlq_topic,
        dlq_partition=letter.record.partition,
        dlq_offset=letter.record.offset,
        record_key=letter.record.key,
        original_topic=c.topic,
        stage=c.stage,
        component=c.component,
        exception_class=c.exception_class,
        target_topic=target.topic,
        target_partition=landed[0],
        target_offset=landed[1],
        requested_by=requested_by,
        sent_at=sent_at,
    )
