"""Idempotency keys and state hashes: deterministic, so re-delivery is harmless."""

from __future__ import annotations

from connectors.delivery import idempotency_key, state_hash


def test_the_idempotency_key_depends_on_connector_and_event_only() -> None:
    key = idempotency_key("crm", "5f0c8e3a-0000-0000-0000-000000000001")
    assert key == idempotency_key("crm", "5f0c8e3a-0000-0000-0000-000000000001")
    assert key == "92455f08-3aec-5c7f-b112-5c65a964ba85"  # fixed across releases
    assert key != idempotency_key("erp", "5f0c8e3a-0000-0000-0000-000000000001")
    assert key != idempotency_key("crm", "5f0c8e3a-0000-0000-0000-000000000002")


def test_the_state_hash_ignores_key_order_but_not_values() -> None:
    one = state_hash({"email": "a@x", "address": {"city": "Oslo", "country": "NO"}})
    same = state_hash({"address": {"country": "NO", "city": "Oslo"}, "email": "a@x"})
    other = state_hash({"email": "a@x", "address": {"city": "Bergen", "country": "NO"}})
    assert one == same
    assert one != other
