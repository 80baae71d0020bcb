"""The dead-letters routes: list (filters, cursor pages), get, replay one, discard.

Replay uses :func:`hookline.replay.replay_one` (blocking: run in a thread): a connector's
dead letter goes back to that connector's retry topic only, a processors' one to the raw
topic, each at most once (the replay ledger); then the index row is marked.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from pydantic import TypeAdapter, ValidationError

from admin.dead_letters import store
from admin.dead_letters.models import (
    ConnectorDeadLetterQuery,
    DeadLetterDetail,
    DeadLetterQuery,
    DeadLetterSummary,
    DiscardRequest,
    Name,
    ReplayResult,
)
from admin.errors import ApiError, not_found
from admin.routing import Call, Deprecation, Reply, Route
from admin.state import POOL, SETTINGS
from hookline.replay import ReplayError, replay_one, replay_target
from hookline.replay_ledger import ReplayBusy
from hookline.topics import Topics

BASE = "/api/v1/dead-letters"


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    state = "discarded" if row["discarded_at"] else "replayed" if row["replayed_at"] else "open"
    key = row["record_key"]
    out = {k: row[k] for k in DeadLetterSummary.model_fields if k in row}
    out |= {
        "id": f"{row['topic']}:{row['partition']}:{row['offset']}",
        "state": state,
        "key": None if key is None else bytes(key).decode(errors="backslashreplace"),
    }
    return DeadLetterSummary.model_validate(out).model_dump(mode="json")


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def _detail(row: dict[str, Any]) -> dict[str, Any]:
    headers = []
    for name, encoded in row["headers"]:
        value = base64.b64decode(encoded)
        headers.append({"name": name, "value": _text(value), "value_base64": encoded})
    payload = bytes(row["payload"])
    key = row["record_key"]
    extra = {k: row[k] for k in DeadLetterDetail.model_fields if k in row and k != "payload"}
    out = (
        _summary(row)
        | extra
        | {
            "key_base64": store.b64(None if key is None else bytes(key)),
            "headers": headers,
            "payload": _text(payload),
            "payload_base64": store.b64(payload),
            "payload_truncated": len(payload) < row["payload_bytes"],
        }
    )
    return DeadLetterDetail.model_validate(out).model_dump(mode="json")


async def list_dead_letters(call: Call) -> Reply:
    return await _list(call, call.query)


async def list_connector_dead_letters(call: Call) -> Reply:
    name = call.path("name")
    if not is_name(name):
        raise not_found("connector")
    query = DeadLetterQuery.model_validate(call.query.model_dump() | {"connector": name})
    return await _list(call, query)


def is_name(text: str) -> bool:
    try:
        TypeAdapter(Name).validate_python(text)
    except ValidationError:
        return False
    return True


async def _list(call: Call, query: DeadLetterQuery) -> Reply:
    page = await store.page(call.request.app[POOL], query)
    return Reply([_summary(r) for r in page.rows], meta=page.meta(query.limit))


async def _row(call: Call) -> tuple[tuple[str, int, int], dict[str, Any]]:
    position = store.parse_id(call.path("id"))
    call.audit_target = call.path("id")
    row = await store.get(call.request.app[POOL], *position)
    if row is None:
        raise not_found("dead letter")
    return position, row


async def get_dead_letter(call: Call) -> Reply:
    _, row = await _row(call)
    return Reply(_detail(row))


async def replay_dead_letter(call: Call) -> Reply:
    position, row = await _row(call)
    _refuse_closed(row)
    settings = call.request.app[SETTINGS]
    actor = call.principal.actor
    try:
        target = replay_target(Topics(settings.kafka.topic_prefix), position[0])
        item = await asyncio.to_thread(
            replay_one,
            settings.kafka,
            settings.postgres.conninfo(),
            *position,
            requested_by=f"admin:{actor}",
        )
    except ValueError:
        raise ApiError(
            409, "not_replayable", "this topic's dead letters cannot be replayed"
        ) from None
    except ReplayBusy:
        raise ApiError(
            409,
            "replay_busy",
            "another replay of this topic is running",
            headers={"Retry-After": "5"},
        ) from None
    except LookupError:
        raise ApiError(409, "not_replayable", "the record is no longer readable in Kafka") from None
    except ReplayError:
        raise ApiError(503, "unavailable", "Kafka did not acknowledge the replay") from None
    await store.mark_replayed(call.request.app[POOL], position, actor)
    if item is None:
        raise ApiError(409, "already_replayed", "this dead letter was replayed before")
    call.audit_detail = {"target_topic": target.topic}
    fresh = await store.get(call.request.app[POOL], *position)
    result = ReplayResult(
        id=call.path("id"),
        target_topic=target.topic,
        state="replayed",
        replayed_at=fresh["replayed_at"] if fresh else None,
    )
    return Reply(result.model_dump(mode="json"))


def _refuse_closed(row: dict[str, Any]) -> None:
    if row["discarded_at"] is not None:
        raise ApiError(409, "discarded", "this dead letter was discarded")
    if row["replayed_at"] is not None:
        raise ApiError(409, "already_replayed", "this dead letter was replayed before")


async def discard_dead_letter(call: Call) -> Reply:
    position, row = await _row(call)
    _refuse_closed(row)
    body: DiscardRequest = call.body
    call.audit_detail = {"reason": body.reason}
    pool = call.request.app[POOL]
    if not await store.mark_discarded(pool, position, call.principal.actor, body.reason):
        raise ApiError(409, "conflict", "it was replayed or discarded meanwhile")
    return Reply(_detail(await store.get(pool, *position)))


_OLD = Deprecation(
    since="@1782864000",  # 2026-07-01
    sunset="Thu, 31 Dec 2026 23:59:59 GMT",
    successor=BASE,
)

ROUTES = [
    Route(
        "GET",
        BASE,
        "listDeadLetters",
        list_dead_letters,
        "viewer",
        list[DeadLetterSummary],
        "List dead letters, filtered, newest indexed first.",
        "dead-letters",
        query=DeadLetterQuery,
        paginated=True,
    ),
    Route(
        "GET",
        "/api/v1/dlq",
        "listDeadLettersOld",
        list_dead_letters,
        "viewer",
        list[DeadLetterSummary],
        "Deprecated: the first name of listDeadLetters.",
        "dead-letters",
        query=DeadLetterQuery,
        paginated=True,
        deprecated=_OLD,
    ),
    Route(
        "GET",
        "/api/v1/connectors/{name}/dead-letters",
        "listConnectorDeadLetters",
        list_connector_dead_letters,
        "viewer",
        list[DeadLetterSummary],
        "List one connector's dead letters.",
        "dead-letters",
        query=ConnectorDeadLetterQuery,
        paginated=True,
    ),
    Route(
        "GET",
        BASE + "/{id}",
        "getDeadLetter",
        get_dead_letter,
        "viewer",
        DeadLetterDetail,
        "One dead letter: key, headers, payload, failure context.",
        "dead-letters",
    ),
    Route(
        "POST",
        BASE + "/{id}/replay",
        "replayDeadLetter",
        replay_dead_letter,
        "operator",
        ReplayResult,
        "Replay to the failed stage only, at most once.",
        "dead-letters",
    ),
    Route(
        "POST",
        BASE + "/{id}/discard",
        "discardDeadLetter",
        discard_dead_letter,
        "operator",
        DeadLetterDetail,
        "Discard with a reason (never replayed then).",
        "dead-letters",
        body=DiscardRequest,
    ),
]
