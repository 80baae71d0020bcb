"""Migrations come with the package, and a package without them fails loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookline.db import apply_migrations, bundled_migrations_dir, load_migrations


def test_the_package_bundles_its_migrations() -> None:
    assert load_migrations(bundled_migrations_dir())


def test_no_migration_files_is_an_error_not_an_empty_setup(tmp_path: Path) -> None:
    # Raised before connecting: the connection string points nowhere.
    with pytest.raises(FileNotFoundError, match="no migration files"):
        apply_migrations("host=/nonexistent port=1 connect_timeout=1", tmp_path)
