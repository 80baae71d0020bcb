"""PostgreSQL: a connection pool and the schema migrations.

Migrations are plain SQL files in ``hookline/migrations``, named ``NNNN_description.sql``,
applied in order, each in its own transaction, and recorded in ``schema_migrations`` so
that none is applied twice. An advisory lock serialises concurrent migrators.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg
from psycopg_pool import AsyncConnectionPool

from hookline.settings import PostgresSettings

_MIGRATION_LOCK_ID = 7_236_115  # arbitrary, stable: pg_advisory_lock key for migrations


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def bundled_migrations_dir() -> Path:
    return Path(str(resources.files("hookline") / "migrations"))


def load_migrations(directory: Path) -> list[Migration]:
    """The migrations in ``directory``, in order; ``FileNotFoundError`` when it holds none
    (a package built without its SQL files must not "apply" an empty schema)."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        migrations.append(Migration(int(number), name, path.read_text()))
    if not migrations:
        raise FileNotFoundError(f"no migration files (NNNN_name.sql) in {directory}")
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {directory}")
    return migrations


def apply_migrations(conninfo: str, directory: Path | None = None) -> list[int]:
    """Apply the migrations not yet recorded; return the versions applied now."""
    migrations = load_migrations(directory or bundled_migrations_dir())
    applied_now: list[int] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in migrations:
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_ID,))
    return applied_now


def create_pool(
    settings: PostgresSettings,
    *,
    autocommit: bool = False,
    timeout: float | None = None,
    checked: bool = False,
) -> AsyncConnectionPool:
    """An unopened pool; open it in the service's startup (``await pool.open()``).

    ``autocommit``: for callers whose every statement is atomic on its own, where a
    transaction around each would cost two more round trips (BEGIN, COMMIT).
    ``timeout``: how long a caller waits for a connection (default: the settings').
    ``checked``: every connection handed out is tested first (one round trip), so after
    a PostgreSQL restart the pool replaces the connections it broke instead of handing
    them to a caller whose request then fails. For callers that answer someone (the admin
    API) or report each failure (a poller's sync run); the connectors' hot path does
    without: a failed batch is retried by the runner.
    """
    return AsyncConnectionPool(
        settings.conninfo(),
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        kwargs={"autocommit": autocommit},
        timeout=settings.pool_timeout_seconds if timeout is None else timeout,
        check=AsyncConnectionPool.check_connection if checked else None,
        open=False,
    )
