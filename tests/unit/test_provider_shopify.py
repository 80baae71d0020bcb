"""Shopify specifics: dedupe key from headers, scoped by shop; Events header names."""

from __future__ import annotations

from multidict import CIMultiDict

from ingress.providers.base import RawRequest, VerifiedWebhook, body_fingerprint
from ingress.providers.shopify import PROVIDER, ShopifyConfig
from tests.conftest import DATA

SECRET = "shpss_secret"
SAMPLES = DATA / "payloads" / "shopify"
BODY = (SAMPLES / "shopify-dev_delivery-structure_products-update.json").read_bytes()
HMAC = PROVIDER.sign(BODY, SECRET, 0)["X-Shopify-Hmac-Sha256"]


def verify(headers: dict[str, str], body: bytes = BODY) -> VerifiedWebhook:
    config = ShopifyConfig(name="shop", secrets=(SECRET,))
    return PROVIDER.verify(RawRequest("POST", "https://x/", CIMultiDict(headers), body), config, 0)


def test_event_id_is_the_event_id_scoped_by_shop_domain() -> None:
    headers = {
        "X-Shopify-Hmac-Sha256": HMAC,
        "X-Shopify-Topic": "products/update",
        "X-Shopify-Shop-Domain": "shop.myshopify.com",
        "X-Shopify-Event-Id": "evt-1",
        "X-Shopify-Webhook-Id": "wh-1",
    }
    event = verify(headers).events[0]
    assert (event.event_id, event.event_type) == ("shop.myshopify.com:evt-1", "products/update")


def test_webhook_id_is_used_without_an_event_id() -> None:
    event = verify({"X-Shopify-Hmac-Sha256": HMAC, "X-Shopify-Webhook-Id": "wh-1"}).events[0]
    assert (event.event_id, event.event_type) == ("wh-1", "unknown")


def test_events_deliveries_use_header_names_without_the_x_prefix() -> None:
    headers = {
        "shopify-hmac-sha256": HMAC,
        "shopify-topic": "Product",
        "shopify-shop-domain": "shop.myshopify.com",
        "shopify-webhook-id": "wh-2",
    }
    event = verify(headers).events[0]
    assert (event.event_id, event.event_type) == ("shop.myshopify.com:wh-2", "Product")


def test_delivery_without_ids_falls_back_to_the_body_fingerprint() -> None:
    assert verify({"X-Shopify-Hmac-Sha256": HMAC}).events[0].event_id == body_fingerprint(BODY)


def test_non_ascii_order_body_is_verified_byte_for_byte() -> None:
    body = (SAMPLES / "shopify-app-js_rest_2025-10_order.EXTRACT.json").read_bytes()
    assert "Léon".encode() in body
    headers = PROVIDER.sign(body, SECRET, 0, topic="orders/create")
    assert verify(headers, body).events[0].event_type == "orders/create"
