"""Cross-system identity of people: one entity per email, whatever the source's IDs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.destinations.base import Change, email_identity, identity_of, observes
from connectors.destinations.http_upsert import HttpUpsert


def change(family: str, state: dict[str, Any], key: str = "customer:shopify:1") -> Change:
    return Change(key, family, key.split(":", 1)[1], state, "h", datetime.now(UTC), "shopify",
                  "e1", "customer.updated")  # fmt: skip


def test_a_customer_with_an_email_is_a_person_keyed_by_the_email_in_lower_case() -> None:
    assert email_identity(change("customer", {"email": " Ada@Example.COM "})) == (
        "person:ada@example.com"
    )
    hubspot = change("customer", {"email": "ada@example.com"}, "customer:hubspot:1:contact:7")
    assert email_identity(hubspot) == "person:ada@example.com"


def test_without_an_email_or_for_other_families_the_entity_key_stays() -> None:
    assert email_identity(change("customer", {"firstname": "Ada"})) == "customer:shopify:1"
    assert email_identity(change("order", {"email": "a@x"}, "order:shopify:1")) == (
        "order:shopify:1"
    )


def test_destinations_without_the_hooks_keep_the_entity_key_and_observe_nothing() -> None:
    destination: Any = object.__new__(HttpUpsert)
    assert identity_of(destination, change("customer", {"email": "a@x"})) == "customer:shopify:1"
    assert observes(destination, None) is False  # type: ignore[arg-type]
