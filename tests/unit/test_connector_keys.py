"""Idempotency keys and state hashes: deterministic, so re-delivery is harmless."""

from __future__ import annotations

import uuid

import pytest

from connectors.delivery import _KEY_NAMESPACE, idempotency_key, state_hash


def test_the_idempotency_key_depends_on_connector_and_event_only() -> None:
    key = idempotency_key("crm", "5f0c8e3a-0000-0000-0000-000000000001")
    assert key == idempotency_key("crm", "5f0c8e3a-0000-0000-0000-000000000001")
    assert key == "92455f08-3aec-5c7f-b112-5c65a964ba85"  # fixed across releases
    assert key != idempotency_key("erp", "5f0c8e3a-0000-0000-0000-000000000001")
    assert key != idempotency_key("crm", "5f0c8e3a-0000-0000-0000-000000000002")


@pytest.mark.parametrize(
    "event_id", ["5f0c8e3a-0000-0000-0000-000000000001", "évènement-42", "", "x" * 300]
)
def test_the_idempotency_key_is_the_uuid5_of_connector_and_event(event_id: str) -> None:
    expected = uuid.uuid5(_KEY_NAMESPACE, f"shop\x1f{event_id}")
    assert idempotency_key("shop", event_id) == str(expected)


def test_the_state_hash_ignores_key_order_but_not_values() -> None:
    one = state_hash({"email": "a@x", "address": {"city": "Oslo", "country": "NO"}})
    same = state_hash({"address": {"country": "NO", "city": "Oslo"}, "email": "a@x"})
    other = state_hash({"email": "a@x", "address": {"city": "Bergen", "country": "NO"}})
    assert one == same
    assert one != other
