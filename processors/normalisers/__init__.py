"""Normalisers: one module per provider type, one line each in :data:`REGISTRY`.

Adding a provider: write ``processors/normalisers/<name>.py`` holding a
:class:`~processors.normalisers.base.ProviderNormaliser` subclass, its mapping table in the
module docstring and a module-level ``NORMALISER``; then add one line below. A test checks
that every module is registered. Provider types without an entry fall back to
:mod:`processors.normalisers.generic` (pass-through), so no event is dropped.

The processor calls :func:`normalise`; see :mod:`processors.normalisers.base` for the
contract and its one error, :class:`InvalidPayload`.
"""

from __future__ import annotations

from processors.normalisers import (
    generic,
    github,
    hubspot,
    shopify,
    standard_webhooks,
    stripe,
    telegram,
    woocommerce,
)
from processors.normalisers.base import InvalidPayload, NormaliseError, Normaliser, RawEvent
from schemas.events import CloudEvent

__all__ = [
    "FALLBACK",
    "REGISTRY",
    "InvalidPayload",
    "NormaliseError",
    "Normaliser",
    "RawEvent",
    "normalise",
    "normaliser_for",
]

#: provider type (the raw record's ``provider`` header) -> its normaliser.
REGISTRY: dict[str, Normaliser] = {
    "stripe": stripe.NORMALISER,
    "shopify": shopify.NORMALISER,
    "woocommerce": woocommerce.NORMALISER,
    "hubspot": hubspot.NORMALISER,
    "telegram": telegram.NORMALISER,
    "github": github.NORMALISER,
    "standard_webhooks": standard_webhooks.NORMALISER,
    "svix": standard_webhooks.NORMALISER,
    "generic_hmac": generic.NORMALISER,
}

#: Used for provider types that have no entry: everything passes through.
FALLBACK: Normaliser = generic.NORMALISER


def normaliser_for(provider: str) -> Normaliser:
    return REGISTRY.get(provider, FALLBACK)


def normalise(raw: RawEvent) -> list[CloudEvent]:
    """The CloudEvents for one raw record; raises only :class:`InvalidPayload`."""
    return normaliser_for(raw.headers.provider).normalise(raw)
