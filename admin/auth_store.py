"""Users, API keys and refresh-token families in PostgreSQL (migration ``*_admin_api``).

Rotation is one conditional UPDATE: of two concurrent uses of one refresh token only one
can mark it used, and the other is treated as reuse, which revokes the family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from admin.auth import Principal, Role, new_refresh_token, sha256
from admin.errors import ApiError


@dataclass(frozen=True, slots=True)
class IssuedRefresh:
    token: str
    expires_at: datetime


async def key_principal(pool: AsyncConnectionPool, key: str) -> Principal:
    """The key's principal, its use recorded; ``ApiError(401)`` if unknown, revoked or
    expired (the same answer for each, so a caller learns nothing)."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "UPDATE admin_api_keys SET last_used_at = now() WHERE key_hash = %s"
            " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
            " RETURNING id, name, role",
            (sha256(key),),
        )
        row = await cursor.fetchone()
    if row is None:
        raise ApiError(401, "invalid_token", "the API key is not valid")
    return Principal("key", int(row[0]), str(row[1]), row[2])


async def user_for_login(pool: AsyncConnectionPool, username: str) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            "SELECT id, username, password_hash, role FROM admin_users"
            " WHERE username = %s AND disabled_at IS NULL",
            (username,),
        )
        return await cursor.fetchone()


async def start_family(
    pool: AsyncConnectionPool, user_id: int, lifetime_seconds: int
) -> IssuedRefresh:
    async with pool.connection() as conn:
        await conn.execute("UPDATE admin_users SET last_login_at = now() WHERE id = %s", (user_id,))
        return await _issue(conn, uuid.uuid4(), user_id, lifetime_seconds)


async def _issue(
    conn: Any, family: uuid.UUID, user_id: int, lifetime_seconds: int
) -> IssuedRefresh:
    token = new_refresh_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=lifetime_seconds)
    await conn.execute(
        "INSERT INTO admin_refresh_tokens (family_id, user_id, token_hash, expires_at)"
        " VALUES (%s, %s, %s, %s)",
        (family, user_id, sha256(token), expires_at),
    )
    return IssuedRefresh(token, expires_at)


async def rotate(
    pool: AsyncConnectionPool, token: str, lifetime_seconds: int
) -> tuple[dict[str, Any], IssuedRefresh]:
    """Use ``token`` once: its user and the next token of its family. A token used before
    revokes the family (``refresh_token_reused``); unknown, expired, revoked: 401."""
    async with pool.connection() as conn, conn.transaction():
        cursor = await conn.execute(
            "UPDATE admin_refresh_tokens t SET used_at = now() FROM admin_users u"
            " WHERE t.token_hash = %s AND t.used_at IS NULL AND t.revoked_at IS NULL"
            " AND t.expires_at > now() AND u.id = t.user_id AND u.disabled_at IS NULL"
            " RETURNING t.family_id, u.id, u.username, u.role",
            (sha256(token),),
        )
        row = await cursor.fetchone()
        if row is not None:
            user = {"id": row[1], "username": row[2], "role": row[3]}
            return user, await _issue(conn, row[0], row[1], lifetime_seconds)
    if await _revoke_reused(pool, token):
        raise ApiError(
            401,
            "refresh_token_reused",
            "this refresh token was used before: every token of its session is revoked",
        )
    raise ApiError(401, "invalid_token", "the refresh token is not valid")


async def _revoke_reused(pool: AsyncConnectionPool, token: str) -> bool:
    return await revoke_family(pool, token, only_if_used=True)


async def revoke_family(
    pool: AsyncConnectionPool, token: str, *, only_if_used: bool = False
) -> bool:
    """Revoke every token of ``token``'s family (when ``only_if_used``: only if ``token``
    was used before); whether there was such a family."""
    used = " AND used_at IS NOT NULL" if only_if_used else ""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "UPDATE admin_refresh_tokens SET revoked_at = coalesce(revoked_at, now())"  # noqa: S608 - fixed fragment
            " WHERE family_id = (SELECT family_id FROM admin_refresh_tokens"
            f"  WHERE token_hash = %s{used}) RETURNING id",
            (sha256(token),),
        )
        return bool(await cursor.fetchall())


# Fixed column list interpolated into the queries below (S608 is about values: none is).
_KEY_COLUMNS = (
    "id, name, prefix, role, created_by, created_at, expires_at, revoked_at, last_used_at"
)


async def create_key(
    pool: AsyncConnectionPool,
    *,
    name: str,
    role: Role,
    expires_at: datetime | None,
    created_by: str,
    key: str,
) -> dict[str, Any]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            "INSERT INTO admin_api_keys (name, key_hash, prefix, role, created_by, expires_at)"  # noqa: S608
            f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_KEY_COLUMNS}",
            (name, sha256(key), key[:10], role, created_by, expires_at),
        )
        row = await cursor.fetchone()
    if row is None:  # INSERT … RETURNING always returns its row
        raise RuntimeError("no row returned")
    return row


async def list_keys(pool: AsyncConnectionPool) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(f"SELECT {_KEY_COLUMNS} FROM admin_api_keys ORDER BY id")  # noqa: S608
        return await cursor.fetchall()


async def revoke_key(pool: AsyncConnectionPool, key_id: int) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            "UPDATE admin_api_keys SET revoked_at = coalesce(revoked_at, now())"  # noqa: S608
            f" WHERE id = %s RETURNING {_KEY_COLUMNS}",
            (key_id,),
        )
        return await cursor.fetchone()
