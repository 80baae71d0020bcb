"""Provider registry: one module per provider type, one line each here.

Adding a provider: write ``ingress/providers/<name>.py`` with a config model (a
``SourceConfig`` subclass tagged by its ``provider`` Literal) and a ``PROVIDER`` object
(see :mod:`ingress.providers.base`), then add one line below. The sources file is
validated against the registered config models, which act as a union tagged on
``provider``; ``tests/contract`` runs the same scenarios against every entry.
"""

from __future__ import annotations

from ingress.providers import (
    generic_hmac,
    github,
    hubspot,
    shopify,
    standard_webhooks,
    stripe,
    telegram,
    woocommerce,
)
from ingress.providers.base import Provider

REGISTRY: dict[str, Provider] = {
    github.PROVIDER.name: github.PROVIDER,
    stripe.PROVIDER.name: stripe.PROVIDER,
    shopify.PROVIDER.name: shopify.PROVIDER,
    telegram.PROVIDER.name: telegram.PROVIDER,
    standard_webhooks.PROVIDER.name: standard_webhooks.PROVIDER,
    standard_webhooks.SVIX.name: standard_webhooks.SVIX,
    hubspot.PROVIDER.name: hubspot.PROVIDER,
    woocommerce.PROVIDER.name: woocommerce.PROVIDER,
    generic_hmac.PROVIDER.name: generic_hmac.PROVIDER,
}
