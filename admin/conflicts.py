"""Conflicts (``conflicts``, written by the connectors): list and get, with both versions
and the policy's verdict; resolve a held one (:mod:`admin.conflict_resolution`).

``verdict`` is the row's status: ``open`` (held by the manual-review policy, not
applied), ``applied`` (the incoming change, or a merged version, won) or ``rejected``
(it lost). ``resolution`` says who decided: null for the policy, else how a person did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel, Field

from admin import keyset
from admin.conflict_resolution import ResolveRequest, resolve
from admin.dead_letters.models import Name, PageParams
from admin.errors import not_found
from admin.ids import id_number
from admin.routing import Call, Reply, Route
from admin.state import POOL

_SELECT = (
    "SELECT id AS seq, connector, entity_key, policy, status, event_id, current_state,"
    " incoming, created_at, resolved_at, resolution, resolved_by, merged"
)
Verdict = Literal["open", "applied", "rejected"]


class ConflictQuery(PageParams):
    connector: Name | None = Field(None, description="Only this connector's conflicts.")
    verdict: Verdict | None = Field(None, description="open (held), applied or rejected.")
    entity_key: str | None = Field(None, min_length=1, max_length=400, description="One entity.")
    created_after: AwareDatetime | None = Field(None, description="Recorded at or after.")
    created_before: AwareDatetime | None = Field(None, description="Recorded before.")


class Conflict(BaseModel):
    id: int
    connector: str
    entity_key: str
    policy: str = Field(description="The connector's conflict policy that decided.")
    verdict: Verdict
    event_id: str | None = Field(description="The incoming change's CloudEvents id.")
    current: dict[str, Any] | None = Field(description="Applied before: source, version, state.")
    incoming: dict[str, Any] = Field(description="The change: source, version, state.")
    created_at: datetime
    resolved_at: datetime | None
    resolution: Literal["incoming", "current", "merged"] | None = Field(
        description="How a person resolved it; null: open, or decided by the policy."
    )
    resolved_by: str | None = Field(description="Who resolved it (user:…, key:…), if a person.")
    merged: dict[str, Any] | None = Field(description="The merged entity sent, if merged.")


def _item(row: dict[str, Any]) -> dict[str, Any]:
    fields = {k: row[k] for k in Conflict.model_fields if k in row}
    conflict = Conflict.model_validate(
        fields | {"id": row["seq"], "verdict": row["status"], "current": row["current_state"]}
    )
    return conflict.model_dump(mode="json")


def _where(query: ConflictQuery) -> tuple[list[str], dict[str, Any]]:
    values = query.model_dump(exclude={"limit", "cursor"})
    clauses = [f"{n} = %({n})s" for n in ("connector", "entity_key") if values[n] is not None]
    if query.verdict is not None:
        clauses.append("status = %(verdict)s")
    if query.created_after is not None:
        clauses.append("created_at >= %(created_after)s")
    if query.created_before is not None:
        clauses.append("created_at < %(created_before)s")
    return clauses, values


async def list_conflicts(call: Call) -> Reply:
    query: ConflictQuery = call.query
    clauses, values = _where(query)
    spec = keyset.Query(_SELECT, " FROM conflicts", "id", clauses, values)
    page = await keyset.page(call.request.app[POOL], spec, query.cursor, query.limit)
    return Reply([_item(r) for r in page.rows], meta=page.meta(query.limit))


def _conflict_id(call: Call) -> int:
    number = id_number(call.path("id"))
    if number is None:
        raise not_found("conflict")
    return number


async def get_conflict(call: Call) -> Reply:
    async with call.request.app[POOL].connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"{_SELECT} FROM conflicts WHERE id = %s", (_conflict_id(call),))
        row = await cur.fetchone()
    if row is None:
        raise not_found("conflict")
    return Reply(_item(row))


async def resolve_conflict(call: Call) -> Reply:
    await resolve(call, _conflict_id(call))
    return await get_conflict(call)


ROUTES = [
    Route(
        "GET",
        "/api/v1/conflicts",
        "listConflicts",
        list_conflicts,
        "viewer",
        list[Conflict],
        "Conflicts, newest first: both versions and the policy's verdict.",
        "conflicts",
        query=ConflictQuery,
        paginated=True,
    ),
    Route(
        "GET",
        "/api/v1/conflicts/{id}",
        "getConflict",
        get_conflict,
        "viewer",
        Conflict,
        "One conflict: both versions and the policy's verdict.",
        "conflicts",
    ),
    Route(
        "POST",
        "/api/v1/conflicts/{id}/resolve",
        "resolveConflict",
        resolve_conflict,
        "operator",
        Conflict,
        "Resolve a held conflict: keep a side or send a merged version to the destination.",
        "conflicts",
        body=ResolveRequest,
    ),
]
