"""Resolving a held conflict (``POST /api/v1/conflicts/{id}/resolve``): a person picks a
side or supplies a merged version, which then flows to the destination.

What a resolution guarantees:

- **Once.** The row is locked (``SELECT … FOR UPDATE``) while the resolution is sent; only
  an ``open`` row (held by the manual-review policy) can be resolved, any other is a 409
  ``conflict_resolved``. The row is marked (``resolution``, ``resolved_by``,
  ``resolved_at``; ``status`` ``applied`` or ``rejected``) in the same transaction, after
  Kafka acknowledged the record; a failed send leaves it open (503).
- **To that connector only.** ``incoming`` and ``merged`` write a CloudEvent to the
  connector's retry topic ``{p}.connector.{name}.retry`` without retry context (due now,
  a full retry budget), keyed by its subject, with the header
  ``hookline-conflict-resolution: {conflict id}``: the connector applies it whatever its
  conflict policy (only a state it applied already is skipped), so no other connector
  and no consumer of the normalised topics sees it.
- ``incoming`` sends the held CloudEvent as consumed (``held_event``, written by the
  connector); ``merged`` sends it with ``data`` replaced by the merged entity, validated
  against the family's canonical model (:data:`schemas.events.FAMILIES`; its ``id`` must
  be the entity's) and a new CloudEvents id derived from the conflict's, so it gets its
  own idempotency key. ``current`` keeps what the destination has: nothing is sent.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Literal, Self

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from admin.errors import ApiError, Problem, not_found
from admin.routing import Call
from admin.state import POOL, SETTINGS
from hookline.kafka_clients import producer_config
from hookline.settings import KafkaSettings
from hookline.topics import Topics
from schemas.events import FAMILIES, CloudEvent
from schemas.retry import CONFLICT_RESOLUTION_HEADER

_MERGED_NAMESPACE = uuid.UUID("5d0e2b7a-3c41-4f8e-9a6b-1f2c3d4e5a60")  # fixed: ids depend on it
_MARK = """
UPDATE conflicts SET status = %(status)s, resolution = %(resolution)s,
    resolved_by = %(by)s, resolved_at = now(), merged = %(merged)s
WHERE id = %(id)s
"""


class ResolveRequest(BaseModel):
    """Exactly one of ``choose`` and ``merged``."""

    model_config = ConfigDict(extra="forbid")

    choose: Literal["incoming", "current"] | None = Field(
        None, description="incoming: deliver the held change; current: keep the applied state."
    )
    merged: dict[str, Any] | None = Field(
        None,
        description="A full entity of the conflict's family (the canonical model), delivered "
        "instead of either version.",
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.choose is None) == (self.merged is None):
            raise ValueError("give exactly one of choose and merged")
        return self

    @property
    def resolution(self) -> str:
        return self.choose or "merged"


async def resolve(call: Call, conflict_id: int) -> None:
    """Resolve the open conflict ``conflict_id`` as ``call.body`` says."""
    body: ResolveRequest = call.body
    call.audit_target = f"conflict:{conflict_id}"
    call.audit_detail = {"resolution": body.resolution}
    settings = call.request.app[SETTINGS]
    async with call.request.app[POOL].connection() as conn, conn.transaction():
        row = await _locked(conn, conflict_id)
        event = _outgoing(row, body, conflict_id)
        if event is not None:
            topic = Topics(settings.kafka.topic_prefix).connector_retry(row["connector"])
            await asyncio.to_thread(_send, settings.kafka, topic, event, conflict_id)
        status = "rejected" if body.choose == "current" else "applied"
        merged = None if event is None or body.merged is None else event.data
        values = {
            "status": status,
            "resolution": body.resolution,
            "by": call.principal.actor,
            "merged": None if merged is None else Jsonb(merged.model_dump(mode="json")),
            "id": conflict_id,
        }
        await conn.execute(_MARK, values)


async def _locked(conn: AsyncConnection[Any], conflict_id: int) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT connector, status, held_event FROM conflicts WHERE id = %s FOR UPDATE",
        (conflict_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise not_found("conflict")
    if row["status"] != "open":
        raise ApiError(
            409, "conflict_resolved", f"the conflict is {row['status']} already, not open"
        )
    return dict(row)


def _outgoing(row: dict[str, Any], body: ResolveRequest, conflict_id: int) -> CloudEvent | None:
    if body.choose == "current":
        return None
    if row["held_event"] is None:
        raise ApiError(
            409,
            "event_unavailable",
            "the held change was recorded without its event; only choose=current resolves it",
        )
    held = CloudEvent.model_validate(row["held_event"])
    if body.merged is None:
        return held
    entity = _merged_entity(held, body.merged)
    event_id = str(uuid.uuid5(_MERGED_NAMESPACE, f"{conflict_id}\x1f{held.id}"))
    return held.model_copy(update={"id": event_id, "data": entity})


def _merged_entity(held: CloudEvent, merged: dict[str, Any]) -> Any:
    model = FAMILIES[held.family]
    try:
        entity = model.model_validate(merged)
    except ValidationError as exc:
        problems = [
            Problem("validation_error", str(e["msg"]), ".".join(map(str, ("merged", *e["loc"]))))
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first, *more = problems
        raise ApiError(422, first.code, first.message, first.field, more=more) from None
    if entity.id != held.data.id:
        raise ApiError(
            422, "validation_error", f"must be the conflict's entity {held.data.id}", "merged.id"
        )
    return entity


def _send(kafka: KafkaSettings, topic: str, event: CloudEvent, conflict_id: int) -> None:
    """Produce and wait for the acknowledgement (idempotent producer, acks=all)."""
    producer = Producer(producer_config(kafka, "admin-resolve"))
    failures: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(err)

    try:
        producer.produce(
            topic,
            key=event.subject.encode(),
            value=orjson.dumps(event.model_dump(mode="json")),
            headers=[(CONFLICT_RESOLUTION_HEADER, str(conflict_id).encode())],
            on_delivery=on_delivery,
        )
        unsent = producer.flush(kafka.delivery_timeout_ms / 1000 + 5)
    except KafkaException:
        unsent = 1
    if failures or unsent:
        raise ApiError(503, "unavailable", "Kafka did not acknowledge the resolution")
