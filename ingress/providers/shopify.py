"""Shopify webhooks (classic webhooks and the newer "Events" deliveries).

Signature: ``X-Shopify-Hmac-Sha256`` (Events deliveries: ``Shopify-Hmac-Sha256``) is the
base64 HMAC-SHA256 of the raw body, keyed by the app's client secret as UTF-8, with no
prefix. Every ``X-Shopify-*`` header below is also read under its ``Shopify-*`` name.
No timestamp is signed, so there is no time window (``X-Shopify-Triggered-At`` only shows
staleness). After a secret rotation Shopify may sign with the old secret for up to an hour:
configure both secrets meanwhile.

Event ID (the dedupe key): ``X-Shopify-Event-Id``, else ``X-Shopify-Webhook-Id``, both
stable across retries, prefixed by ``X-Shopify-Shop-Domain`` when present
(``shop.myshopify.com:<id>``) because one app endpoint receives many shops. Shopify
documents that one event ID seen twice is a duplicate, including one event delivered to
several subscriptions of the same topic. Without either header: the body fingerprint.
Event type: ``X-Shopify-Topic`` (``orders/create``), else ``unknown``.

Retries: 8 times over 4 hours with the same payload, on any non-2xx or a slow answer.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from ingress.providers.base import (
    RawRequest,
    SourceConfig,
    VerifiedWebhook,
    accept,
    check_hmac,
    encode_digest,
    hmac_digest,
    make_event,
    optional_header,
    require_header,
)


class ShopifyConfig(SourceConfig):
    provider: Literal["shopify"] = "shopify"


class ShopifyProvider:
    name: ClassVar[str] = "shopify"
    config_model: ClassVar[type[SourceConfig]] = ShopifyConfig

    def verify(self, request: RawRequest, config: ShopifyConfig, now: float) -> VerifiedWebhook:
        signature = require_header(request, *_names("Hmac-Sha256"))
        check_hmac(config.secret_values(), request.body, [signature], "base64")
        delivery = optional_header(request, *_names("Event-Id"), *_names("Webhook-Id"))
        shop = optional_header(request, *_names("Shop-Domain"))
        event_id = f"{shop}:{delivery}" if shop and delivery else delivery
        event_type = optional_header(request, *_names("Topic"))
        return accept(request, config, self.name, [make_event(request.body, event_id, event_type)])

    def sign(self, body: bytes, secret: str, now: float, **extra: str) -> dict[str, str]:
        return {
            "X-Shopify-Hmac-Sha256": encode_digest(hmac_digest(secret.encode(), body), "base64"),
            "X-Shopify-Topic": extra.get("topic", "orders/create"),
            "X-Shopify-Shop-Domain": extra.get("shop", "example.myshopify.com"),
            "X-Shopify-Event-Id": extra.get("event_id", "00000000-0000-0000-0000-000000000000"),
            "Content-Type": "application/json",
        }


def _names(suffix: str) -> tuple[str, str]:
    """A header's classic (``X-Shopify-…``) and Events (``Shopify-…``) names."""
    return f"X-Shopify-{suffix}", f"Shopify-{suffix}"


PROVIDER = ShopifyProvider()
