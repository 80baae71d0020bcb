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
  acked: its records are delivered again. The batch's keys are remembered (RocksDB and
  the table's changelog, acknowledged: :mod:`processors.dedupe_table`) before it is
  acked. A crash between output and commit re-delivers
  the record: its outputs are produced again with the same CloudEvents ``id``
  (deterministic), which consumers dedupe.
- within a batch, records are handled in order as if one by one: a record's key is
  remembered only after its outputs are acknowledged, and a record whose key an earlier
  record of the batch still has in flight waits for that record to settle first. One
  produce request then carries many records' outputs instead of one round trip each.
- the next batch is handled while the previous one settles (its acknowledgements awaited,
  its keys remembered, then its records acked): at most two batches in flight, acked in
  order; a record whose key the settling batch holds waits for it (the same rule across
  the two batches). Without it the worker idled for every batch's acknowledgements
  (about a quarter of its time: bench/bench_processors.py).
- every exception is caught and the record dead-lettered (:mod:`processors.worker`): an
  agent that died would stall its partitions silently. The dead-letter write itself is
  retried forever, with backoff (:mod:`processors.dead_letters`; skipping would lose the
  record); while it fails, ``/readyz`` answers 503 and a metric and error logs say so.
- after a rebalance faust seeks the partitions to their committed offsets before it
  fetches from them (:mod:`processors.recovery`: faust-streaming did it the other way
  round, which stalled partitions and skipped records). Should records be skipped anyway
  (never delivered, yet about to be committed), they are found by their offsets and read
  again before the records after them are acked (:mod:`processors.skipped`).
- a write Kafka cannot take for now (a broker restarting, no leader, timed out) is no
  failure of the record: it is sent again until Kafka takes it, its batch unacked
  meanwhile (:mod:`processors.resend`); only a record Kafka refuses for good (too large,
  invalid) is dead-lettered.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import faust
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hookline.kafka_clients import AsyncProducer, producer_config, producible_bytes
from hookline.metrics import new_registry
from hookline.settings import ProcessorSettings, Settings
from hookline.topics import Topics
from hookline.tracing import create_tracer
from processors.dedupe_table import DedupeTable
from processors.kafka_security import broker_credentials
from processors.metrics import ProcessorMetrics
from processors.normalisers import normalise as default_normalise
from processors.pipeline import Normalise
from processors.recovery import SeekFirstTableManager
from processors.skipped import SkipFiller, SkippedRecords
from processors.worker import BatchWorker, source_record

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
        # faust's own producer (outputs and the dedupe changelog go through the worker's
        # confluent-kafka producer, processors.dedupe_table): batched all the same.
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
        # Static membership: a restarted worker rejoins as itself, so it neither waits out its
        # old session nor moves the dedupe table's partitions to another worker and back.
        consumer_group_instance_id=settings.processors.instance_id or None,
        web_enabled=settings.processors.web_port > 0,
        web_port=max(settings.processors.web_port, 1),
        web_host=settings.processors.web_host,
        # Seek partitions to their committed offsets before fetching (processors.recovery).
        TableManager=SeekFirstTableManager,
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
    # Outputs and the dedupe table's changelog records (see processors.dedupe_table).
    producer = AsyncProducer(producer_config(settings.kafka, "processors"))
    worker = BatchWorker(
        app,
        topics,
        deduper=DedupeTable(table, producer, horizon),
        normalise=normalise,
        metrics=(metrics := ProcessorMetrics(registry := registry or new_registry())),
        output_producer=producer,
        # Its own producer: see processors.dead_letters. It connects on its first send.
        dead_letter_producer=AsyncProducer(producer_config(settings.kafka, "processors-dlq")),
        max_record_bytes=producible_bytes(settings.kafka),
        tracer=create_tracer(settings.tracing, "hookline-processors"),
    )

    async def ack_when_settled(stream: Any, settling: Any, events: Any) -> None:
        await settling
        for event in events:  # only now may a commit cover them
            await stream.ack(event)

    # Ranges faust skipped after a rebalance, read again (processors.skipped).
    skips = SkipFiller(
        SkippedRecords(
            settings.kafka,
            f"{app_id(settings)}-skipped",
            lambda skipped: metrics.skipped.inc(skipped.end - skipped.start),
        )
    )

    @app.on_partitions_revoked.connect
    async def forget_revoked(_app: Any, /, *args: Any, signal: Any, **_: Any) -> None:
        [revoked] = args  # the revoked partitions (faust's signal sends them alone)
        skips.forget(revoked)

    @app.agent(raw_topic, concurrency=1, name="normalise")
    async def normalise_agent(stream: Any) -> None:
        # Two batches at most: one settling (acknowledgements awaited, then acked) while
        # the next is handled; batches are acked in order.
        acking: asyncio.Future[None] | None = None
        try:
            async for events in stream.noack_take(BATCH_MAX, within=BATCH_WITHIN_SECONDS):
                delivered = [source_record(event) for event in events]
                settling = await worker.start_batch(await skips.records(delivered))
                if acking is not None:
                    await acking
                acking = asyncio.ensure_future(ack_when_settled(stream, settling, events))
            if acking is not None:
                await acking
        finally:
            if acking is not None and not acking.done():
                acking.cancel()  # stopping: what is not settled is not acked

    @app.page("/metrics")
    async def metrics_page(web: Any, _request: Any) -> Any:
        # As a header: aiohttp rejects a content_type argument that carries a charset.
        return web.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: Any, _request: Any) -> Any:
        return web.json({"status": "alive"})

    @app.page("/readyz")
    async def readyz(web: Any, _request: Any) -> Any:
        # Not ready while a dead letter cannot be written: every partition of this worker
        # waits for it (the process stays up; see processors.dead_letters).
        blocked = worker.dead_letters.blocked_topic
        if blocked is not None:
            return web.json({"status": "dead_letter_blocked", "topic": blocked}, status=503)
        return web.json({"status": "ready"})

    del normalise_agent, metrics_page, healthz, readyz  # registered by the decorators
    return app
