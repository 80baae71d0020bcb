"""Poller configuration: data, validated by pydantic, read from a TOML file.

Each ``[pollers.<name>]`` table declares one poll; its ``api`` table is validated by the
model of the adapter registered under its ``type`` (:data:`pollers.adapters.REGISTRY`).
Secrets are written ``"secret:<name>"`` and resolved from the settings root, as in the
sources and connectors files (:func:`hookline.config_files.resolve_secret`)::

    [pollers.shop-orders]
    source = "shopify"            # the webhook source these records belong to
    interval_seconds = 300
    rate_limit = { requests_per_second = 2, burst = 40, bucket = "shopify" }

    [pollers.shop-orders.api]
    type = "shopify"
    base_url = "https://example.myshopify.com"
    token = "secret:shopify_admin_token"
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from hookline.config_files import (
    ConfigFileError,
    describe,
    load_document,
    plugin_table,
    resolve_secret,
    section_tables,
)
from pollers.adapters import REGISTRY


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PollRateLimit(_Config):
    """The vendor's budget: a token bucket in PostgreSQL shared with every connector and
    poller naming the same ``bucket`` (connectors name theirs in their ``rate_limit``)."""

    requests_per_second: float = Field(gt=0, description="Refill rate, used if the bucket is new.")
    burst: float = Field(1.0, ge=1, description="Bucket size, used if the bucket is new.")
    bucket: str = Field(description="Bucket name: the connector's bucket for this vendor.")


class PollerConfig(_Config):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="The poll's name.")
    source: str = Field(description="Webhook source name written on the records.")
    interval_seconds: float = Field(300.0, gt=0, description="Time between two polls.")
    jitter: float = Field(0.1, ge=0, lt=1, description="Random spread, a share of the interval.")
    overlap_seconds: float = Field(
        120.0, ge=0, description="Each poll re-reads this far before the last high-water mark."
    )
    page_size: int = Field(100, ge=1, le=250, description="Records asked for per page.")
    lease_seconds: float = Field(
        60.0, gt=0, description="How long a dead holder keeps the poll before another takes it."
    )
    rate_limit: PollRateLimit | None = Field(None, description="None: no proactive limit.")
    api: Any = Field(description="The adapter's config, tagged on 'type'.")


def load_pollers(path: Path, secrets: Mapping[str, SecretStr]) -> dict[str, PollerConfig]:
    return parse_pollers(load_document(path), secrets)


def parse_pollers(
    document: Mapping[str, Any], secrets: Mapping[str, SecretStr]
) -> dict[str, PollerConfig]:
    tables = section_tables(document, "pollers")
    return {name: _parse(name, table, secrets) for name, table in tables.items()}


def _parse(name: str, table: Any, secrets: Mapping[str, SecretStr]) -> PollerConfig:
    where = f"poller {name!r}"
    api, spec = plugin_table(where, table, "api", REGISTRY)
    resolved = {
        k: resolve_secret(v, secrets, f"{where}.api.{k}") if isinstance(v, str) else v
        for k, v in api.items()
    }
    try:
        config = spec.config_model.model_validate(resolved)
        fields = {"source": name, **table, "name": name, "api": config}
        return PollerConfig.model_validate(fields)
    except ValidationError as exc:
        raise ConfigFileError(f"{where}: {describe(exc)}") from None
