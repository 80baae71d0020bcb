"""Connector configuration: data, validated by pydantic, read from a TOML file.

Each ``[connectors.<name>]`` table declares one connector; its ``destination`` table is
validated by the model of the destination registered under its ``type`` (a union tagged
on ``type``, see :mod:`connectors.destinations`). A secret is written as
``"secret:<name>"`` and taken from the settings root's ``secrets`` (environment variable
``HOOKLINE_SECRETS__<NAME>``, see :func:`hookline.config_files.resolve_secret`), so the
file can be committed::

    [connectors.crm]
    families = ["customer", "order"]
    conflict = { policy = "source_priority", source_priority = ["shopify", "hubspot"] }
    rate_limit = { requests_per_second = 10, burst = 100 }

    [connectors.crm.destination]
    type = "http_upsert"
    base_url = "https://crm.example.com/api"
    token = "secret:crm_token"
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from connectors.destinations import REGISTRY
from connectors.destinations.base import DestinationConfig
from connectors.errors import ConfigError
from hookline.config_files import (
    describe,
    load_document,
    plugin_table,
    resolve_secret,
    section_tables,
)
from hookline.topics import EVENT_FAMILIES


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetryConfig(_Config):
    """Backoff of retriable failures. Attempt ``n`` failing waits ``delays_seconds[n-1]``."""

    delays_seconds: tuple[float, ...] = Field(
        (1.0, 4.0, 16.0, 64.0), min_length=1, description="Wait after each failed attempt."
    )
    max_attempts: int = Field(5, ge=1, description="Attempts before a change is dead-lettered.")
    jitter: float = Field(0.2, ge=0, lt=1, description="Random spread, a share of the delay.")
    max_delay_seconds: float = Field(
        900.0, gt=0, description="Ceiling of any wait, a Retry-After included."
    )


class BreakerConfig(_Config):
    """The circuit breaker of the connector's destination."""

    failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open it.")
    window_seconds: float = Field(600.0, gt=0, description="...counted within this window.")
    cooldown_seconds: float = Field(300.0, gt=0, description="Open this long before a probe.")
    cooldown_multiplier: float = Field(2.0, ge=1, description="Growth after a failed probe.")
    max_cooldown_seconds: float = Field(3600.0, gt=0, description="Ceiling of the cooldown.")


class RateLimitConfig(_Config):
    """A token bucket in PostgreSQL, shared by every instance using the same ``bucket``."""

    requests_per_second: float = Field(gt=0, description="Refill rate: the vendor's limit.")
    burst: float = Field(1.0, ge=1, description="Bucket size: calls allowed at once.")
    bucket: str | None = Field(
        None, description="Bucket name; connectors on one vendor account share one."
    )


class ConflictConfig(_Config):
    """What happens when two sources change one entity; see :mod:`connectors.conflicts`."""

    policy: Literal["last_write_wins", "source_priority", "manual_review"] = Field(
        "last_write_wins", description="How a conflict is resolved."
    )
    source_priority: tuple[str, ...] = Field(
        (), description="Source names, highest priority first (policy source_priority)."
    )
    window_seconds: float | None = Field(
        None,
        gt=0,
        description="Changes this far apart are not concurrent; None: any two are.",
    )

    @model_validator(mode="after")
    def _priority_needs_sources(self) -> ConflictConfig:
        if self.policy == "source_priority" and not self.source_priority:
            raise ValueError("policy source_priority needs a source_priority list")
        return self


class ConnectorTopicsConfig(BaseModel):
    """What a connector's topics depend on, its name and source families: read without its
    destination's secrets, so ``hookline setup`` can create the topics."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Also in topic names.")
    families: tuple[str, ...] = Field(min_length=1, description="Normalised topics consumed.")

    @model_validator(mode="after")
    def _known_families(self) -> ConnectorTopicsConfig:
        unknown = sorted(set(self.families) - set(EVENT_FAMILIES))
        if unknown:
            raise ValueError(f"unknown families {unknown}; known: {list(EVENT_FAMILIES)}")
        return self


class ConnectorConfig(ConnectorTopicsConfig):
    model_config = ConfigDict(frozen=True, extra="forbid")

    group_id: str | None = Field(None, description="Consumer group; default derived from name.")
    batch_size: int = Field(500, ge=1, le=10_000, description="Records polled per batch.")
    concurrency: int = Field(
        16,
        ge=1,
        le=512,
        description="Calls to the destination in flight at once (entities delivered "
        "concurrently, one change of an entity at a time).",
    )
    poll_timeout_seconds: float = Field(0.5, gt=0, description="Longest wait in one poll.")
    session_timeout_ms: int = Field(10_000, ge=6000, description="Kafka group session.")
    lag_interval_seconds: float = Field(5.0, gt=0, description="How often lag is exported.")
    probe_interval_seconds: float | None = Field(
        None,
        ge=0,
        description="Seconds between probes of the destination's API; 0: off; None: the "
        "service's connectors.probe_interval_seconds.",
    )
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    rate_limit: RateLimitConfig | None = Field(None, description="None: no proactive limit.")
    conflict: ConflictConfig = Field(default_factory=ConflictConfig)
    destination: DestinationConfig = Field(description="Tagged on 'type', see REGISTRY.")

    def consumer_group(self, topic_prefix: str) -> str:
        return self.group_id or f"{topic_prefix}.connector.{self.name}"

    def probe_interval(self, service_default: float) -> float:
        """Seconds between probes of the destination; 0: not probed."""
        own = self.probe_interval_seconds
        return service_default if own is None else own

    def bucket(self) -> str:
        limit = self.rate_limit
        return (limit.bucket if limit else None) or f"connector.{self.name}"


def load_connectors(path: Path, secrets: Mapping[str, SecretStr]) -> dict[str, ConnectorConfig]:
    return parse_connectors(load_document(path), secrets)


def parse_connectors(
    document: Mapping[str, Any], secrets: Mapping[str, SecretStr]
) -> dict[str, ConnectorConfig]:
    tables = section_tables(document, "connectors", ConfigError)
    return {name: _parse_connector(name, table, secrets) for name, table in tables.items()}


def load_connector_topics(path: Path) -> list[ConnectorTopicsConfig]:
    """Each connector's name and families, its secrets left unresolved (``hookline setup``
    may run without them); ``ConfigError`` when the file declares them wrongly."""
    tables = section_tables(load_document(path), "connectors", ConfigError)
    configs = []
    for name, table in tables.items():
        plugin_table(f"connector {name!r}", table, "destination", REGISTRY, ConfigError)
        try:
            configs.append(ConnectorTopicsConfig.model_validate({**table, "name": name}))
        except ValidationError as exc:
            raise ConfigError(f"connector {name!r}: {describe(exc)}") from None
    return configs


def _parse_connector(name: str, table: Any, secrets: Mapping[str, SecretStr]) -> ConnectorConfig:
    destination, spec = plugin_table(
        f"connector {name!r}", table, "destination", REGISTRY, ConfigError
    )
    resolved = {k: _resolve(name, v, secrets) for k, v in destination.items()}
    try:
        config = spec.config_model.model_validate(resolved)
        return ConnectorConfig.model_validate({**table, "name": name, "destination": config})
    except ValidationError as exc:
        raise ConfigError(f"connector {name!r}: {describe(exc)}") from None


def _resolve(connector: str, value: Any, secrets: Mapping[str, SecretStr]) -> Any:
    """``secret:<name>`` strings resolved, also inside nested tables (e.g. ``auth``)."""
    if isinstance(value, dict):
        return {k: _resolve(connector, v, secrets) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    return resolve_secret(value, secrets, f"connector {connector!r}", ConfigError)
