"""Webhook bodies as the providers send them, for the whole-pipeline tests
(tests/integration/test_flows.py, tests/integration/test_chaos.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

#: when the test world's records were created
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def shopify_customer_body(number: int, at: datetime, **fields: Any) -> bytes:
    """Shopify's ``customers/update`` body for customer ``number``, as of ``at``."""
    body = {
        "id": number,
        "email": f"c{number}@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": None,
        "state": "enabled",
        "created_at": T0.isoformat(),
        "updated_at": at.isoformat(),
        "default_address": {"company": f"Engines {number}", "city": "London"},
    } | fields
    return orjson.dumps(body)


def shopify_order_body(number: int, email: str) -> bytes:
    body = {
        "id": number,
        "name": f"#{number}",
        "email": email,
        "currency": "EUR",
        "total_price": "49.00",
        "subtotal_price": "49.00",
        "total_tax": "0.00",
        "financial_status": "pending",
        "created_at": T0.isoformat(),
        "updated_at": T0.isoformat(),
        "line_items": [{"id": 1, "sku": "MUG", "title": "Mug", "quantity": 1, "price": "49.00"}],
    }
    return orjson.dumps(body)


def stripe_event(kind: str, obj: dict[str, Any]) -> bytes:
    body = {
        "id": f"evt_{obj['id']}_{kind}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(T0.timestamp()) + 600,
        "type": kind,
        "livemode": False,
        "data": {"object": obj},
    }
    return orjson.dumps(body)


def intent(pi: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {"id": pi, "object": "payment_intent", "amount": 4900, "amount_received": 4900,
            "currency": "eur", "status": "succeeded", "created": int(T0.timestamp()),
            "metadata": metadata}  # fmt: skip
