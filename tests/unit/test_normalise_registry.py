"""Every normaliser module is registered, and every registered normaliser honours the same
contract: pure, deterministic, and only ``InvalidPayload`` for bodies it cannot read."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import timedelta

import pytest

import processors.normalisers as package
from hookline.topics import EVENT_FAMILIES
from processors.normalisers import FALLBACK, REGISTRY, normaliser_for
from processors.normalisers.base import InvalidPayload, Normaliser
from tests.unit.test_normalise_base import raw_event

HELPERS = {"base", "fields"}
PROVIDER_TYPES = {
    "stripe",
    "shopify",
    "telegram",
    "standard_webhooks",
    "svix",
    "hubspot",
    "woocommerce",
    "generic_hmac",
    "github",
}
# A body every normaliser can read: a JSON object with the fields each requires.
READABLE = (
    b'{"id": "x1", "type": "customer.created", "created": 1700000000, "update_id": 1,'
    b' "portalId": 1, "occurredAt": 1700000000000, "subscriptionType": "deal.creation"}'
)


def provider_modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in HELPERS]


@pytest.mark.parametrize("name", provider_modules())
def test_every_normaliser_module_is_registered(name: str) -> None:
    module = importlib.import_module(f"processors.normalisers.{name}")
    registered = [*REGISTRY.values(), FALLBACK]
    assert any(module.NORMALISER is n for n in registered), f"add {name} to REGISTRY"


def test_registry_covers_every_provider_type() -> None:
    assert set(REGISTRY) == PROVIDER_TYPES


def test_unregistered_providers_fall_back_to_pass_through() -> None:
    assert normaliser_for("acme") is FALLBACK


@pytest.mark.parametrize(("provider", "normaliser"), sorted(REGISTRY.items()))
def test_body_that_is_not_json_is_an_invalid_payload(provider: str, normaliser: Normaliser) -> None:
    with pytest.raises(InvalidPayload, match="not JSON"):
        normaliser.normalise(raw_event(provider, "customer.created", b"\x00{garbage"))


@pytest.mark.parametrize(("provider", "normaliser"), sorted(REGISTRY.items()))
def test_output_is_deterministic_and_well_formed(provider: str, normaliser: Normaliser) -> None:
    raw = raw_event(provider, "customer.created", READABLE, event_id="e-42")
    events = normaliser.normalise(raw)
    assert events == normaliser.normalise(raw)
    assert events
    for event in events:
        assert event.family in EVENT_FAMILIES
        assert event.source == "/hookline/src"
        assert (event.provider, event.providereventid) == (provider, "e-42")
        assert event.subject == f"{event.family}:{event.data.id}"
        assert event.time.utcoffset() == timedelta(0)
        assert event.data.updated_at.utcoffset() == timedelta(0)
