"""Reading Hookline's TOML configuration files (sources, connectors) the same way.

Errors name locations and pydantic's messages only, never input values: a secret in the
wrong field must not end up in a log line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError


class ConfigFileError(ValueError):
    """A configuration file is invalid. The message never contains a value from it."""


def load_document(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def section_tables(
    document: Mapping[str, Any], section: str, error: type[Exception] = ConfigFileError
) -> dict[str, Any]:
    """The ``[section.<name>]`` tables of a document, by name; ``error`` when malformed."""
    tables = document.get(section, {})
    if not isinstance(tables, dict):
        raise error(f"[{section}] must be a table of tables")
    return tables


def describe(exc: ValidationError) -> str:
    """``loc: message; …`` — pydantic's own text would echo the input values."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
