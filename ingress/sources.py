"""Webhook sources from a TOML file.

Each ``[sources.<name>]`` table binds a name (the URL segment) to a provider type, its
secrets and limits; the provider's own config model validates the table. A secret may be
given as ``"env:VARIABLE"`` so the file can be committed without secrets::

    [sources.stripe]
    provider = "stripe"
    secrets = ["env:STRIPE_WEBHOOK_SECRET", "env:STRIPE_WEBHOOK_SECRET_OLD"]
    max_body_bytes = 262144
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hookline.config_files import describe, load_document, section_tables
from ingress.providers import REGISTRY
from ingress.providers.base import SourceConfig

ENV_PREFIX = "env:"


class SourcesConfigError(ValueError):
    """The sources file is invalid. The message never contains a secret value."""


def load_sources(path: Path, environ: Mapping[str, str]) -> dict[str, SourceConfig]:
    return parse_sources(load_document(path), environ)


def parse_sources(
    document: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, SourceConfig]:
    tables = section_tables(document, "sources", SourcesConfigError)
    return {name: _parse_source(name, table, environ) for name, table in tables.items()}


def _parse_source(name: str, table: Any, environ: Mapping[str, str]) -> SourceConfig:
    if not isinstance(table, dict):
        raise SourcesConfigError(f"source {name!r}: must be a table")
    provider = table.get("provider")
    if provider not in REGISTRY:
        raise SourcesConfigError(
            f"source {name!r}: unknown provider {provider!r}; known: {sorted(REGISTRY)}"
        )
    fields = dict(table, name=name)
    fields["secrets"] = [_resolve_secret(name, s, environ) for s in table.get("secrets", [])]
    try:
        return REGISTRY[provider].config_model.model_validate(fields)
    except ValidationError as exc:
        raise SourcesConfigError(f"source {name!r}: {describe(exc)}") from None


def _resolve_secret(source: str, value: Any, environ: Mapping[str, str]) -> str:
    if not isinstance(value, str):
        raise SourcesConfigError(f"source {source!r}: secrets must be strings")
    if not value.startswith(ENV_PREFIX):
        return value
    variable = value.removeprefix(ENV_PREFIX)
    if variable not in environ or not environ[variable]:
        raise SourcesConfigError(f"source {source!r}: environment variable {variable} is not set")
    return environ[variable]
