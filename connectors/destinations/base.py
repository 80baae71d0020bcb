"""The destination contract: what a destination module provides, and nothing more.

A destination knows its API, not Kafka. It answers three questions::

    wants(event)            -> bool         is this CloudEvent for me?
    state_for(event)        -> dict         the state I would push for its entity
                                            (JSON values; hashed for change detection)
    await apply(change, idempotency_key)    push it; return Applied (or None), or raise
                                            RetriableError / PermanentError
                                            (connectors.errors: the error tree)

Two optional hooks let a two-way sync judge conflicts across systems (the runner uses
the defaults when a destination does not define them; see :func:`identity_of`,
:func:`observes`)::

    identity(change)        -> str          the key this connector tracks the entity under
                                            (applied state, conflicts). Default: the
                                            change's ``entity_key`` (its CloudEvent
                                            subject). A destination keying people by a
                                            natural key returns e.g. ``person:<email>``
                                            (:func:`email_identity`), so a HubSpot
                                            contact and a Shopify customer with one email
                                            are one entity, whatever their source's IDs.
    observes(event)         -> bool         an event the destination does not want to
                                            push because it reports the destination's
                                            own system (its source is the destination):
                                            the runner records its state under the
                                            identity as what the destination holds,
                                            without a call, so a concurrent change from
                                            another source is judged against it.
                                            Default: False.

One more optional hook tells whether the external API is healthy, for the periodic probe
of the connectors service (:mod:`connectors.probe`; off unless configured)::

    await probe()           -> None         one cheap read-only call (an account or shop
                                            query, ``SELECT 1``); raise a
                                            DeliveryError when the API is not healthy.

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

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
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
    #: ``state`` as JSON with sorted keys, as hashed for ``state_hash`` (set by the runner,
    #: which encodes each state once): destinations may send it as the body of a full
    #: snapshot. None when not encoded.
    encoded: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Applied:
    """A successful apply; ``rate_limit`` adjusts the shared budget when known."""

    rate_limit: RateLimitHint | None = None


class Destination(Protocol):
    def wants(self, event: CloudEvent) -> bool: ...

    def state_for(self, event: CloudEvent) -> dict[str, Any]: ...

    async def apply(self, change: Change, idempotency_key: str) -> Applied | None: ...


def identity_of(destination: Destination, change: Change) -> str:
    """The destination's ``identity`` hook, or the change's entity key."""
    hook = getattr(destination, "identity", None)
    return str(hook(change)) if hook is not None else change.entity_key


def observes(destination: Destination, event: CloudEvent) -> bool:
    """The destination's ``observes`` hook, or False."""
    hook = getattr(destination, "observes", None)
    return bool(hook(event)) if hook is not None else False


def prober_of(destination: Destination) -> Callable[[], Awaitable[None]] | None:
    """The destination's ``probe`` hook, or None when it has none."""
    hook = getattr(destination, "probe", None)
    return hook if callable(hook) else None


def email_identity(change: Change, email_field: str = "email") -> str:
    """``person:<email, trimmed, lower case>`` for a customer whose state knows its email;
    otherwise the change's entity key (an email-less customer stays its source's own)."""
    email = change.state.get(email_field) if change.family == "customer" else None
    if isinstance(email, str) and email.strip():
        return f"person:{email.strip().lower()}"
    return change.entity_key


class PeopleBothWays:
    """The hooks of a destination syncing people both ways with another system: a
    customer is tracked per email (:func:`email_identity`), and a customer change from
    one of ``ignore_sources`` (this destination's own system, never pushed back to it) is
    observed as what the system holds."""

    ignore_sources: tuple[str, ...] = ()

    def identity(self, change: Change) -> str:
        return email_identity(change)

    def observes(self, event: CloudEvent) -> bool:
        source = event.source.removeprefix("/hookline/")
        return event.family == "customer" and source in self.ignore_sources


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
