"""``GET /api/v1/events/{id}``: what Hookline recorded about one event, stage by stage.

An event is named by its CloudEvents ``id`` (a UUID) or by ``{source}:{provider event
id}``. The answer is assembled from what PostgreSQL holds, nothing else (no Kafka read):

- ``dead_lettered`` (and then ``replayed`` / ``discarded``): the dead-letter index, for
  the processors' dead letters (by source and provider event id) and the connectors' (by
  CloudEvents id, and by the CloudEvent's source and ``providereventid``).
- ``delivered``: ``connector_entity_state``, while this event's state is the latest a
  connector applied for its entity (a later change of the entity replaces the record).
- ``conflict``: ``conflicts``, with the policy's verdict (open, applied, rejected).

Not recorded anywhere, so never reported: accepted by the ingress (its log line and
metrics only), deduplicated and normalised by the processors (metrics only), skipped by a
connector as unchanged or stale (metrics only), and which batch (``sync_runs``) carried an
event. A provider event that was delivered without a dead letter can be found by its
CloudEvents id only (the ingress logs both ids with the trace id).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from admin.dead_letters import store as index
from admin.errors import not_found
from admin.routing import Call, Reply, Route
from admin.state import POOL

NOT_RECORDED = ("accepted", "deduplicated", "normalised", "skipped")
_MAX_ROWS = 100  # per kind of record: an event has a handful, a hostile id gets no more
StageName = Literal["dead_lettered", "replayed", "discarded", "delivered", "conflict"]

_DEAD_LETTERS = (
    'SELECT d.topic, d.partition, d."offset", d.connector, d.stage, d.component,'
    " d.exception_class, d.exception_message, d.http_status, d.attempts, d.original_topic,"
    " d.failed_at, d.indexed_at, d.event_id, d.discarded_at, d.discarded_by,"
    " d.discard_reason, coalesce(r.replayed_at, d.replayed_at) AS replayed_at,"
    " coalesce(d.replayed_by, r.requested_by) AS replayed_by, r.target_topic"
    f"{index.FROM} WHERE d.event_id = ANY(%(ids)s)"
    " OR (d.source = %(source)s AND d.provider_event_id = %(provider_event_id)s)"
    " ORDER BY d.id LIMIT %(max)s"
)
_DELIVERED = (
    "SELECT connector, entity_key, version, source, event_id, applied_at"
    " FROM connector_entity_state WHERE event_id = ANY(%(ids)s) LIMIT %(max)s"
)
_CONFLICTS = (
    "SELECT id, connector, entity_key, policy, status, event_id, created_at, resolved_at"
    " FROM conflicts WHERE event_id = ANY(%(ids)s) ORDER BY id LIMIT %(max)s"
)


class EventStage(BaseModel):
    stage: StageName = Field(description="What happened.")
    at: datetime | None = Field(description="When (null: not recorded).")
    component: str | None = Field(description="The connector or processor concerned.")
    event_id: str | None = Field(description="The CloudEvents id, when known.")
    detail: dict[str, Any] = Field(description="What the record says (errors, ids, verdict).")


class EventTrace(BaseModel):
    id: str = Field(description="As asked.")
    source: str | None = Field(description="For a '{source}:{provider event id}' lookup.")
    provider_event_id: str | None
    event_ids: list[str] = Field(description="The CloudEvents ids the stages belong to.")
    stages: list[EventStage] = Field(description="Oldest first.")
    not_recorded: list[str] = Field(description="Stages Hookline does not record per event.")


def _parse(text: str) -> tuple[list[str], str | None, str | None]:
    """(CloudEvents ids, source, provider event id) to look for."""
    try:
        return [str(uuid.UUID(text))], None, None
    except ValueError:
        pass
    source, _, provider_event_id = text.partition(":")
    if not source or not provider_event_id or len(text) > 400:
        raise not_found("event (ids: a CloudEvents id, or {source}:{provider event id})")
    return [], source, provider_event_id


def _dead_letter_stages(row: dict[str, Any]) -> list[EventStage]:
    position = f"{row['topic']}:{row['partition']}:{row['offset']}"
    component = row["connector"] or row["component"]
    detail = {k: row[k] for k in ("stage", "exception_class", "exception_message", "http_status")}
    detail |= {"attempts": row["attempts"], "original_topic": row["original_topic"]}
    stages = [
        EventStage(
            stage="dead_lettered",
            at=row["failed_at"] or row["indexed_at"],
            component=component,
            event_id=row["event_id"],
            detail={"dead_letter_id": position, **detail},
        )
    ]
    if row["replayed_at"]:
        replay = {"dead_letter_id": position, "by": row["replayed_by"], "to": row["target_topic"]}
        stages.append(
            EventStage(
                stage="replayed",
                at=row["replayed_at"],
                component=component,
                event_id=row["event_id"],
                detail=replay,
            )
        )
    if row["discarded_at"]:
        discard = {"dead_letter_id": position, "by": row["discarded_by"]}
        stages.append(
            EventStage(
                stage="discarded",
                at=row["discarded_at"],
                component=component,
                event_id=row["event_id"],
                detail=discard | {"reason": row["discard_reason"]},
            )
        )
    return stages


def _delivered(row: dict[str, Any]) -> EventStage:
    version = row["version"].isoformat() if row["version"] else None
    return EventStage(
        stage="delivered",
        at=row["applied_at"],
        component=row["connector"],
        event_id=row["event_id"],
        detail={"entity_key": row["entity_key"], "version": version, "source": row["source"]},
    )


def _conflict(row: dict[str, Any]) -> EventStage:
    resolved = row["resolved_at"].isoformat() if row["resolved_at"] else None
    return EventStage(
        stage="conflict",
        at=row["created_at"],
        component=row["connector"],
        event_id=row["event_id"],
        detail={
            "conflict_id": row["id"],
            "entity_key": row["entity_key"],
            "policy": row["policy"],
            "verdict": row["status"],
            "resolved_at": resolved,
        },
    )


async def trace(pool: AsyncConnectionPool, text: str) -> EventTrace:
    ids, source, provider_event_id = _parse(text)
    params: dict[str, Any] = {
        "ids": ids,
        "source": source,
        "provider_event_id": provider_event_id,
        "max": _MAX_ROWS,
    }
    stages: list[EventStage] = []
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_DEAD_LETTERS, params)
        for row in await cur.fetchall():
            stages += _dead_letter_stages(row)
        ids = list(dict.fromkeys([*ids, *(s.event_id for s in stages if s.event_id)]))
        params["ids"] = ids
        await cur.execute(_DELIVERED, params)
        stages += [_delivered(row) for row in await cur.fetchall()]
        await cur.execute(_CONFLICTS, params)
        stages += [_conflict(row) for row in await cur.fetchall()]
    stages.sort(key=lambda s: (s.at is None, s.at or datetime.min.replace(tzinfo=UTC)))
    return EventTrace(
        id=text,
        source=source,
        provider_event_id=provider_event_id,
        event_ids=ids,
        stages=stages,
        not_recorded=list(NOT_RECORDED),
    )


async def get_event(call: Call) -> Reply:
    found = await trace(call.request.app[POOL], call.path("id"))
    if not found.stages:
        raise not_found("record of this event")
    return Reply(found.model_dump(mode="json"))


ROUTES = [
    Route(
        "GET",
        "/api/v1/events/{id}",
        "getEvent",
        get_event,
        "viewer",
        EventTrace,
        "What was recorded about one event (CloudEvents id or {source}:{provider event id}).",
        "events",
    ),
]
