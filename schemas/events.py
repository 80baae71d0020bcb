"""The canonical event: a CloudEvents 1.0 envelope (structured JSON) around an entity snapshot.

This is the contract of the normalised topics ``{prefix}.events.{family}``:

- **key**: ``subject``, i.e. ``{family}:{entity id}``; one entity's events keep their order.
- **value**: :class:`CloudEvent` as JSON.
- ``id`` is deterministic, so a replayed or redelivered raw event yields the same ``id``:
  consumers dedupe on it. A full snapshot that carries the entity's own version yields
  :func:`snapshot_event_id` of (source, subject, type, version), so a webhook and a poll
  of the same state share it; every other event :func:`canonical_event_id` of (source,
  provider event ID, subject).
- ``data`` is a snapshot of one entity (:data:`Entity`, discriminated on ``kind``), never
  a diff: full, or flagged ``partial`` when the origin sent only some fields. Money is
  integer minor units plus an ISO 4217 currency; every timestamp is timezone-aware;
  ``external_ids`` keeps each system's own ID; ``updated_at`` orders changes.
- Version 1 evolves additively only: new optional fields, new ``kind`` values. A breaking
  change would be a new ``dataschema`` (``…:v2``) on new topics.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from schemas.ids import uuid5_text

SCHEMA_VERSION = "v1"
#: A canonical event's Kafka record (structured mode of the CloudEvents Kafka binding):
#: its ``content-type`` header ...
CLOUDEVENTS_CONTENT_TYPE = b"application/cloudevents+json; charset=utf-8"
#: ... and the CloudEvents ``id`` as a header, for consumers that filter without parsing.
#: Not ``ce_id``: a ``ce_`` header means binary mode to the CloudEvents Kafka binding, and
#: these records are structured mode (the SDK would fail to read them).
EVENT_ID_HEADER = "hookline-cloudevent-id"
#: The Distributed Tracing extension attributes: set by whoever writes the record, for
#: its own span, never carried over from a stored event. A set, as pydantic's ``exclude``
#: takes it.
TRACE_CONTEXT_ATTRIBUTES: Final[set[str]] = {"traceparent", "tracestate"}
_NAMESPACE = uuid.UUID("5f0c8e3a-2b1d-4c6e-9a7f-3d2e1b0c9a8f")  # fixed forever: ids depend on it


def canonical_event_id(source: str, provider_event_id: str, subject: str) -> str:
    """The CloudEvents ``id``: equal inputs, equal id, in every process and release."""
    return uuid5_text(_NAMESPACE, f"{source}\x1f{provider_event_id}\x1f{subject}")


def snapshot_event_id(source: str, subject: str, event_type: str, version: datetime) -> str:
    """The ``id`` of a full, versioned snapshot: equal for every delivery of one entity
    state under one ``type``, whichever path (webhook, poll) brought it. ``version`` is
    compared as a UTC instant, so offsets and ``Z`` spell one version. The ``snapshot``
    marker keeps these ids apart from :func:`canonical_event_id`'s."""
    stamp = version.astimezone(UTC).isoformat()
    name = f"snapshot\x1f{source}\x1f{subject}\x1f{event_type}\x1f{stamp}"
    return uuid5_text(_NAMESPACE, name)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


#: Bounds of a ``metadata`` map: Stripe's own limits (50 keys, values up to 500 characters)
#: with room for other origins' longer key names. Normalisers leave out what does not fit.
METADATA_MAX_ENTRIES = 50
METADATA_MAX_KEY_LENGTH = 100
METADATA_MAX_VALUE_LENGTH = 500

Metadata = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=METADATA_MAX_KEY_LENGTH)],
        Annotated[str, StringConstraints(max_length=METADATA_MAX_VALUE_LENGTH)],
    ],
    Field(
        max_length=METADATA_MAX_ENTRIES,
        description="The origin's own key-value metadata (e.g. Stripe metadata such as "
        "order_id), string values only; entries that are not strings or exceed the bounds "
        "are left out (the raw topic keeps them).",
    ),
]


class Money(_Model):
    amount_minor: int = Field(description="Amount in the currency's minor unit (cents).")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, upper case.")


class Address(_Model):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = Field(None, description="State, province or county.")
    postal_code: str | None = None
    country: str | None = Field(None, description="ISO 3166-1 alpha-2 where known.")


class _Entity(_Model):
    id: str = Field(description="Canonical entity ID: '{system}:{that system's id}'.")
    external_ids: dict[str, str] = Field(
        default_factory=dict, description="This entity's ID in each system that knows it."
    )
    updated_at: AwareDatetime = Field(
        description="When the entity last changed at its origin; connectors order by it."
    )
    partial: bool = Field(
        False,
        description="False: a full snapshot. True: the origin sent only some fields (a CRM "
        "property change, a deletion, an entity embedded in another); unset fields are "
        "unknown, not empty, so merge instead of replacing.",
    )


class CustomerRef(_Model):
    id: str | None = Field(None, description="Canonical customer ID, when known.")
    email: str | None = None


class LineItem(_Model):
    sku: str | None = None
    name: str | None = None
    quantity: int
    unit_price: Money | None = None
    product_id: str | None = Field(None, description="Canonical product ID, when known.")


class Order(_Entity):
    kind: Literal["order"] = "order"
    number: str | None = Field(None, description="Human-facing order number or name.")
    status: Literal[
        "open",
        "paid",
        "partially_paid",
        "refunded",
        "partially_refunded",
        "cancelled",
        "fulfilled",
        "pending",
        "unknown",
    ] = "unknown"
    financial_status: str | None = Field(None, description="The origin's own payment status.")
    fulfillment_status: str | None = Field(None, description="The origin's own status.")
    customer: CustomerRef | None = None
    total: Money | None = None
    subtotal: Money | None = None
    tax: Money | None = None
    line_items: tuple[LineItem, ...] = ()
    shipping_address: Address | None = None
    tags: tuple[str, ...] = ()
    created_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    metadata: Metadata = Field(default_factory=dict)


class Customer(_Entity):
    kind: Literal["customer"] = "customer"
    email: str | None = None
    name: str | None = Field(None, description="Full name, when the origin gives one.")
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company: str | None = None
    address: Address | None = None
    tags: tuple[str, ...] = ()
    properties: dict[str, str | None] = Field(
        default_factory=dict, description="Other properties as the origin names them (CRMs)."
    )
    created_at: AwareDatetime | None = None


class Refund(_Model):
    id: str
    amount: Money
    status: str | None = None
    reason: str | None = None
    created_at: AwareDatetime | None = None


class Payment(_Entity):
    kind: Literal["payment"] = "payment"
    object_type: str = Field(
        description="What the origin calls it: payment_intent, charge, refund, invoice, "
        "checkout_session, order_transaction…"
    )
    status: Literal[
        "pending",
        "requires_action",
        "succeeded",
        "failed",
        "cancelled",
        "refunded",
        "partially_refunded",
        "unknown",
    ] = "unknown"
    amount: Money | None = None
    amount_refunded: Money | None = None
    customer: CustomerRef | None = None
    order_id: str | None = Field(None, description="Canonical order ID, when known.")
    parent_id: str | None = Field(
        None, description="Canonical ID of the payment this one belongs to (a refund's charge)."
    )
    refunds: tuple[Refund, ...] = ()
    description: str | None = None
    created_at: AwareDatetime | None = None
    metadata: Metadata = Field(default_factory=dict)


class InventoryLevel(_Model):
    location_id: str | None = None
    inventory_item_id: str | None = None
    available: int | None = None


class Product(_Entity):
    kind: Literal["product"] = "product"
    title: str | None = None
    sku: str | None = None
    status: str | None = None
    price: Money | None = None
    inventory: tuple[InventoryLevel, ...] = ()
    tags: tuple[str, ...] = ()
    created_at: AwareDatetime | None = None


class Sender(_Model):
    id: str | None = None
    username: str | None = None
    display_name: str | None = None
    is_bot: bool | None = None


class Message(_Entity):
    kind: Literal["message"] = "message"
    message_type: Literal[
        "message", "edited_message", "channel_post", "callback_query", "other"
    ] = "message"
    chat_id: str | None = None
    sender: Sender | None = None
    text: str | None = None
    callback_data: str | None = None
    reply_to_id: str | None = None
    sent_at: AwareDatetime | None = None


class Passthrough(_Entity):
    """An event we do not model yet, kept whole rather than dropped."""

    kind: Literal["passthrough"] = "passthrough"
    payload: dict[str, Any] | list[Any] = Field(description="The provider's JSON, as parsed.")


Entity = Annotated[
    Order | Customer | Payment | Product | Message | Passthrough, Field(discriminator="kind")
]

#: family name -> entity model; the normalised topics are ``{prefix}.events.{family}``.
FAMILIES: dict[str, type[_Entity]] = {
    "order": Order,
    "customer": Customer,
    "payment": Payment,
    "product": Product,
    "message": Message,
    "passthrough": Passthrough,
}


class CloudEvent(_Model):
    """One canonical event on a normalised topic."""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(
        description="Deterministic: snapshot_event_id(source, subject, type, version) for a "
        "full versioned snapshot, else canonical_event_id(source, provider id, subject)."
    )
    source: str = Field(description="'/hookline/{source name}', the configured webhook source.")
    type: str = Field(
        description="'dev.hookline.{family}.{action}', e.g. dev.hookline.order.updated."
    )
    subject: str = Field(description="'{family}:{entity id}'; also the Kafka key.")
    time: AwareDatetime = Field(description="When the change happened at its origin.")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str = Field(description="'urn:hookline:schema:v1:{family}'.")
    provider: str = Field(description="Extension: provider type, e.g. 'shopify'.")
    providereventtype: str = Field(description="Extension: the provider's event type.")
    providereventid: str = Field(description="Extension: the provider's event ID.")
    traceparent: str | None = Field(
        None,
        pattern=r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        description="Extension (CloudEvents Distributed Tracing): the W3C traceparent of "
        "the processor's span for this event, continuing the webhook's trace from the "
        "ingress; the same value as the record's 'traceparent' header. Absent when the "
        "event was not written by the processors.",
    )
    tracestate: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="Extension (CloudEvents Distributed Tracing): the W3C tracestate that "
        "came with the webhook's traceparent, unchanged (vendor-specific list-members); "
        "the same value as the record's 'tracestate' header. Present only beside "
        "traceparent, when the provider sent a well-formed one of at most 512 characters.",
    )
    data: Entity

    @property
    def family(self) -> str:
        return self.data.kind

    @classmethod
    def build(
        cls,
        *,
        source: str,
        provider: str,
        provider_event_id: str,
        provider_event_type: str,
        action: str,
        time: datetime,
        data: Order | Customer | Payment | Product | Message | Passthrough,
        versioned: bool = False,
    ) -> CloudEvent:
        """``versioned``: ``data.updated_at`` is the entity's own version at its origin
        (not an event or receipt time); a full snapshot then gets :func:`snapshot_event_id`."""
        subject = f"{data.kind}:{data.id}"
        event_type = f"dev.hookline.{data.kind}.{action}"
        if versioned and not data.partial and data.kind != "passthrough":
            event_id = snapshot_event_id(source, subject, event_type, data.updated_at)
        else:
            event_id = canonical_event_id(source, provider_event_id, subject)
        return cls(
            id=event_id,
            source=f"/hookline/{source}",
            type=event_type,
            subject=subject,
            time=time,
            dataschema=f"urn:hookline:schema:{SCHEMA_VERSION}:{data.kind}",
            provider=provider,
            providereventtype=provider_event_type,
            providereventid=provider_event_id,
            data=data,
        )
