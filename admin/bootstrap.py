"""``hookline admin create-user|create-key``: the first people and services, before anyone
can sign in to create them through the API. Each is recorded in the audit trail as done
by ``cli``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from admin.auth import Role, hash_password, new_api_key, sha256


def create_user(conninfo: str, username: str, password: str, role: Role) -> int:
    """The new user's id; ``psycopg.errors.UniqueViolation`` if the name is taken."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "INSERT INTO admin_users (username, password_hash, role) VALUES (%s, %s, %s)"
            " RETURNING id",
            (username, hash_password(password), role),
        ).fetchone()
        _audit(conn, "createUser", f"user:{username}", {"role": role})
    return int(row[0]) if row else 0


def create_key(conninfo: str, name: str, role: Role, expires_days: int | None) -> str:
    """A new API key (shown once: only its hash is stored)."""
    key = new_api_key()
    expires_at = None if expires_days is None else datetime.now(UTC) + timedelta(expires_days)
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            "INSERT INTO admin_api_keys (name, key_hash, prefix, role, created_by, expires_at)"
            " VALUES (%s, %s, %s, %s, 'cli', %s)",
            (name, sha256(key), key[:10], role, expires_at),
        )
        _audit(conn, "createApiKey", f"key:{name}", {"role": role})
    return key


def _audit(
    conn: psycopg.Connection[tuple[object, ...]], action: str, target: str, detail: dict[str, str]
) -> None:
    conn.execute(
        "INSERT INTO admin_audit (actor, action, method, path, target, status, request_id,"
        " detail) VALUES ('cli', %s, 'CLI', 'hookline admin', %s, 0, 'cli', %s)",
        (action, target, Jsonb(detail)),
    )
