"""What the faust agent does with one batch of raw records (see :mod:`processors.app` for the
delivery semantics).

Guarantee: nothing a record contains escapes the dead-letter path. The record is read from
the consumed message by code that cannot fail on content; everything that looks into it
(key decoding, dedupe, normalising, producing, remembering) runs under one ``except`` that
dead-letters the record, so :meth:`BatchWorker.start_batch` and the settling it returns
end normally for any batch and the agent never restarts (a restarted agent would ack
records it never handled).
Only cancellation (shutdown) leaves it early, and then nothing of the batch is acked.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust

from hookline.dead_letter import SourceRecord, build_context, header_list
from hookline.kafka_clients import AsyncProducer, PublishError
from hookline.logs import get_logger
from hookline.topics import Topics
from hookline.tracing import TRACESTATE, Span, Tracer, bound, header
from processors.dead_letters import DeadLetterWriter
from processors.dedupe_table import DedupeTable
from processors.metrics import ProcessorMetrics
from processors.pipeline import (
    Normalise,
    Output,
    OutputTooLarge,
    check_size,
    dedupe_key,
    provider_label,
    transform,
)
from processors.resend import Resender, resendable

log = get_logger("hookline.processors")


@dataclass(slots=True)
class _InFlight:
    """One record of the batch; ``sent`` holds its outputs not yet acknowledged."""

    record: SourceRecord
    provider: str
    seen_at: float
    started: float
    span: Span  # continues the raw record's traceparent; ends when the record is counted
    key: str = ""
    outputs: list[Output] = field(default_factory=list)
    sent: list[Awaitable[Any]] = field(default_factory=list)  # one per output
    families: list[str] = field(default_factory=list)
    refused: Exception | None = None  # why an output can never be written


class BatchWorker:
    def __init__(
        self,
        app: faust.App,
        topics: Topics,
        *,
        deduper: DedupeTable,
        normalise: Normalise,
        metrics: ProcessorMetrics,
        output_producer: AsyncProducer,
        dead_letter_producer: AsyncProducer,
        max_record_bytes: int,
        tracer: Tracer | None = None,
    ) -> None:
        self._app = app
        self._outputs = output_producer
        self._max_record_bytes = max_record_bytes
        self._tracer = tracer or Tracer()
        self._topics = topics
        self._deduper = deduper
        self._normalise = normalise
        self._metrics = metrics
        self.dead_letters = DeadLetterWriter(dead_letter_producer, topics.raw_dead_letter, metrics)
        self._resend = Resender(metrics)
        # The last batch's settling and its keys (see start_batch).
        self._settling: tuple[asyncio.Future[None] | None, set[str]] = (None, set())

    async def start_batch(self, records: Sequence[SourceRecord]) -> asyncio.Future[None]:
        """Dedupe, normalise and send the records in order (dead-lettering what fails);
        return the batch's settling: done once every record is settled (its outputs
        acknowledged and its key remembered, or its dead letter acknowledged).

        The next batch can start while this one settles: the brokers' acknowledgements
        (``acks=all``) then overlap the next batch's work instead of idling the loop. A
        record whose key is still settling in the previous batch (a redelivery) waits for
        that batch first: its verdict depends on that record's outcome."""
        flights: list[_InFlight] = []
        keys: set[str] = set()
        previous, previous_keys = self._settling
        for record in records:
            provider = provider_label(_header(record.headers, "hookline-provider"))
            flight = _InFlight(
                record,
                provider,
                time.time(),
                time.perf_counter(),
                self._tracer.start(
                    "normalise",
                    header(record.headers),
                    kind="consumer",
                    state=header(record.headers, TRACESTATE),
                ),
            )
            try:
                flight.key = dedupe_key(record.key)
            except Exception as exc:  # every failure becomes a dead letter
                await self._fail(flight, exc)
                continue
            if previous is not None and flight.key in previous_keys and not previous.done():
                await asyncio.shield(previous)  # the previous batch's outcome decides
            if flight.key and flight.key in keys:
                # A redelivery of a record still in flight: its verdict depends on that
                # record's outcome, as if they had been handled one by one.
                await self._settle(flights)
                flights, keys = [], set()
            if await self._start(flight):
                flights.append(flight)
                keys.add(flight.key)  # "" (no key: never deduped) is never looked up
        settling = asyncio.ensure_future(self._settle(flights))
        self._settling = (settling, keys)
        return settling

    async def _start(self, flight: _InFlight) -> bool:
        """Dedupe, normalise and send; False when the record is already settled."""
        with bound(flight.span.traceparent):  # its log lines carry its trace id
            return await self._start_traced(flight)

    async def _start_traced(self, flight: _InFlight) -> bool:
        try:
            record = flight.record
            seen_at = flight.seen_at
            if flight.key and self._deduper.is_duplicate(record.partition, flight.key, seen_at):
                self._count(flight, "duplicate")
                return False
            trace = flight.span.traceparent
            outputs = transform(
                record.headers,
                record.value,
                self._topics,
                self._normalise,
                trace.header,
                tracestate=trace.state,
            )
            for output in check_size(outputs, self._max_record_bytes):
                flight.outputs.append(output)
                flight.sent.append(self._send(output))
                flight.families.append(output.topic.rsplit(".", 1)[-1])
        except Exception as exc:  # every failure becomes a dead letter
            await self._fail(flight, exc)
            return False
        return True

    async def _settle(self, flights: list[_InFlight]) -> None:
        """Wait for every output (acks=all); remember the keys of records fully written."""
        await self._written(flights)
        written: list[_InFlight] = []
        for flight in flights:
            if flight.refused is not None:
                await self._fail(flight, flight.refused)
            else:
                written.append(flight)
        failed = await self._remember(written)
        forwarded: Counter[str] = Counter()
        for flight in written:
            if flight.key in failed:
                await self._fail(flight, failed[flight.key])
                continue
            forwarded.update(flight.families)
            self._count(flight, "forwarded")
        for family, count in forwarded.items():
            self._metrics.events.labels(family).inc(count)

    async def _written(self, flights: list[_InFlight]) -> None:
        """Return once every output is acknowledged or refused for good (``refused`` set on
        its record); an output Kafka could not take for now is sent again until it does
        (:mod:`processors.resend`)."""
        waiting = [(flight, n) for flight in flights for n in range(len(flight.sent))]
        attempt = 0
        while waiting:
            results = await asyncio.gather(*(f.sent[n] for f, n in waiting), return_exceptions=True)
            again: list[tuple[_InFlight, int]] = []
            cause: Exception | None = None
            for (flight, n), result in zip(waiting, results, strict=True):
                error = _first_error([result])
                if error is not None and self._resendable(error):
                    again.append((flight, n))
                    cause = error
                elif error is not None and flight.refused is None:
                    flight.refused = error
            if cause is not None:
                attempt += 1
                await self._resend.pause(attempt, cause, "output")
                for flight, n in again:
                    flight.sent[n] = self._send(flight.outputs[n])
            waiting = again

    async def _remember(self, flights: list[_InFlight]) -> dict[str, Exception]:
        """Remember the keys of ``flights``, a batch per partition; the keys whose
        partition could not be written, with the error."""
        by_partition: defaultdict[int, dict[str, float]] = defaultdict(dict)
        for flight in flights:
            if flight.key:
                by_partition[flight.record.partition][flight.key] = flight.seen_at
        partitions = list(by_partition.items())
        results = await asyncio.gather(
            *(self._remember_partition(p, keys) for p, keys in partitions), return_exceptions=True
        )
        failed: dict[str, Exception] = {}
        for (_, keys), result in zip(partitions, results, strict=True):
            error = _first_error([result])
            if error is not None:  # every failure becomes a dead letter
                failed.update(dict.fromkeys(keys, error))
        return failed

    async def _remember_partition(self, partition: int, keys: dict[str, float]) -> None:
        """Remember one partition's keys; sent again while Kafka cannot take them for now."""
        attempt = 0
        while True:
            try:
                return await self._deduper.remember(partition, keys)
            except Exception as exc:
                if not self._resendable(exc):
                    raise
                attempt += 1
                await self._resend.pause(attempt, exc, "changelog")

    def _resendable(self, error: BaseException) -> bool:
        # A producer that failed fatally (librdkafka's idempotence state lost) fails every
        # send: its records are dead-lettered, through the dead letters' own producer.
        return resendable(error) and self._outputs.fatal_error is None

    def _send(self, output: Output) -> Awaitable[Any]:
        """Queue one output; the awaitable resolves on the broker's acknowledgement.

        Through a confluent-kafka producer of its own (``acks=all``, idempotent, the same
        Java-compatible key partitioner as faust's): librdkafka batches, compresses and
        sends on its own threads, while faust's aiokafka producer would do that work in
        Python on the event loop, per record (measured: bench/bench_processors.py). A
        record is acked only after its outputs are, so faust's commit covers no output
        still in flight without any flush of this producer.
        """
        try:
            return self._outputs.send(output.topic, output.value, output.key, output.headers)
        except PublishError as exc:  # the local queue is full: settled like a failed delivery
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed

    def _count(self, flight: _InFlight, outcome: str) -> None:
        self._metrics.records.labels(flight.provider, outcome).inc()
        self._metrics.latency.observe(time.perf_counter() - flight.started)
        flight.span.end()

    async def _fail(self, flight: _InFlight, exc: Exception) -> None:
        """Dead-letter the record; return once the dead letter is acknowledged."""
        with bound(flight.span.traceparent):
            await self._fail_traced(flight, exc)

    async def _fail_traced(self, flight: _InFlight, exc: Exception) -> None:
        record = flight.record
        stage = "produce" if isinstance(exc, OutputTooLarge | PublishError) else "normalise"
        context = build_context(record, stage=stage, component="processors", error=exc)
        self._metrics.dead_letters.labels(type(exc).__name__).inc()
        log.warning(
            "record dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=type(exc).__name__,
            reason=context.exception_message[:300],
        )
        await self.dead_letters.write(record, context)
        self._count(flight, "dead_lettered")


def _first_error(results: Sequence[Any]) -> Exception | None:
    """The first exception among gathered results; cancellation is re-raised (not ours to
    swallow)."""
    for result in results:
        if isinstance(result, Exception):
            return result
        if isinstance(result, BaseException):
            raise result
    return None


def source_record(event: Any) -> SourceRecord:
    """The record of a faust event as it is: no decoding, so no record content can make
    it fail."""
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
