"""The normaliser interface: one raw provider event in, canonical CloudEvents out.

A normaliser is a pure function of a :class:`RawEvent` (a raw topic record's headers and
body): no I/O, no clock, no state. Equal records give equal CloudEvents, ``id`` included
(:func:`schemas.events.canonical_event_id` of source, provider event ID and subject; for a
full snapshot the module marks ``versioned``, :func:`schemas.events.snapshot_event_id` of
source, subject, type and ``updated_at``), so a replayed raw record is deduped downstream
on ``id``, and a webhook and a poll of the same entity state share it.

Errors of the normalise layer::

    NormaliseError
    └── InvalidPayload(reason)  -> dead letter (stage "normalise"), never retried: the body
                                   is not JSON, not the expected shape, or a required field
                                   is missing or malformed (an ID, money, a timestamp)

An event type a module does not model is not an error: it becomes a ``Passthrough`` entity
(action ``received``), never dropped. Any other exception is a bug in a normaliser.

Rules every provider module follows (each module's docstring has its mapping table):

- **One raw event, one CloudEvent**, unless the module documents more (Shopify orders also
  yield the embedded customer, flagged ``partial``).
- **updated_at** is the provider's modification time of the entity; when the payload has
  none, the event's creation time; when the provider sends neither (deletions, Telegram
  updates, GitHub), the ingress ``received_at`` header, which is fixed in the raw record,
  so a replay of that record still yields the same snapshot.
- **time** equals ``updated_at`` (for Stripe and HubSpot, the provider's event time).
- **Entity IDs** are ``{provider}:{ID}`` where the provider's IDs are global (Stripe,
  Shopify), and scoped where they are not (WooCommerce by source, HubSpot by portal).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from schemas.events import CloudEvent, Customer, Message, Order, Passthrough, Payment, Product
from schemas.raw import RawHeaders

EntityModel = Order | Customer | Payment | Product | Message | Passthrough
#: The entities a provider deletes by naming only their ID.
Deletable = type[Order] | type[Customer] | type[Product]

#: The action of every Passthrough event: we do not interpret what happened.
PASSTHROUGH_ACTION = "received"


class NormaliseError(Exception):
    """Base of the normalise layer's errors."""


class InvalidPayload(NormaliseError):
    """The body cannot be normalised: dead-letter it, never retry. ``reason`` says why
    (free text with the field's path: fine for a log or a dead-letter header, not a label)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One record of the raw topic: its headers and the body exactly as the provider sent it."""

    headers: RawHeaders
    body: bytes

    @property
    def is_form_encoded(self) -> bool:
        media_type = self.headers.content_type.partition(";")[0].strip().lower()
        return media_type == "application/x-www-form-urlencoded"

    @classmethod
    def from_kafka(cls, headers: Iterable[tuple[str, bytes | None]], value: bytes) -> RawEvent:
        """Raises pydantic's ValidationError when the Hookline headers are missing."""
        return cls(RawHeaders.from_kafka(headers), value)


class Normaliser(Protocol):
    """What the registry holds: ``normalise`` raises only :class:`InvalidPayload`."""

    def normalise(self, raw: RawEvent) -> list[CloudEvent]: ...


class ProviderNormaliser(ABC):
    """Base of the provider modules: a model that rejects the provider's values (a currency
    of four letters, a naive timestamp) is an invalid payload, not a crash."""

    def normalise(self, raw: RawEvent) -> list[CloudEvent]:
        try:
            return self.convert(raw)
        except ValidationError as exc:
            raise InvalidPayload(_describe(exc)) from exc

    @abstractmethod
    def convert(self, raw: RawEvent) -> list[CloudEvent]:
        """The module's mapping; may raise pydantic's ValidationError."""


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{exc.title}.{where}: {first['msg']}{more}"


def event(raw: RawEvent, action: str, data: EntityModel, *, versioned: bool = False) -> CloudEvent:
    """The CloudEvent for ``data``. Its ``time`` is ``data.updated_at``: every module takes
    that from the provider's event time when the body has one. ``versioned``: the module
    read ``updated_at`` from the entity's own modification time (a version that a poll of
    the same state reads too), never from an event, creation or receipt time."""
    return CloudEvent.build(
        source=raw.headers.source,
        provider=raw.headers.provider,
        provider_event_id=raw.headers.event_id,
        provider_event_type=raw.headers.event_type,
        action=action,
        time=data.updated_at,
        data=data,
        versioned=versioned,
    )


def fallback_id(raw: RawEvent) -> str:
    """An entity ID for events that name no entity: one per raw event, scoped by source."""
    return f"{raw.headers.provider}:{raw.headers.source}:{raw.headers.event_id}"


def passthrough(
    raw: RawEvent,
    payload: dict[str, Any] | list[Any],
    *,
    entity_id: str | None = None,
    external_ids: dict[str, str] | None = None,
    updated_at: datetime | None = None,
) -> CloudEvent:
    """The provider's JSON kept whole, keyed by ``entity_id`` (else one key per event)."""
    data = Passthrough(
        id=entity_id or fallback_id(raw),
        external_ids=external_ids or {},
        updated_at=updated_at or raw.headers.received_at,
        payload=payload,
    )
    return event(raw, PASSTHROUGH_ACTION, data)


def deletion(
    raw: RawEvent,
    model: Deletable,
    entity_id: str,
    external_ids: dict[str, str],
) -> CloudEvent:
    """A ``deleted`` event for a body that names only the entity: ``partial``, and dated
    by the ingress ``received_at`` since the provider gives no time."""
    data = model(
        id=entity_id, external_ids=external_ids, updated_at=raw.headers.received_at, partial=True
    )
    return event(raw, "deleted", data)
