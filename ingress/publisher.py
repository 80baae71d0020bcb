"""Publishes verified webhooks to the raw topic and waits for durable acknowledgement.

Only :class:`VerifiedWebhook` is accepted. Each event becomes one record:

- key ``{source}:{event_id}``: every redelivery of an event lands on one partition;
- value: the event's bytes, unchanged;
- headers: ``hookline-*`` metadata (source, provider, event ID and type, received-at,
  request ID) and ``content-type``. Never a signature or a secret.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from hookline.kafka_clients import AsyncProducer, Delivered
from hookline.topics import Topics
from ingress.providers.base import VerifiedWebhook, WebhookEvent
from schemas.raw import RawHeaders


class Publisher:
    def __init__(self, producer: AsyncProducer, topics: Topics) -> None:
        self._producer = producer
        self._topic = topics.raw_webhooks

    async def publish(
        self, webhook: VerifiedWebhook, request_id: str, received_at: datetime
    ) -> list[Delivered]:
        """Resolve once Kafka acknowledged every event of the webhook (``acks=all``).

        Raises ``PublishError`` when any record was refused; the caller bounds the wait.
        """
        futures = [
            self._producer.send(
                self._topic,
                value=event.body,
                key=record_key(webhook.source, event),
                headers=_headers(webhook, event, request_id, received_at),
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
