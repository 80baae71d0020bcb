"""The processors' dead-letter writer: every record that cannot be normalised lands here.

Guarantees:

- :meth:`DeadLetterWriter.write` returns only once the dead letter is acknowledged by the
  broker (acks=all): the caller may then let a commit cover the source record. It never
  drops a record and never raises for anything the record contains.
- A dead letter Kafka refuses (too large for the producer or the topic: a huge header or
  body) is written again without the original value and headers, with the context saying
  so; the original stays in the raw topic at the partition and offset the context names,
  until retention.
- Dead letters go through a producer of their own (confluent-kafka, ``acks=all``,
  idempotent): a missing dead-letter topic then cannot hold up the faust producer's
  outputs (aiokafka keeps waiting for the metadata of a topic it was asked about). Each
  attempt ends within the producer's ``delivery_timeout_ms``.
- A write that fails for any other reason (the topic is missing, the principal is not
  authorised, Kafka is down) is retried with exponential backoff up to
  :data:`MAX_BACKOFF_SECONDS`, forever: skipping would lose the record. While it fails
  the worker is *blocked*: ``hookline_processor_dead_letter_blocked`` is 1, ``/readyz``
  answers 503 naming the topic, and every failed attempt logs an error naming the topic.
  The worker does not exit: the cause (a deleted topic, a revoked ACL, a broker outage)
  is outside the process, so a restart would crash-loop and rebalance the group's other
  workers for nothing; it resumes by itself once the write succeeds.
"""

from __future__ import annotations

import asyncio

from hookline.dead_letter import SourceRecord, scrub, send_dead_letter
from hookline.kafka_clients import AsyncProducer, PublishError
from hookline.logs import get_logger
from processors.metrics import ProcessorMetrics
from processors.resend import backoff_seconds
from schemas.dead_letter import DeadLetterContext

log = get_logger("hookline.processors")

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
_TOO_LARGE_NOTE = (
    " [dead letter too large: original value and headers omitted; read them from the "
    "source topic at this partition and offset]"
)


class DeadLetterWriter:
    def __init__(self, producer: AsyncProducer, topic: str, metrics: ProcessorMetrics) -> None:
        self._producer = producer
        self._topic = topic
        self._metrics = metrics
        self._failing = False

    @property
    def blocked_topic(self) -> str | None:
        """The dead-letter topic while a write to it keeps failing, else None."""
        return self._topic if self._failing else None

    async def write(self, record: SourceRecord, context: DeadLetterContext) -> None:
        """Write one dead letter; return once the broker acknowledged it."""
        attempt = 0
        slimmed = False
        while True:
            attempt += 1
            try:
                await self._attempt(record, context)
            except Exception as exc:  # retried below, whatever it is
                if _refused(exc) and not slimmed:
                    record, context = _without_original(record, context)
                    slimmed = True
                    continue
                self._failed(exc, attempt)
                await asyncio.sleep(
                    backoff_seconds(attempt, FIRST_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS)
                )
            else:
                self._recovered(attempt)
                return

    async def _attempt(self, record: SourceRecord, context: DeadLetterContext) -> None:
        await send_dead_letter(self._producer, self._topic, record, context)

    def _failed(self, exc: Exception, attempt: int) -> None:
        self._failing = True
        self._metrics.dead_letter_blocked.set(1)
        self._metrics.dead_letter_write_failures.labels(type(exc).__name__).inc()
        log.error(
            "dead-letter write failed; this worker's partitions wait until it succeeds",
            topic=self._topic,
            error=type(exc).__name__,
            reason=scrub(str(exc))[:300],
            attempt=attempt,
        )

    def _recovered(self, attempts: int) -> None:
        if self._failing:
            log.warning("dead-letter write succeeded again", topic=self._topic, attempts=attempts)
        self._failing = False
        self._metrics.dead_letter_blocked.set(0)


def _refused(exc: BaseException) -> bool:
    """Kafka refuses the record itself (too large for the producer's
    ``message.max.bytes`` or the topic's ``max.message.bytes``, invalid): the same record
    can never be written, a smaller one can. Judged from librdkafka's error code
    (:attr:`PublishError.refused`), not from its text."""
    return isinstance(exc, PublishError) and exc.refused


def _without_original(
    record: SourceRecord, context: DeadLetterContext
) -> tuple[SourceRecord, DeadLetterContext]:
    slim = SourceRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key if record.key is None or len(record.key) <= 1024 else None,
        value=b"",
        headers=[],
        timestamp_ms=record.timestamp_ms,
    )
    note = context.exception_message + _TOO_LARGE_NOTE
    return slim, context.model_copy(update={"exception_message": note})
