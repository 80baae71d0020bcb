"""Writes polled records to the raw topic, as webhooks are written, and waits for Kafka.

Each record becomes one raw record (``schemas.raw``):

- key ``{source}:poll:{entity}:{version}``: the provider event ID ``poll:{entity}:{version}``
  is deterministic for (entity, version), so a record emitted twice (a crash between the
  broker's acknowledgement and the cursor's commit) is dropped by the processors' dedupe;
- value: the body in the provider's webhook shape (:class:`pollers.base.PolledRecord`);
- headers: ``hookline-source`` (the webhook source), ``hookline-provider`` (the adapter's
  provider type: the processors pick the same normaliser as for that provider's
  webhooks), ``hookline-event-type``, ``hookline-request-id`` ``poll:{poller}``.

The producer is idempotent with ``acks=all`` (:func:`hookline.kafka_clients.producer_config`);
:meth:`Emitter.emit` returns only when every record is acknowledged, else raises
``PublishError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from hookline.kafka_clients import AsyncProducer
from pollers.base import PolledRecord
from schemas.raw import RawHeaders

POLL_EVENT_PREFIX = "poll"


def provider_event_id(record: PolledRecord) -> str:
    return f"{POLL_EVENT_PREFIX}:{record.entity_id}:{record.version}"


class Emitter:
    def __init__(self, producer: AsyncProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def emit(
        self, poller: str, source: str, provider: str, records: Sequence[PolledRecord]
    ) -> None:
        """Resolve once Kafka acknowledged every record; ``PublishError`` otherwise."""
        now = datetime.now(UTC)
        futures = [
            self._producer.send(
                self._topic,
                value=record.body,
                key=f"{source}:{provider_event_id(record)}".encode(),
                headers=RawHeaders.wire(
                    source=source,
                    provider=provider,
                    event_id=provider_event_id(record),
                    event_type=record.event_type,
                    received_at=now,
                    content_type="application/json",
                    request_id=f"poll:{poller}",
                ),
            )
            for record in records
        ]
        if futures:
            await asyncio.gather(*futures)
