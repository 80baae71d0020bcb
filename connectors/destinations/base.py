"""The destination contract: what a destination module provides, and nothing more.

A destination knows its API, not Kafka. It answers three questions::

    wants(event)            -> bool         is this CloudEvent for me?
    state_for(event)        -> dict         the state I would push for its entity
                                            (JSON values; hashed for change detection)
    await apply(change, idempotency_key)    push it; return Applied (or None), or raise
                                            RetriableError / PermanentError
                                            (connectors.errors: the error tree)

The runner owns everything else: consuming, change detection, conflicts, retries, the
circuit breaker, rate limits, dead letters, commits, audit. ``apply`` may be called again
with the same key after a crash or a retry: the destination passes the key on (header,
``@idempotent``, natural upsert key) so that a repeat is not a second write.

A module holds its config model (a :class:`DestinationConfig` subclass with a ``type``
Literal), its logic and a docstring stating its semantics (endpoints, idempotency, status
codes, rate-limit headers), and exposes a :class:`DestinationSpec` as ``SPEC``; one line in
:data:`connectors.destinations.REGISTRY` registers it. HTTP calls go through the
:class:`~connectors.http.HttpClient` handed to ``create``: it audits every call and maps
statuses and client exceptions onto the error tree in one place. ``create`` receives a
:class:`DestinationContext`: that client, the connector's name and its PostgreSQL pool
(for the little state a destination keeps itself, e.g. rotated OAuth refresh tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from connectors.errors import RateLimitHint
from connectors.http import HttpClient
from schemas.events import CloudEvent


class DestinationConfig(BaseModel):
    """What every destination config has. Modules subclass it with a ``type`` Literal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(description="Destination type: a key of connectors.destinations.REGISTRY.")
    timeout_seconds: float = Field(10.0, gt=0, description="Deadline of one external call.")


@dataclass(frozen=True, slots=True)
class Change:
    """One entity state to push, built by the runner from a CloudEvent."""

    entity_key: str  # CloudEvent subject, '{family}:{entity id}'; the Kafka key
    family: str
    entity_id: str
    state: Mapping[str, Any]  # what state_for returned
    state_hash: str
    version: datetime  # the entity's updated_at: orders changes
    source: str  # the configured webhook source the change came from, e.g. 'shopify'
    event_id: str  # CloudEvent id
    event_type: str
    #: For a partial snapshot (``data.partial``): the fields it carries. ``state`` is then
    #: the state applied before with these merged in (shallow), and the destination
    #: should patch, not replace. None for a full snapshot.
    patch: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    """A successful apply; ``rate_limit`` adjusts the shared budget when known."""

    rate_limit: RateLimitHint | None = None


class Destination(Protocol):
    def wants(self, event: CloudEvent) -> bool: ...

    def state_for(self, event: CloudEvent) -> dict[str, Any]: ...

    async def apply(self, change: Change, idempotency_key: str) -> Applied | None: ...


@dataclass(frozen=True, slots=True)
class DestinationContext:
    """What a destination is built with, besides its config."""

    connector: str  # the connector's name
    http: HttpClient
    pool: AsyncConnectionPool  # the connector's pool: autocommit connections


@dataclass(frozen=True, slots=True)
class DestinationSpec:
    """What a destination module exposes as ``SPEC``."""

    name: str  # the destination type, the value of its config's ``type``
    config_model: type[DestinationConfig]
    create: Callable[[Any, DestinationContext], Destination]
    #: Statuses this vendor documents as transient beyond connectors.errors' defaults.
    extra_retriable: frozenset[int] = frozenset()
