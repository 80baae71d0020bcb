"""Replay jobs in PostgreSQL (``replay_jobs``): create, read, cancel, and the worker's
lease and progress.

A job covers the index rows that match its filters up to ``upto_id`` (the newest row
when it was made), in id order; ``after_id`` is how far it got. Progress and the index
marks of a chunk are written in one transaction. A worker holds a job by a lease
(``owner``, ``lease_until``) renewed at every chunk; a released or expired lease lets any
admin process take the job over where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from admin.dead_letters import store as index
from admin.dead_letters.models import DeadLetterFilter, DeadLetterQuery

_CLAIM = """
UPDATE replay_jobs SET state = 'running', owner = %(owner)s, updated_at = now(),
    lease_until = now() + make_interval(secs => %(lease)s),
    started_at = coalesce(started_at, now())
WHERE id = (SELECT id FROM replay_jobs WHERE state IN ('queued', 'running')
            AND (lease_until IS NULL OR lease_until < now())
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING *
"""
_ADVANCE = """
UPDATE replay_jobs SET after_id = %(after_id)s, done = done + %(done)s,
    failed = failed + %(failed)s, skipped = skipped + %(skipped)s, updated_at = now(),
    lease_until = now() + make_interval(secs => %(lease)s), last_error = NULL
WHERE id = %(id)s AND owner = %(owner)s
RETURNING *
"""
_MARK = """
UPDATE dead_letters SET replayed_at = coalesce(replayed_at, now()),
    replayed_by = coalesce(replayed_by, %s)
WHERE topic = %s AND partition = %s AND "offset" = %s
"""


@dataclass(frozen=True, slots=True)
class Progress:
    """One chunk's outcome."""

    after_id: int
    done: int
    failed: int
    skipped: int
    replayed: list[tuple[str, int, int]]  # index rows to mark replayed


def requested_by(job_id: int) -> str:
    """The ledger's and the index's ``replayed_by`` for this job's replays."""
    return f"admin:replay-job:{job_id}"


async def create(
    pool: AsyncConnectionPool, wanted: DeadLetterFilter, chunk_size: int, by: str
) -> dict[str, Any]:
    filters = wanted.model_dump(mode="json", exclude_none=True)
    query = DeadLetterQuery.model_validate(filters | {"replayed": False, "discarded": False})
    clauses, values = index.where(query)
    async with pool.connection() as conn, conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT coalesce(max(id), 0) AS upto FROM dead_letters")
        upto = (await cur.fetchone() or {"upto": 0})["upto"]
        where = " AND ".join([*clauses, "d.id <= %(upto)s"])
        await cur.execute(
            f"SELECT count(*) AS n{index.FROM} WHERE {where}", values | {"upto": upto}
        )
        total = (await cur.fetchone() or {"n": 0})["n"]
        await cur.execute(
            "INSERT INTO replay_jobs (filters, chunk_size, upto_id, total, created_by)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING *",
            (Jsonb(filters), chunk_size, upto, total, by),
        )
        return dict(await cur.fetchone() or {})


async def get(pool: AsyncConnectionPool, job_id: int) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM replay_jobs WHERE id = %s", (job_id,))
        return await cur.fetchone()


async def cancel(pool: AsyncConnectionPool, job_id: int, by: str) -> dict[str, Any] | None:
    """Cancel a queued or running job; None when it is not (any longer) active. A chunk
    in flight completes and is counted; no later chunk starts."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE replay_jobs SET state = 'cancelled', cancelled_by = %s, finished_at = now(),"
            " updated_at = now() WHERE id = %s AND state IN ('queued', 'running') RETURNING *",
            (by, job_id),
        )
        return await cur.fetchone()


async def claim(pool: AsyncConnectionPool, owner: str, lease: float) -> dict[str, Any] | None:
    """The oldest active job nobody holds, now held by ``owner``; None when there is none."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_CLAIM, {"owner": owner, "lease": lease})
        return await cur.fetchone()


async def next_chunk(pool: AsyncConnectionPool, job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's next index rows (whatever their state now), in id order."""
    query = DeadLetterQuery.model_validate(job["filters"])
    clauses, values = index.where(query)
    where = " AND ".join([*clauses, "d.id > %(after)s", "d.id <= %(upto)s"])
    params = values | {"after": job["after_id"], "upto": job["upto_id"], "n": job["chunk_size"]}
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            'SELECT d.id, d.topic, d.partition, d."offset", d.discarded_at, d.replayed_at,'
            f" r.requested_by AS ledger_by{index.FROM} WHERE {where} ORDER BY d.id LIMIT %(n)s",
            params,
        )
        return list(await cur.fetchall())


async def advance(
    pool: AsyncConnectionPool, job: dict[str, Any], progress: Progress, owner: str, lease: float
) -> dict[str, Any] | None:
    """Save a chunk's progress and marks together; the job as it is now, or None when
    this worker no longer holds it."""
    by = requested_by(job["id"])
    params = {
        "after_id": progress.after_id,
        "done": progress.done,
        "failed": progress.failed,
        "skipped": progress.skipped,
        "lease": lease,
        "id": job["id"],
        "owner": owner,
    }
    async with pool.connection() as conn, conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.executemany(_MARK, [(by, *position) for position in progress.replayed])
        await cur.execute(_ADVANCE, params)
        return await cur.fetchone()


async def finish(pool: AsyncConnectionPool, job_id: int, owner: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE replay_jobs SET state = 'succeeded', finished_at = now(), updated_at = now()"
            " WHERE id = %s AND owner = %s AND state = 'running'",
            (job_id, owner),
        )


async def release(pool: AsyncConnectionPool, job_id: int, owner: str) -> None:
    """Let the job go (this worker stops): another, or a restarted, worker resumes it."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE replay_jobs SET owner = NULL, lease_until = NULL WHERE id = %s AND owner = %s",
            (job_id, owner),
        )


async def note_error(pool: AsyncConnectionPool, job_id: int, owner: str, reason: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE replay_jobs SET last_error = %s, updated_at = now()"
            " WHERE id = %s AND owner = %s",
            (reason[:500], job_id, owner),
        )
