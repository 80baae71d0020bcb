"""Publishes verified webhooks to the raw topic and waits for durable acknowledgement.

Only :class:`VerifiedWebhook` is accepted. Each event becomes one record:

- key ``{source}:{event_id}``: every redelivery of an event lands on one partition;
- value: the event's bytes, unchanged;
- headers: ``hookline-*`` metadata (source, provider, event ID and type, received-at,
  request ID), ``content-type`` and the request's W3C ``traceparent`` and ``tracestate``
  (hookline.tracing).
  Never a signature or a secret.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from hookline.kafka_clients import AsyncProducer, Delivered, PublishError
from hookline.logs import get_logger
from hookline.topics import Topics
from hookline.tracing import TraceParent, kafka_headers
from ingress.providers.base import VerifiedWebhook, WebhookEvent
from schemas.raw import RawHeaders

log = get_logger("hookline.ingress")


#: Waits between producer replacements while fatal errors repeat: the first replacement
#: is at once, then each waits this long after the previous one, doubling up to
#: :data:`MAX_REPLACEMENT_WAIT_SECONDS` (a broker that keeps failing producers must not
#: make the ingress replace them in a tight loop).
FIRST_REPLACEMENT_WAIT_SECONDS = 1.0
MAX_REPLACEMENT_WAIT_SECONDS = 60.0
#: A replacement that worked this long before its failure was noticed starts over.
HEALTHY_SECONDS = 60.0


class ReplacementPending(PublishError):
    """The producer failed fatally; its replacement waits for the backoff."""


class Publisher:
    """Owns the ingress's producer and replaces it after a fatal error.

    A producer that failed fatally (librdkafka's idempotence guarantees broken) refuses
    every later record, so it is replaced by a fresh one from ``make_producer`` the next
    time it is used: by a publish or a readiness probe. The failed one is closed off the
    event loop; records it still held are answered 503 by their deadline.

    Replacements back off: the first is at once, the next waits 1 s after it, then 2, 4
    ... up to 60 s; a replacement that worked for a minute starts over. Until the wait is
    over, using the producer raises :class:`ReplacementPending` (a publish answers 503
    with ``Retry-After``, ``/readyz`` 503).
    """

    def __init__(
        self,
        make_producer: Callable[[], AsyncProducer],
        topics: Topics,
        on_replaced: Callable[[], object] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_producer = make_producer
        self._on_replaced = on_replaced
        self._clock = clock
        self._topic = topics.raw_webhooks
        self.producer = make_producer()
        self._replaced_at: float | None = None
        self._noticed_at: float | None = None  # when the current failure was first seen
        self._wait = 0.0

    def usable_producer(self) -> tuple[AsyncProducer, bool]:
        """The producer to use, and whether it had to be replaced just now; raises
        :class:`ReplacementPending` while a failed one waits for its replacement."""
        failed = self.producer
        if failed.fatal_error is None:
            return failed, False
        self._wait_for_replacement()
        self.producer = self._make_producer()
        log.error("producer failed fatally and was replaced", error=failed.fatal_error)
        self._on_replaced()
        # Closing a librdkafka client can block: not on the event loop.
        asyncio.get_running_loop().run_in_executor(None, failed.close, 0)
        return self.producer, True

    def _wait_for_replacement(self) -> None:
        now = self._clock()
        if self._noticed_at is None:
            self._noticed_at = now
            if self._replaced_at is not None and now - self._replaced_at >= HEALTHY_SECONDS:
                self._wait = 0.0
        if self._replaced_at is not None and now < self._replaced_at + self._wait:
            remaining = self._replaced_at + self._wait - now
            raise ReplacementPending(
                f"the Kafka producer failed fatally; it is replaced in {remaining:.1f} s"
            )
        self._replaced_at, self._noticed_at = now, None
        self._wait = min(
            max(self._wait * 2, FIRST_REPLACEMENT_WAIT_SECONDS), MAX_REPLACEMENT_WAIT_SECONDS
        )

    def queue_length(self) -> int:
        """Records the current producer holds unacknowledged."""
        return self.producer.queue_length()

    async def publish(
        self,
        webhook: VerifiedWebhook,
        request_id: str,
        received_at: datetime,
        trace: TraceParent | None = None,
    ) -> list[Delivered]:
        """Resolve once Kafka acknowledged every event of the webhook (``acks=all``).

        Raises ``PublishError`` when any record was refused; the caller bounds the wait.
        """
        producer, _ = self.usable_producer()
        futures = [
            producer.send(
                self._topic,
                value=event.body,
                key=record_key(webhook.source, event),
                headers=_headers(webhook, event, request_id, received_at) + kafka_headers(trace),
            )
            for event in webhook.events
        ]
        if len(futures) == 1:  # the common case; gather would cost a task and a callback
            return [await futures[0]]
        return list(await asyncio.gather(*futures))


def record_key(source: str, event: WebhookEvent) -> bytes:
    return f"{source}:{event.event_id}".encode()


def _headers(
    webhook: VerifiedWebhook, event: WebhookEvent, request_id: str, received_at: datetime
) -> list[tuple[str, bytes]]:
    return RawHeaders.wire(
        source=webhook.source,
        provider=webhook.provider,
        event_id=event.event_id,
        event_type=event.event_type,
        received_at=received_at,
        content_type=webhook.content_type,
        request_id=request_id,
    )
