"""Reading Hookline's TOML configuration files (sources, connectors) the same way.

A secret is never written in a file: a value ``"secret:<name>"`` stands for
``Settings.secrets[<name>]`` (``HOOKLINE_SECRETS__<NAME>``), the one place secrets come
from. Errors name locations, secret names and pydantic's messages only, never input
values: a secret in the wrong field must not end up in a log line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr, ValidationError

SECRET_PREFIX = "secret:"  # noqa: S105 - a marker, not a secret
#: The syntax before the settings root held every secret; refused with the new one's name.
_RETIRED_PREFIX = "env:"


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


Spec = TypeVar("Spec")


def plugin_table(
    where: str,
    table: Any,
    key: str,
    registry: Mapping[str, Spec],
    error: type[Exception] = ConfigFileError,
) -> tuple[dict[str, Any], Spec]:
    """The ``[… .<key>]`` sub-table of ``table`` that names a plugin by ``type``, and the
    plugin registered under that type; ``error`` (naming ``where``) when either is missing."""
    if not isinstance(table, dict) or not isinstance(table.get(key), dict):
        article = "an" if key[0] in "aeiou" else "a"
        raise error(f"{where}: needs {article} [{key}] table")
    plugin: dict[str, Any] = table[key]
    spec = registry.get(plugin.get("type"))  # type: ignore[arg-type]
    if spec is None:
        raise error(
            f"{where}: unknown {key} type {plugin.get('type')!r}; known: {sorted(registry)}"
        )
    return plugin, spec


def describe(exc: ValidationError) -> str:
    """``loc: message; …`` — pydantic's own text would echo the input values."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def resolve_secret(
    value: str,
    secrets: Mapping[str, SecretStr],
    where: str,
    error: type[Exception] = ConfigFileError,
) -> str:
    """``value`` itself, or the secret it names as ``secret:<name>`` (names are
    case-insensitive). ``error`` names ``where``, the secret and its variable when the
    secret is missing or empty, never a value."""
    if value.startswith(_RETIRED_PREFIX):
        raise error(
            f"{where}: 'env:' references are no longer read; write 'secret:<name>' and set "
            "HOOKLINE_SECRETS__<NAME> (docs/operations.md, Configuration and secrets)"
        )
    if not value.startswith(SECRET_PREFIX):
        return value
    name = value.removeprefix(SECRET_PREFIX).lower()
    secret = secrets.get(name)
    if secret is None or not secret.get_secret_value():
        raise error(f"{where}: secret {name!r} is not set (HOOKLINE_SECRETS__{name.upper()})")
    return secret.get_secret_value()
