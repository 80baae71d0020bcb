"""CloudEvents ids of full, versioned snapshots: one id per (source, subject, type,
version), whichever path brought the state; every other event keeps the provider event
ID in its id."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from processors.normalisers.base import RawEvent
from processors.normalisers.shopify import NORMALISER
from schemas.events import CloudEvent, canonical_event_id
from schemas.raw import RawHeaders

ORDER = {
    "id": 450789469,
    "name": "#1001",
    "email": "bob@example.com",
    "financial_status": "pending",
    "total_price": "19.90",
    "currency": "EUR",
    "updated_at": "2024-05-31T12:08:37-04:00",
    "customer": {"id": 115310627314723954, "email": "bob@example.com"},
}
#: The poller's read of the same order state (pollers/adapters/shopify.py): fewer fields,
#: the same version written in UTC.
POLLED = {
    "id": 450789469,
    "name": "#1001",
    "email": "bob@example.com",
    "financial_status": "pending",
    "updated_at": "2024-05-31T16:08:37Z",
}


def normalise(
    body: dict[str, object], event_id: str, topic: str = "orders/updated"
) -> list[CloudEvent]:
    headers = RawHeaders(
        source="shop-eu",
        provider="shopify",
        event_id=event_id,
        event_type=topic,
        received_at=datetime(2024, 6, 1, tzinfo=UTC),
        content_type="application/json",
        request_id="r",
    )
    return NORMALISER.normalise(RawEvent(headers, orjson.dumps(body)))


def test_a_webhook_and_a_poll_of_one_order_state_share_the_id() -> None:
    webhook = normalise(ORDER, "0b1c-webhook-event")[0]
    polled = normalise(POLLED, "poll:order:450789469:2024-05-31T16:08:37+00:00")[0]
    assert webhook.id == polled.id
    assert webhook.providereventid != polled.providereventid


def test_a_redelivery_keeps_its_id_and_a_new_version_gets_a_new_one() -> None:
    first = normalise(ORDER, "evt-1")[0]
    assert normalise(ORDER, "evt-1")[0].id == first.id
    newer = normalise({**ORDER, "updated_at": "2024-05-31T12:09:00-04:00"}, "evt-2")[0]
    assert newer.id != first.id


def test_another_action_on_the_same_state_keeps_its_own_id() -> None:
    # Shopify sends orders/paid and orders/updated for one change: consumers routing on
    # type must still see both.
    paid = normalise(ORDER, "evt-paid", "orders/paid")[0]
    updated = normalise(ORDER, "evt-updated", "orders/updated")[0]
    assert paid.id != updated.id


def test_partial_snapshots_and_unversioned_bodies_keep_the_provider_event_id() -> None:
    buyer = normalise(ORDER, "evt-1")[1]
    assert buyer.data.partial
    assert buyer.id == canonical_event_id("shop-eu", "evt-1", buyer.subject)
    unversioned = {k: v for k, v in ORDER.items() if k != "updated_at"}
    order = normalise(unversioned, "evt-3")[0]
    assert order.id == canonical_event_id("shop-eu", "evt-3", order.subject)
