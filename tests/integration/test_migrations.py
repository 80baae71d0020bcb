"""Schema migrations against a real, empty PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from hookline.db import apply_migrations, bundled_migrations_dir, load_migrations
from hookline.settings import PostgresSettings


def test_migrations_apply_on_empty_database_and_only_once(empty_database: PostgresSettings) -> None:
    expected = [m.version for m in load_migrations(bundled_migrations_dir())]
    assert expected, "no migrations bundled"
    assert apply_migrations(empty_database.conninfo()) == expected
    assert apply_migrations(empty_database.conninfo()) == []
    with psycopg.connect(empty_database.conninfo()) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    assert [r[0] for r in rows] == expected
    assert {"connector_entity_state", "sync_runs", "conflicts"} <= tables


def test_a_new_migration_is_applied_after_the_old_ones(
    empty_database: PostgresSettings, tmp_path: Path
) -> None:
    for migration in load_migrations(bundled_migrations_dir()):
        (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    apply_migrations(empty_database.conninfo(), tmp_path)
    (tmp_path / "9999_extra.sql").write_text("CREATE TABLE extra_table (id int);")
    assert apply_migrations(empty_database.conninfo(), tmp_path) == [9999]


def test_a_failing_migration_leaves_no_trace(
    empty_database: PostgresSettings, tmp_path: Path
) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        apply_migrations(empty_database.conninfo(), tmp_path)
    with psycopg.connect(empty_database.conninfo()) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        half = conn.execute("SELECT to_regclass('public.half')").fetchone()
    assert versions == [1]
    assert half == (None,)
