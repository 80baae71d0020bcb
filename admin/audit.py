"""The audit trail: every mutating call, who, what, when, from where, with its status.

Written before the answer leaves; a call whose audit row cannot be written fails (500)
rather than go unrecorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from psycopg.types.json import Jsonb

from admin.envelope import request_id
from admin.state import POOL

if TYPE_CHECKING:
    from admin.routing import Call


async def record_audit(request: web.Request, action: str, call: Call, status: int) -> None:
    async with request.app[POOL].connection() as conn:
        await conn.execute(
            "INSERT INTO admin_audit (actor, action, method, path, target, status, remote,"
            " request_id, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                call.principal.actor,
                action,
                request.method,
                request.path,
                call.audit_target,
                status,
                request.remote,
                request_id(request),
                Jsonb(call.audit_detail),
            ),
        )


async def list_audit(request: web.Request, limit: int, before: int | None) -> list[Any]:
    async with request.app[POOL].connection() as conn:
        cursor = await conn.execute(
            "SELECT id, at, actor, action, method, path, target, status, remote, request_id"
            " FROM admin_audit WHERE (%(before)s::bigint IS NULL OR id < %(before)s)"
            " ORDER BY id DESC LIMIT %(limit)s",
            {"before": before, "limit": limit},
        )
        return list(await cursor.fetchall())
