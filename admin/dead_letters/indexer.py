"""The dead-letter indexer: every record of the prefix's dead-letter topics, into the
``dead_letters`` table, so the API can filter and page without reading Kafka.

Guarantees: a record's offset is committed only after its row is written (the batch's
transaction committed), so a crash re-reads and re-writes, and the primary key (topic,
partition, offset) makes that harmless. Topics are matched by a regular expression
(``{p}.raw.webhooks.dlq`` and ``{p}.connector.<name>.dlq``), so a connector added later
is indexed without a restart (within the metadata refresh interval). A record without
readable ``hookline.errors.*`` context is indexed too, its context columns NULL. Payloads
longer than ``admin.payload_max_bytes`` are cut (``payload_bytes`` keeps the full size);
replay always reads the full record from Kafka. Blocking: run it in a thread.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from psycopg.types.json import Jsonb

from hookline.dead_letter import SourceRecord
from hookline.kafka_clients import consumer_config
from hookline.logs import get_logger
from hookline.replay import DeadLetter
from hookline.settings import Settings
from schemas.events import EVENT_ID_HEADER
from schemas.text import without_nul

_BATCH = 500
_METADATA_REFRESH_MS = 5000  # how soon a new connector's dead-letter topic is subscribed
_RETRY_SECONDS = 2.0
_PROVIDER_ID = "hookline-event-id"  # schemas.raw: the raw record's provider event id
_ID_HEADERS = (EVENT_ID_HEADER, _PROVIDER_ID)

_INSERT = (
    'INSERT INTO dead_letters (topic, partition, "offset", record_key, headers, payload,'
    " payload_bytes, record_timestamp, connector, stage, component, exception_class,"
    " exception_message, http_status, attempts, source, original_topic,"
    " original_partition, original_offset, failed_at, event_id, provider_event_id)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
    " %s, %s, %s) ON CONFLICT DO NOTHING"
)


def topic_pattern(prefix: str) -> str:
    """librdkafka subscribes by regex when a name starts with ``^``."""
    p = re.escape(prefix)
    return rf"^{p}\.(raw\.webhooks|connector\.[^.]+)\.dlq$"


def connector_of(prefix: str, topic: str) -> str | None:
    match = re.fullmatch(rf"{re.escape(prefix)}\.connector\.([^.]+)\.dlq", topic)
    return match.group(1) if match else None


class DeadLetterIndexer:
    def __init__(self, settings: Settings) -> None:
        self._kafka = settings.kafka
        self._conninfo = settings.postgres.conninfo()
        self._cap = settings.admin.payload_max_bytes
        self._group = settings.admin.indexer_group_id or f"{self._kafka.topic_prefix}-admin-indexer"
        self._log = get_logger("hookline.admin.indexer")

    def run(self, stop: threading.Event) -> None:
        """Index until ``stop`` is set; PostgreSQL or Kafka failures restart from the last
        committed offsets after a pause."""
        while not stop.is_set():
            try:
                self._run_once(stop)
            except (psycopg.Error, KafkaException) as exc:
                self._log.warning("indexer restarting", error=type(exc).__name__)
                stop.wait(_RETRY_SECONDS)

    def _run_once(self, stop: threading.Event) -> None:
        config = {
            **consumer_config(self._kafka, self._group, "admin-indexer"),
            "topic.metadata.refresh.interval.ms": _METADATA_REFRESH_MS,
        }
        consumer = Consumer(config)
        try:
            consumer.subscribe([topic_pattern(self._kafka.topic_prefix)])
            with psycopg.connect(self._conninfo) as conn:
                while not stop.is_set():
                    messages = consumer.consume(_BATCH, 0.5)
                    records = [m for m in messages if m.error() is None]
                    if records:
                        self._write(conn, records)
                        consumer.commit(offsets=_next_offsets(records), asynchronous=False)
        finally:
            consumer.close()

    def _write(self, conn: psycopg.Connection[Any], messages: list[Message]) -> None:
        # A dead letter's texts come from what failed (a provider's ids, an error quoting
        # its input): U+0000, which PostgreSQL's text refuses, would stop the index there.
        rows = [tuple(without_nul(v) for v in self._row(m)) for m in messages]
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(_INSERT, rows)

    def _row(self, msg: Message) -> tuple[Any, ...]:
        letter = DeadLetter.from_message(msg)
        record = letter.record if letter else SourceRecord.from_message(msg)
        c = letter.context if letter else None
        headers = [[n, base64.b64encode(v).decode()] for n, v in record.headers]
        return (
            record.topic,
            record.partition,
            record.offset,
            record.key,
            Jsonb(headers, dumps=lambda v: orjson.dumps(v).decode()),
            record.value[: self._cap],
            len(record.value),
            _timestamp(record.timestamp_ms),
            connector_of(self._kafka.topic_prefix, record.topic),
            c.stage if c else None,
            c.component if c else None,
            c.exception_class if c else None,
            c.exception_message if c else None,
            c.http_status if c else None,
            c.attempts if c else None,
            letter.source if letter else None,
            c.topic if c else None,
            c.partition if c else None,
            c.offset if c else None,
            c.failed_at if c else None,
            *event_ids(record.headers, record.value),
        )


def event_ids(headers: Sequence[tuple[str, bytes]], value: bytes) -> tuple[str | None, str | None]:
    """(CloudEvents id, provider event id) of a dead letter, for the event lookup: from
    Hookline's headers (a raw record's ``hookline-event-id``, a normalised record's
    ``hookline-cloudevent-id``), else from a CloudEvent body (``id``, ``providereventid``)."""
    named = {n: v.decode(errors="replace")[:200] for n, v in headers if n in _ID_HEADERS}
    event_id, provider_id = named.get(EVENT_ID_HEADER), named.get(_PROVIDER_ID)
    if provider_id is None:  # not a raw record: a normalised one carries a CloudEvent
        body = _cloudevent(value)
        event_id = event_id or _text(body.get("id"))
        provider_id = provider_id or _text(body.get("providereventid"))
    return event_id, provider_id


def _cloudevent(value: bytes) -> dict[str, Any]:
    if not value.startswith(b"{"):
        return {}
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) and "specversion" in body else {}


def _text(value: object) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _timestamp(ms: int | None) -> datetime | None:
    return None if ms is None or ms < 0 else datetime.fromtimestamp(ms / 1000, UTC)


def _next_offsets(messages: list[Message]) -> list[TopicPartition]:
    ends: dict[tuple[str, int], int] = {}
    for m in messages:
        key = (m.topic() or "", m.partition() or 0)
        ends[key] = max(ends.get(key, -1), (m.offset() or 0) + 1)
    return [TopicPartition(t, p, o) for (t, p), o in ends.items()]
