"""The faust worker: raw webhooks -> dedupe -> normalise -> normalised topics.

Delivery semantics (proven by ``tests/integration/test_processors.py``'s crash test):

- one agent, ``concurrency=1``, ``processing_guarantee="at_least_once"``: faust commits a
  source offset only after the agent acked the record, and with concurrency above 1
  faust-streaming is known to commit past unfinished records. ``exactly_once`` is not
  used (unreliable in faust-streaming).
- the agent takes records in batches (``noack_take``: up to :data:`BATCH_MAX`, waiting at
  most :data:`BATCH_WITHIN_SECONDS` for a batch to fill) and acks them itself, only once
  every output of the batch (and every dead letter) is acknowledged by the broker, so a
  commit never covers an unwritten output. A batch cut short (shutdown, crash) is not
  acked: its records are delivered again. A crash between output and commit re-delivers
  the record: its outputs are produced again with the same CloudEvents ``id``
  (deterministic), which consumers dedupe.
- within a batch, records are handled in order as if one by one: a record's key is
  remembered only after its outputs are acknowledged, and a record whose key an earlier
  record of the batch still has in flight waits for that record to settle first. One
  produce request then carries many records' outputs instead of one round trip each.
- every exception is caught and the record dead-lettered: an agent that died would
  stall its partitions silently. Only the dead-letter write itself is retried forever
  (Kafka down means nothing can progress; skipping would lose the record).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import faust
from faust.streams import _current_event
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hookline.dead_letter import SourceRecord, build_context, dead_letter_headers, header_list
from hookline.kafka_clients import producible_bytes
from hookline.logs import get_logger
from hookline.metrics import new_registry
from hookline.settings import ProcessorSettings, Settings
from hookline.topics import Topics
from processors.dedupe import Deduper
from processors.kafka_security import broker_credentials
from processors.metrics import ProcessorMetrics
from processors.normalisers import normalise as default_normalise
from processors.pipeline import Normalise, Output, transform

log = get_logger("hookline.processors")
_DLQ_RETRY_SECONDS = 1.0
#: Most records the agent takes at once; their outputs share produce requests.
BATCH_MAX = 500
#: Longest wait for a batch to fill: the latency a lone record may gain.
BATCH_WITHIN_SECONDS = 0.01
_PRODUCER_LINGER_SECONDS = 0.005


def app_id(settings: Settings) -> str:
    return settings.processors.app_id or f"{settings.kafka.topic_prefix}-processors"


def dedupe_store_options(settings: ProcessorSettings) -> dict[str, int]:
    """RocksDB options of the dedupe table. Memory is bounded by these (per partition),
    not by the number of keys, which live on disk; faust's defaults (64 MiB buffers, a
    2 GiB block cache) would let it grow to gigabytes first."""
    return {
        "ttl": settings.dedupe_horizon_seconds,
        "write_buffer_size": settings.dedupe_write_buffer_bytes,
        "max_write_buffer_number": 2,
        "block_cache_size": settings.dedupe_block_cache_bytes,
        "block_cache_compressed_size": settings.dedupe_block_cache_bytes // 4,
    }


def create_app(
    settings: Settings,
    normalise: Normalise = default_normalise,
    registry: CollectorRegistry | None = None,
) -> faust.App:
    topics = Topics(settings.kafka.topic_prefix)
    partitions = settings.kafka.default_partitions
    horizon = settings.processors.dedupe_horizon_seconds
    app = faust.App(
        app_id(settings),
        broker=[f"kafka://{s}" for s in settings.kafka.bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(settings.kafka),
        # The changelog topic faust creates is replicated like the topics we create.
        topic_replication_factor=settings.kafka.replication_factor,
        store=settings.processors.store,
        datadir=str(settings.processors.data_dir),
        processing_guarantee="at_least_once",
        topic_partitions=partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # A batch's outputs and dedupe changelog writes share produce requests rather
        # than going one request per record.
        producer_linger=_PRODUCER_LINGER_SECONDS,
        # A passthrough event is as large as its webhook: the same limits as every client
        # (aiokafka's defaults, 1,000,000 and 1 MiB, are under the ingress's body limit).
        producer_max_request_size=producible_bytes(settings.kafka),
        consumer_max_fetch_size=settings.kafka.max_message_bytes,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # A worker that died is noticed after the session timeout; faust's 60 s default
        # would stall its partitions for a minute after every crash.
        broker_session_timeout=settings.processors.session_timeout_seconds,
        broker_heartbeat_interval=settings.processors.session_timeout_seconds / 5,
        web_enabled=settings.processors.web_port > 0,
        web_port=max(settings.processors.web_port, 1),
        web_host=settings.processors.web_host,
    )
    raw_topic = app.topic(
        topics.raw_webhooks,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    table = app.Table(
        "dedupe",
        default=None,
        partitions=partitions,
        key_type=str,
        value_type=float,
        options=dedupe_store_options(settings.processors),
        extra_topic_configs={
            "cleanup.policy": "compact,delete",
            "min.insync.replicas": str(settings.kafka.min_insync_replicas),
            "max.message.bytes": str(settings.kafka.max_message_bytes),
            "retention.ms": str(int(timedelta(seconds=horizon).total_seconds() * 1000)),
        },
    )
    worker = _Worker(
        app,
        topics,
        Deduper(table, horizon),
        normalise,
        ProcessorMetrics(registry := registry or new_registry()),
    )

    @app.agent(raw_topic, concurrency=1, name="normalise")
    async def normalise_agent(stream: Any) -> None:
        async for events in stream.noack_take(BATCH_MAX, within=BATCH_WITHIN_SECONDS):
            await worker.handle_batch(events)
            for event in events:  # only now may a commit cover them
                await stream.ack(event)

    @app.page("/metrics")
    async def metrics_page(web: Any, _request: Any) -> Any:
        # As a header: aiohttp rejects a content_type argument that carries a charset.
        return web.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: Any, _request: Any) -> Any:
        return web.json({"status": "alive"})

    del normalise_agent, metrics_page, healthz  # registered on the app by the decorators
    return app


@dataclass(slots=True)
class _InFlight:
    """A record whose outputs are sent and not yet acknowledged."""

    event: Any
    record: SourceRecord
    provider: str
    key: str
    seen_at: float
    started: float
    sent: list[Awaitable[Any]] = field(default_factory=list)
    families: list[str] = field(default_factory=list)


class _Worker:
    """What the agent does per batch; kept apart from faust's decorators to stay readable."""

    def __init__(
        self,
        app: faust.App,
        topics: Topics,
        deduper: Deduper,
        normalise: Normalise,
        metrics: ProcessorMetrics,
    ) -> None:
        self._app = app
        self._topics = topics
        self._deduper = deduper
        self._normalise = normalise
        self._metrics = metrics

    async def handle_batch(self, events: Sequence[Any]) -> None:
        """Handle the records in order; return once every one of them is settled."""
        flights: list[_InFlight] = []
        keys: set[str] = set()
        for event in events:
            key = (event.message.key or b"").decode()
            if key and key in keys:
                # A redelivery of a record still in flight: its verdict depends on that
                # record's outcome, as if they had been handled one by one.
                await self._settle(flights)
                flights, keys = [], set()
            flight = await self._start(event, key)
            if flight is not None:
                flights.append(flight)
                keys.add(key)  # "" (no key: never deduped) is never looked up
        await self._settle(flights)

    async def _start(self, event: Any, key: str) -> _InFlight | None:
        """Dedupe, normalise and send; None when the record is already settled."""
        record = _source_record(event)
        provider = _header(record.headers, "hookline-provider") or "unknown"
        flight = _InFlight(event, record, provider, key, time.time(), time.perf_counter())
        try:
            with _current(event):
                if key and self._deduper.is_duplicate(key, flight.seen_at):
                    self._count(flight, "duplicate")
                    return None
            outputs = transform(record.headers, record.value, self._topics, self._normalise)
            for output in outputs:
                flight.sent.append(await self._send(output))
                flight.families.append(output.topic.rsplit(".", 1)[-1])
        except Exception as exc:  # every failure becomes a dead letter
            await self._dead_letter(record, exc)
            self._count(flight, "dead_lettered")
            return None
        return flight

    async def _settle(self, flights: list[_InFlight]) -> None:
        """Wait for every output (acks=all); remember the keys of records fully written."""
        results = await asyncio.gather(
            *(asyncio.gather(*f.sent) for f in flights), return_exceptions=True
        )
        for flight, result in zip(flights, results, strict=True):
            if isinstance(result, Exception):
                error: Exception | None = result
            elif isinstance(result, BaseException):  # cancelled: not ours to swallow
                raise result
            else:
                error = self._remember(flight)
            if error is not None:
                await self._dead_letter(flight.record, error)
                self._count(flight, "dead_lettered")
                continue
            for family in flight.families:
                self._metrics.events.labels(family).inc()
            self._count(flight, "forwarded")

    def _remember(self, flight: _InFlight) -> Exception | None:
        if not flight.key:
            return None
        try:
            with _current(flight.event):
                self._deduper.remember(flight.key, flight.seen_at)
        except Exception as exc:  # every failure becomes a dead letter
            return exc
        return None

    async def _send(self, output: Output) -> Awaitable[Any]:
        """Queue one output; the awaitable resolves on the broker's acknowledgement.

        Straight to the app's producer (the one faust commits and flushes with): faust's
        topic objects add a message wrapper, sensors and a debug log line per record,
        which cost more CPU than normalising it.
        """
        sent: Awaitable[Any] = await self._app.producer.send(
            output.topic,
            output.key,
            output.value,
            partition=None,  # the producer's (Java-compatible) key partitioner
            timestamp=None,
            headers=list(output.headers),
        )
        return sent

    def _count(self, flight: _InFlight, outcome: str) -> None:
        self._metrics.records.labels(flight.provider, outcome).inc()
        self._metrics.latency.observe(time.perf_counter() - flight.started)

    async def _dead_letter(self, record: SourceRecord, exc: Exception) -> None:
        context = build_context(record, stage="normalise", component="processors", error=exc)
        self._metrics.dead_letters.labels(type(exc).__name__).inc()
        log.warning(
            "record dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=type(exc).__name__,
            reason=context.exception_message,
        )
        dlq = self._app.topic(self._topics.raw_dead_letter)
        while True:
            try:
                fut = await dlq.send(
                    key=record.key,
                    value=record.value,
                    headers=dead_letter_headers(record, context),
                    timestamp=record.timestamp_ms / 1000 if record.timestamp_ms else None,
                    key_serializer="raw",
                    value_serializer="raw",
                )
                await fut
            except Exception:  # Kafka unavailable: wait, never drop the record
                log.exception("dead-letter write failed; retrying", topic=record.topic)
                await asyncio.sleep(_DLQ_RETRY_SECONDS)
            else:
                return


@contextmanager
def _current(event: Any) -> Iterator[None]:
    """Make ``event`` faust's current event while a table is used: a table reads and writes
    the partition of the current event (its changelog partition too), and ``noack_take``
    sets it only in the task that fills the batch, not in the agent's (faust has no public
    setter, hence its private context variable)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def _source_record(event: Any) -> SourceRecord:
    message = event.message
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value or b"",
        headers=header_list(message.headers),
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None
