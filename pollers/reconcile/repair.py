"""Repair: make the other system of a pair match its source of truth again, through the
connector that writes it.

The source of truth is a warehouse, which keeps with every row the canonical CloudEvent
that wrote it (``warehouse.customers.event``). Re-emitting that event as it is would
change nothing: the connector's applied state (its state hash) says the entity is in
step, and it skips the change. So a repair of one entity

1. forgets the repair connector's applied state for it (the entity's subject and its
   person key, :mod:`hookline.connector_state`), so its next change is applied; then
2. publishes the stored CloudEvent again on the family's normalised topic (key: the
   subject, as the processors write it) with the provider event ID
   ``repair:{subject}:{run}`` and the ``id`` derived from it, so consumers that dedupe
   on ``id`` take it as new, and waits for Kafka's acknowledgement.

Every other connector of the family finds the state it applied unchanged and skips it
(the warehouse's state includes the event, so it tries, and its version guard writes
nothing for the same version). The repair connector applies the state
(an upsert by the key the systems share), which puts the other system back in step. An
entity the truth lacks (only the other system has it) is not repaired: nothing says
whether it should exist; its row stays open for a person to judge.
"""

from __future__ import annotations

from typing import Any

import orjson
from psycopg_pool import AsyncConnectionPool

from hookline.connector_state import forget_entities, person_key
from hookline.kafka_clients import AsyncProducer
from hookline.topics import Topics
from schemas.events import (
    CLOUDEVENTS_CONTENT_TYPE,
    EVENT_ID_HEADER,
    TRACE_CONTEXT_ATTRIBUTES,
    CloudEvent,
    canonical_event_id,
)

REPAIR_PREFIX = "repair"

_EVENT = "SELECT email, event FROM warehouse.customers WHERE id = %s"


def repair_event(stored: dict[str, Any], run: str) -> CloudEvent:
    """The stored event with a provider event ID and ``id`` of this repair run."""
    event = CloudEvent.model_validate({**stored, **dict.fromkeys(TRACE_CONTEXT_ATTRIBUTES)})
    provider_event_id = f"{REPAIR_PREFIX}:{event.subject}:{run}"
    source = event.source.removeprefix("/hookline/")
    return event.model_copy(
        update={
            "providereventid": provider_event_id,
            "id": canonical_event_id(source, provider_event_id, event.subject),
        }
    )


class Repairer:
    def __init__(self, pool: AsyncConnectionPool, producer: AsyncProducer, topics: Topics) -> None:
        self._pool = pool
        self._producer = producer
        self._topics = topics

    async def customer(self, warehouse_id: str, connector: str, run: str) -> bool:
        """Re-deliver warehouse customer ``warehouse_id`` to ``connector``; False when the
        warehouse has no event for it."""
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_EVENT, (warehouse_id,))).fetchone()
        if row is None or not isinstance(row[1], dict):
            return False
        email, stored = row
        event = repair_event(stored, run)
        keys = [event.subject, *([person_key(email)] if email and email.strip() else [])]
        await forget_entities(self._pool, connector, keys)
        body = event.model_dump(mode="json", exclude=TRACE_CONTEXT_ATTRIBUTES)
        headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE),
                   (EVENT_ID_HEADER, event.id.encode())]  # fmt: skip
        topic = self._topics.events(event.family)
        await self._producer.send(topic, value=orjson.dumps(body),
                                  key=event.subject.encode(), headers=headers)  # fmt: skip
        return True
