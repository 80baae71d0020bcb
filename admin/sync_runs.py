"""The sync log (``sync_runs``): one row per connector batch (and per poll, where the
pollers write it), newest first, filtered and paged like every list (:mod:`admin.keyset`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from admin import keyset
from admin.dead_letters.models import Name, PageParams
from admin.routing import Call, Reply, Route
from admin.state import POOL

_SELECT = (
    "SELECT id AS seq, connector, source, destination, started_at, finished_at,"
    " record_count, outcome, detail"
)


class SyncRunQuery(PageParams):
    connector: Name | None = Field(None, description="Only this connector's runs.")
    source: Name | None = Field(None, description="Runs that carried this source's changes.")
    destination: Name | None = Field(None, description="Only this destination type.")
    status: Literal["ok", "partial", "failed"] | None = Field(None, description="Outcome.")
    started_after: AwareDatetime | None = Field(None, description="Started at or after.")
    started_before: AwareDatetime | None = Field(None, description="Started before.")


class SyncRun(BaseModel):
    id: int
    connector: str
    sources: list[str] = Field(description="Sources whose changes the batch carried.")
    destination: str
    status: str = Field(description="ok, partial or failed.")
    started_at: datetime
    finished_at: datetime
    duration_seconds: float
    record_count: int
    detail: dict[str, Any] = Field(description="Counts by outcome, topics read.")


def _where(query: SyncRunQuery) -> tuple[list[str], dict[str, Any]]:
    values = query.model_dump(exclude={"limit", "cursor"})
    clauses = [f"{n} = %({n})s" for n in ("connector", "destination") if values[n] is not None]
    if query.source is not None:  # the batch's sources, comma-joined
        clauses.append("%(source)s = ANY(string_to_array(source, ','))")
    if query.status is not None:
        clauses.append("outcome = %(status)s")
    if query.started_after is not None:
        clauses.append("started_at >= %(started_after)s")
    if query.started_before is not None:
        clauses.append("started_at < %(started_before)s")
    return clauses, values


def _item(row: dict[str, Any]) -> dict[str, Any]:
    run = SyncRun(
        id=row["seq"],
        connector=row["connector"],
        sources=[s for s in (row["source"] or "").split(",") if s],
        destination=row["destination"],
        status=row["outcome"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_seconds=(row["finished_at"] - row["started_at"]).total_seconds(),
        record_count=row["record_count"],
        detail=row["detail"] or {},
    )
    return run.model_dump(mode="json")


async def list_sync_runs(call: Call) -> Reply:
    query: SyncRunQuery = call.query
    clauses, values = _where(query)
    spec = keyset.Query(_SELECT, " FROM sync_runs", "id", clauses, values)
    page = await keyset.page(call.request.app[POOL], spec, query.cursor, query.limit)
    return Reply([_item(r) for r in page.rows], meta=page.meta(query.limit))


ROUTES = [
    Route(
        "GET",
        "/api/v1/sync-runs",
        "listSyncRuns",
        list_sync_runs,
        "viewer",
        list[SyncRun],
        "The sync log, newest first: filter by connector, source, destination, status, time.",
        "sync-runs",
        query=SyncRunQuery,
        paginated=True,
    ),
]
