"""The faust worker: raw webhooks -> dedupe -> normalise -> normalised topics.

Delivery semantics (proven by ``tests/integration/test_processors.py``'s crash test):

- one agent, ``concurrency=1``, ``processing_guarantee="at_least_once"``: faust commits a
  source offset only after the agent moved past the record, and with concurrency above 1
  faust-streaming is known to commit past unfinished records. ``exactly_once`` is not
  used (unreliable in faust-streaming).
- for each record the agent awaits the broker's acknowledgement of every output (and of
  the dead letter, if any) before it moves on, so a commit never covers an unwritten
  output. A crash between output and commit re-delivers the record: its outputs are
  produced again with the same CloudEvents ``id`` (deterministic), which consumers dedupe.
- every exception is caught and the record dead-lettered: an agent that died would
  stall its partitions silently. Only the dead-letter write itself is retried forever
  (Kafka down means nothing can progress; skipping would lose the record).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import faust
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hookline.dead_letter import SourceRecord, build_context, dead_letter_headers
from hookline.logs import get_logger
from hookline.metrics import new_registry
from hookline.settings import Settings
from hookline.topics import Topics
from processors.dedupe import Deduper
from processors.metrics import ProcessorMetrics
from processors.normalisers import normalise as default_normalise
from processors.pipeline import Normalise, Output, transform

log = get_logger("hookline.processors")
_DLQ_RETRY_SECONDS = 1.0


def app_id(settings: Settings) -> str:
    return settings.processors.app_id or f"{settings.kafka.topic_prefix}-processors"


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
        store=settings.processors.store,
        datadir=str(settings.processors.data_dir),
        processing_guarantee="at_least_once",
        topic_partitions=partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # A worker that died is noticed after the session timeout; faust's 60 s default
        # would stall its partitions for a minute after every crash.
        broker_session_timeout=settings.processors.session_timeout_seconds,
        broker_heartbeat_interval=settings.processors.session_timeout_seconds / 5,
        web_enabled=settings.processors.web_port > 0,
        web_port=max(settings.processors.web_port, 1),
        web_host="127.0.0.1",
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
        options={"ttl": horizon},
        extra_topic_configs={
            "cleanup.policy": "compact,delete",
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
        async for event in stream.events():
            await worker.handle(event)

    @app.page("/metrics")
    async def metrics_page(web: Any, _request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    @app.page("/healthz")
    async def healthz(web: Any, _request: Any) -> Any:
        return web.json({"status": "alive"})

    del normalise_agent, metrics_page, healthz  # registered on the app by the decorators
    return app


class _Worker:
    """What the agent does per record; kept apart from faust's decorators to stay readable."""

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

    async def handle(self, event: Any) -> None:
        record = _source_record(event)
        provider = _header(record.headers, "hookline-provider") or "unknown"
        started = time.perf_counter()
        try:
            outcome = await self._process(record)
        except Exception as exc:  # every failure becomes a dead letter
            await self._dead_letter(record, exc)
            outcome = "dead_lettered"
        self._metrics.records.labels(provider, outcome).inc()
        self._metrics.latency.observe(time.perf_counter() - started)

    async def _process(self, record: SourceRecord) -> str:
        key = (record.key or b"").decode()
        now = time.time()
        if key and self._deduper.is_duplicate(key, now):
            return "duplicate"
        outputs = transform(record.headers, record.value, self._topics, self._normalise)
        await self._produce(outputs)
        if key:
            self._deduper.remember(key, now)
        for output in outputs:
            self._metrics.events.labels(output.topic.rsplit(".", 1)[-1]).inc()
        return "forwarded"

    async def _produce(self, outputs: Sequence[Output]) -> None:
        pending = [
            await self._app.topic(o.topic).send(
                key=o.key,
                value=o.value,
                headers=list(o.headers),
                key_serializer="raw",
                value_serializer="raw",
            )
            for o in outputs
        ]
        await asyncio.gather(*pending)  # every output acknowledged (acks=all)

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


def _source_record(event: Any) -> SourceRecord:
    message = event.message
    headers = message.headers or []
    if isinstance(headers, dict):
        headers = list(headers.items())
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value or b"",
        headers=[(k, v or b"") for k, v in headers],
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None
