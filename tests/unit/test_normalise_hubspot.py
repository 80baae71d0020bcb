"""HubSpot webhook events -> partial Customer for contacts, pass-through for the rest.

No sample files exist; these events follow HubSpot's webhooks API reference: one element
of the delivered array per raw record (the ingress splits batches)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.normalisers import normalise
from processors.normalisers.base import InvalidPayload
from schemas.events import Customer, Passthrough
from tests.unit.test_normalise_base import only, raw_event

OCCURRED_AT = 1717171717123  # 2024-05-31T16:08:37.123Z


def hubspot_event(subscription_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "eventId": 1234567890,
        "subscriptionId": 2881778,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": OCCURRED_AT,
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "objectId": 123,
        "changeSource": "CRM",
        "changeFlag": "NEW",
        **fields,
    }


def run(body: dict[str, Any] | list[Any] | bytes) -> Any:
    kind = body.get("subscriptionType", "unknown") if isinstance(body, dict) else "unknown"
    return only(normalise(raw_event("hubspot", str(kind), body)))


def test_contact_creation_is_a_partial_customer() -> None:
    event = run(hubspot_event("contact.creation"))
    data = event.data
    assert isinstance(data, Customer)
    assert event.type == "dev.hookline.customer.created"
    assert event.subject == "customer:hubspot:62515:contact:123"
    assert data.external_ids == {"hubspot": "123"}
    assert data.partial is True
    assert (data.email, data.properties) == (None, {})
    assert data.updated_at == event.time == datetime(2024, 5, 31, 16, 8, 37, 123000, tzinfo=UTC)


def test_property_change_of_a_known_field() -> None:
    body = hubspot_event("contact.propertyChange", propertyName="email", propertyValue="a@b.co")
    event = run(body)
    assert event.type == "dev.hookline.customer.updated"
    assert event.data.email == "a@b.co"
    assert event.data.properties == {"email": "a@b.co"}
    assert event.data.first_name is None  # unknown, not empty: the customer is partial


def test_property_change_of_another_field_keeps_its_name() -> None:
    body = hubspot_event(
        "contact.propertyChange", propertyName="lifecyclestage", propertyValue="customer"
    )
    data = run(body).data
    assert data.properties == {"lifecyclestage": "customer"}
    assert data.email is None


def test_cleared_property_is_none() -> None:
    body = hubspot_event("contact.propertyChange", propertyName="firstname", propertyValue="")
    data = run(body).data
    assert data.properties == {"firstname": None}
    assert data.first_name is None


@pytest.mark.parametrize("kind", ["contact.deletion", "contact.privacyDeletion"])
def test_contact_deletions(kind: str) -> None:
    event = run(hubspot_event(kind))
    assert event.type == "dev.hookline.customer.deleted"
    assert event.data.partial is True


def test_legacy_event_type_field_is_accepted() -> None:
    body = hubspot_event("contact.creation")
    body["eventType"] = body.pop("subscriptionType")
    assert run(body).type == "dev.hookline.customer.created"


def test_generic_object_subscription_for_contacts() -> None:
    body = hubspot_event(
        "object.propertyChange", objectTypeId="0-1", propertyName="phone", propertyValue="+1 555"
    )
    data = run(body).data
    assert isinstance(data, Customer)
    assert data.phone == "+1 555"


@pytest.mark.parametrize(
    ("kind", "extra", "key"),
    [
        ("company.propertyChange", {"propertyName": "name", "propertyValue": "Acme"}, "company"),
        ("deal.creation", {}, "deal"),
        ("object.creation", {"objectTypeId": "0-3"}, "deal"),
        ("contact.merge", {"mergedObjectIds": [1, 2], "newObjectId": 123}, "contact"),
        ("ticket.creation", {}, "ticket"),
    ],
)
def test_companies_deals_and_others_pass_through_keyed_by_object(
    kind: str, extra: dict[str, Any], key: str
) -> None:
    event = run(hubspot_event(kind, **extra))
    assert isinstance(event.data, Passthrough)
    assert event.type == "dev.hookline.passthrough.received"
    assert event.data.id == f"hubspot:62515:{key}:123"
    assert event.data.updated_at == datetime(2024, 5, 31, 16, 8, 37, 123000, tzinfo=UTC)
    assert event.data.payload["subscriptionType"] == kind


def test_event_without_object_passes_through_keyed_by_event() -> None:
    event = run(hubspot_event("contact.creation", objectId=None))
    assert isinstance(event.data, Passthrough)
    assert event.data.id == "hubspot:src:evt-1"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([hubspot_event("contact.creation")], "expected an object"),
        (hubspot_event("contact.propertyChange"), "propertyName"),
        (hubspot_event("contact.creation", occurredAt=None), "occurredAt"),
        (hubspot_event("contact.creation", occurredAt="yesterday"), "occurredAt"),
        (hubspot_event("contact.creation", portalId=None), "portalId"),
        ({"portalId": 1, "occurredAt": OCCURRED_AT}, "eventType"),
    ],
)
def test_malformed_events_are_invalid(body: Any, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        run(body)


def test_same_record_same_id() -> None:
    body = hubspot_event("contact.propertyChange", propertyName="email", propertyValue="a@b.co")
    assert run(body).id == run(body).id
