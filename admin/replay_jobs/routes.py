"""The replay-jobs routes: start a bulk replay by filter, list and follow them, cancel one.

The job itself runs in the admin service's worker (:mod:`admin.replay_jobs.worker`).
"""

from __future__ import annotations

from typing import Any

from admin import keyset
from admin.dead_letters.models import DeadLetterFilter
from admin.errors import ApiError, not_found
from admin.ids import id_number
from admin.replay_jobs import store
from admin.replay_jobs.models import ReplayJob, ReplayJobQuery, ReplayJobRequest
from admin.routing import Call, Reply, Route
from admin.state import POOL

BASE = "/api/v1/dead-letters/replay-jobs"


def _job(row: dict[str, Any]) -> dict[str, Any]:
    settled = row["done"] + row["failed"] + row["skipped"]
    fields = {k: row[k] for k in ReplayJob.model_fields if k in row}
    job = ReplayJob.model_validate(fields | {"remaining": max(row["total"] - settled, 0)})
    return job.model_dump(mode="json")


def _job_id(call: Call) -> int:
    text = call.path("id")
    call.audit_target = f"replay-job:{text[:40]}"
    number = id_number(text)
    if number is None:
        raise not_found("replay job")
    return number


async def create_job(call: Call) -> Reply:
    body: ReplayJobRequest = call.body
    wanted = DeadLetterFilter.model_validate(body.model_dump(exclude={"chunk_size"}))
    row = await store.create(call.request.app[POOL], wanted, body.chunk_size, call.principal.actor)
    call.audit_target = f"replay-job:{row['id']}"
    call.audit_detail = {"filters": row["filters"], "total": row["total"]}
    return Reply(_job(row), status=201)


async def list_jobs(call: Call) -> Reply:
    query: ReplayJobQuery = call.query
    values = query.model_dump(exclude={"limit", "cursor"})
    clauses = [f"{n} = %({n})s" for n in ("state", "created_by") if values[n] is not None]
    if query.created_after is not None:
        clauses.append("created_at >= %(created_after)s")
    if query.created_before is not None:
        clauses.append("created_at < %(created_before)s")
    spec = keyset.Query("SELECT *, id AS seq", " FROM replay_jobs", "id", clauses, values)
    page = await keyset.page(call.request.app[POOL], spec, query.cursor, query.limit)
    return Reply([_job(r) for r in page.rows], meta=page.meta(query.limit))


async def get_job(call: Call) -> Reply:
    row = await store.get(call.request.app[POOL], _job_id(call))
    if row is None:
        raise not_found("replay job")
    return Reply(_job(row))


async def cancel_job(call: Call) -> Reply:
    job_id = _job_id(call)
    pool = call.request.app[POOL]
    row = await store.cancel(pool, job_id, call.principal.actor)
    if row is None:
        if await store.get(pool, job_id) is None:
            raise not_found("replay job")
        raise ApiError(409, "job_finished", "the job has already succeeded or was cancelled")
    return Reply(_job(row))


ROUTES = [
    Route(
        "POST",
        BASE,
        "createReplayJob",
        create_job,
        "operator",
        ReplayJob,
        "Replay every open dead letter matching the filters, as a tracked job.",
        "dead-letters",
        body=ReplayJobRequest,
        status=201,
        body_optional=True,
    ),
    Route(
        "GET",
        BASE,
        "listReplayJobs",
        list_jobs,
        "viewer",
        list[ReplayJob],
        "Replay jobs, newest first, with their progress.",
        "dead-letters",
        query=ReplayJobQuery,
        paginated=True,
    ),
    Route(
        "GET",
        BASE + "/{id}",
        "getReplayJob",
        get_job,
        "viewer",
        ReplayJob,
        "A replay job's progress: total, done, failed, skipped, state.",
        "dead-letters",
    ),
    Route(
        "POST",
        BASE + "/{id}/cancel",
        "cancelReplayJob",
        cancel_job,
        "operator",
        ReplayJob,
        "Cancel a queued or running job; the chunk in flight completes.",
        "dead-letters",
    ),
]
