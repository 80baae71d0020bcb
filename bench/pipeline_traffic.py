"""The end-to-end benchmark's traffic: signed webhooks of mixed providers, each naming an
entity of its own, so each becomes exactly one new warehouse row whose id is known.

Mix (of every 20 requests): 6 Shopify orders, 3 Shopify customers, 5 Stripe payments,
3 Telegram messages, 3 WooCommerce orders. Signed with the packaged demo sources' secrets
(``launcher/demo_config/sources.toml``) through each provider's own ``sign`` twin.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from ingress.providers import REGISTRY
from ingress.providers.base import SourceConfig

MIX = ("order",) * 6 + ("customer",) * 3 + ("payment",) * 5 + ("message",) * 3 + ("woo",) * 3


@dataclass(frozen=True, slots=True)
class Request:
    """One signed webhook and the warehouse row it must produce."""

    path: str
    body: bytes
    headers: dict[str, str]
    table: str
    row_id: str


def build(n: int, tag: int, sources: dict[str, SourceConfig]) -> Request:
    """Request ``n`` of run ``tag`` (entity ids unique across runs)."""
    key = tag * 10_000_000 + n
    kind = MIX[n % len(MIX)]
    source, body, extra, table, row_id = _BUILDERS[kind](key)
    config = sources[source]
    secret = config.secrets[0].get_secret_value()
    headers = REGISTRY[config.provider].sign(body, secret, time.time(), **extra)
    return Request(f"/webhooks/{source}", body, headers, table, row_id)


Built = tuple[str, bytes, dict[str, str], str, str]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _order(key: int) -> Built:
    body = {
        "id": key,
        "name": f"#{key}",
        "email": f"b{key}@example.com",
        "created_at": _now(),
        "updated_at": _now(),
        "currency": "EUR",
        "total_price": "19.99",
        "subtotal_price": "19.99",
        "total_tax": "0.00",
        "financial_status": "pending",
        "line_items": [
            {"id": key, "sku": "SKU-1", "title": "Mug", "quantity": 1, "price": "19.99"}
        ],
    }
    extra = {"topic": "orders/create", "event_id": str(uuid.uuid4()), "shop": "b.myshopify.com"}
    return "shopify", orjson.dumps(body), extra, "orders", f"shopify:{key}"


def _customer(key: int) -> Built:
    body = {
        "id": key,
        "email": f"c{key}@example.com",
        "first_name": "Bench",
        "last_name": str(key),
        "created_at": _now(),
        "updated_at": _now(),
        "state": "enabled",
    }
    extra = {"topic": "customers/create", "event_id": str(uuid.uuid4()), "shop": "b.myshopify.com"}
    return "shopify", orjson.dumps(body), extra, "customers", f"shopify:{key}"


def _payment(key: int) -> Built:
    now = int(time.time())
    intent = {
        "id": f"pi_bench{key}",
        "object": "payment_intent",
        "amount": 1999,
        "amount_received": 1999,
        "currency": "eur",
        "status": "succeeded",
        "created": now,
        "metadata": {"order_id": str(key)},
    }
    body = {
        "id": f"evt_bench{key}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": now,
        "type": "payment_intent.succeeded",
        "livemode": False,
        "data": {"object": intent},
    }
    return "stripe", orjson.dumps(body), {}, "payments", f"stripe:pi_bench{key}"


def _message(key: int) -> Built:
    chat = {"id": key, "type": "private", "first_name": "Bench"}
    message = {"message_id": 1, "date": int(time.time()), "text": "Where is my order?"}
    body = {
        "update_id": key,
        "message": {**message, "chat": chat, "from": {**chat, "is_bot": False}},
    }
    return "telegram", orjson.dumps(body), {}, "messages", f"telegram:{key}:1"


def _woo(key: int) -> Built:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    body = {
        "id": key,
        "number": str(key),
        "status": "processing",
        "currency": "USD",
        "total": "42.00",
        "date_created_gmt": stamp,
        "date_modified_gmt": stamp,
        "billing": {"email": f"w{key}@example.com"},
        "line_items": [{"id": 1, "name": "Hoodie", "quantity": 1, "sku": "H-1", "price": 42}],
    }
    extra = {"topic": "order.created"}
    return "woocommerce", orjson.dumps(body), extra, "orders", f"woocommerce:woocommerce:{key}"


_BUILDERS = {
    "order": _order,
    "customer": _customer,
    "payment": _payment,
    "message": _message,
    "woo": _woo,
}
