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

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingress.providers import REGISTRY
from ingress.providers.base import SourceConfig

ENV_PREFIX = "env:"


class SourcesConfigError(ValueError):
    """The sources file is invalid. The message never contains a secret value."""


def load_sources(path: Path, environ: Mapping[str, str]) -> dict[str, SourceConfig]:
    with path.open("rb") as fh:
        document = tomllib.load(fh)
    return parse_sources(document, environ)


def parse_sources(
    document: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, SourceConfig]:
    tables = document.get("sources", {})
    if not isinstance(tables, dict):
        raise SourcesConfigError("[sources] must be a table of tables")
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
        # Report locations and messages only: pydantic's default text echoes input values.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SourcesConfigError(f"source {name!r}: {problems}") from None


def _resolve_secret(source: str, value: Any, environ: Mapping[str, str]) -> str:
    if not isinstance(value, str):
        raise SourcesConfigError(f"source {source!r}: secrets must be strings")
    if not value.startswith(ENV_PREFIX):
        return value
    variable = value.removeprefix(ENV_PREFIX)
    if variable not in environ or not environ[variable]:
        raise SourcesConfigError(f"source {source!r}: environment variable {variable} is not set")
    return environ[variable]
