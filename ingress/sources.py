"""Webhook sources from a TOML file.

Each ``[sources.<name>]`` table binds a name (the URL segment) to a provider type, its
secrets and limits; the provider's own config model validates the table. A secret is
given as ``"secret:<name>"``, read from the settings root (``HOOKLINE_SECRETS__<NAME>``,
see :func:`hookline.config_files.resolve_secret`), so the file can be committed::

    [sources.stripe]
    provider = "stripe"
    secrets = ["secret:stripe_webhook_secret", "secret:stripe_webhook_secret_old"]
    max_body_bytes = 262144
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from hookline.config_files import (
    ConfigFileError,
    describe,
    load_document,
    resolve_secret,
    section_tables,
)
from ingress.providers import REGISTRY
from ingress.providers.base import SourceConfig


class SourcesConfigError(ConfigFileError):
    """The sources file is invalid. The message never contains a secret value."""


def load_sources(path: Path, secrets: Mapping[str, SecretStr]) -> dict[str, SourceConfig]:
    """The sources of ``path``, ``secret:<name>`` resolved from ``secrets``
    (``Settings.secrets``)."""
    return parse_sources(load_document(path), secrets)


def parse_sources(
    document: Mapping[str, Any], secrets: Mapping[str, SecretStr]
) -> dict[str, SourceConfig]:
    tables = section_tables(document, "sources", SourcesConfigError)
    return {name: _parse_source(name, table, secrets) for name, table in tables.items()}


def _parse_source(name: str, table: Any, secrets: Mapping[str, SecretStr]) -> SourceConfig:
    if not isinstance(table, dict):
        raise SourcesConfigError(f"source {name!r}: must be a table")
    provider = table.get("provider")
    if provider not in REGISTRY:
        raise SourcesConfigError(
            f"source {name!r}: unknown provider {provider!r}; known: {sorted(REGISTRY)}"
        )
    fields = dict(table, name=name)
    fields["secrets"] = [_resolve_secret(name, s, secrets) for s in table.get("secrets", [])]
    try:
        return REGISTRY[provider].config_model.model_validate(fields)
    except ValidationError as exc:
        raise SourcesConfigError(f"source {name!r}: {describe(exc)}") from None


def _resolve_secret(source: str, value: Any, secrets: Mapping[str, SecretStr]) -> str:
    if not isinstance(value, str):
        raise SourcesConfigError(f"source {source!r}: secrets must be strings")
    return resolve_secret(value, secrets, f"source {source!r}", SourcesConfigError)
