"""A polled Shopify order is the whole order: the canonical Order (and its buyer) from the
poller's read equals the one from the ``orders/updated`` webhook of the same state, line
items beyond the first page included, and every query stays under Shopify's 1,000-point
cap in the stand-in's cost model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from pydantic import SecretStr

from pollers.adapters.shopify import (
    LINE_ITEMS_PER_ORDER,
    LINE_ITEMS_QUERY,
    MAX_PAGE_SIZE,
    MORE_LINE_ITEMS,
    QUERY,
    ShopifyAdapter,
    ShopifyPollConfig,
)
from processors.normalisers import RawEvent, normalise
from sandbox.shopify import MAX_QUERY_COST, FakeShopify
from sandbox.shopify_schema import requested_cost, shop_schema
from sandbox.shopify_store import line_item, money
from schemas.events import CloudEvent, Order
from schemas.raw import RawHeaders

LINES = LINE_ITEMS_PER_ORDER + 2  # two more than the page reads: a follow-up query
ADDRESS = {"company": "Acme GmbH", "address1": "Hauptstr. 1", "address2": None,
           "city": "Berlin", "province": "Berlin", "provinceCode": "BE", "zip": "10115",
           "country": "Germany", "countryCodeV2": "DE"}  # fmt: skip
REST_ADDRESS = {"first_name": "Ada", "last_name": "Lovelace", "company": "Acme GmbH",
                "address1": "Hauptstr. 1", "address2": None, "city": "Berlin",
                "province": "Berlin", "province_code": "BE", "zip": "10115",
                "country": "Germany", "country_code": "DE", "phone": None}  # fmt: skip


def cost(query: str, variables: dict[str, Any]) -> int:
    document = parse(query)
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return requested_cost(shop_schema(), operation, fragments, variables)


def test_the_page_size_is_the_largest_under_the_query_cost_cap() -> None:
    lines = {"lines": LINE_ITEMS_PER_ORDER}
    assert cost(QUERY, {"first": MAX_PAGE_SIZE, **lines}) <= MAX_QUERY_COST
    assert cost(QUERY, {"first": MAX_PAGE_SIZE + 1, **lines}) > MAX_QUERY_COST
    assert cost(LINE_ITEMS_QUERY, {"first": MORE_LINE_ITEMS}) <= MAX_QUERY_COST


def seed_rich_order(shop: FakeShopify) -> dict[str, Any]:
    items = [
        line_item(900 + i, f"Widget {i}", i, f"{i}.50", sku=f"W-{i}", product=700 + i)
        for i in range(1, LINES + 1)
    ]
    items[0]["product"] = None  # a custom item
    buyer = {"__typename": "Customer", "id": "gid://shopify/Customer/207119551",
             "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
             "phone": "+4930123456", "tags": ["vip", "b2b"], "defaultAddress": ADDRESS,
             "createdAt": "2024-01-02T10:00:00Z", "updatedAt": "2024-03-04T10:00:00Z"}  # fmt: skip
    order_id = shop.store.seed_order(
        450789469, paid=True, tags=["gift", "rush"], email="ada@example.com",
        note="leave at door", displayFulfillmentStatus="PARTIALLY_FULFILLED",
        createdAt="2024-05-01T08:00:00Z", totalPriceSet=money("409.94"),
        subtotalPriceSet=money("398.00"), totalTaxSet=money("11.94"), customer=buyer,
        shippingAddress=ADDRESS, lineItems=items,
        customAttributes=[{"key": "gift_wrap", "value": "yes"}],
    )  # fmt: skip
    return shop.store.orders_by_id[order_id]


def webhook_body(order: dict[str, Any]) -> bytes:
    """Shopify's REST ``orders/updated`` body of the same state, as the webhook sends it
    (more fields than the canonical Order reads; times in the shop's offset)."""
    updated = datetime.fromisoformat(order["updatedAt"].replace("Z", "+00:00"))
    return orjson.dumps(
        {
            "id": 450789469, "admin_graphql_api_id": order["id"], "name": "#450789469",
            "order_number": 1001, "email": "ada@example.com", "contact_email": "ada@example.com",
            "note": "leave at door", "tags": "gift, rush", "financial_status": "paid",
            "fulfillment_status": "partial", "currency": "EUR", "presentment_currency": "EUR",
            "created_at": "2024-05-01T10:00:00+02:00", "cancelled_at": None,
            "updated_at": updated.astimezone().isoformat(), "total_price": "409.94",
            "subtotal_price": "398.00", "total_tax": "11.94", "total_discounts": "0.00",
            "note_attributes": [{"name": "gift_wrap", "value": "yes"}],
            "line_items": [
                {"id": 900 + i, "name": f"Widget {i}", "title": "Widget", "sku": f"W-{i}",
                 "quantity": i, "price": f"{i}.50", "product_id": 700 + i if i > 1 else None,
                 "variant_id": None, "taxable": True}
                for i in range(1, LINES + 1)
            ],
            "shipping_address": REST_ADDRESS, "billing_address": REST_ADDRESS,
            "customer": {
                "id": 207119551, "email": "ada@example.com", "first_name": "Ada",
                "last_name": "Lovelace", "phone": "+4930123456", "tags": "vip, b2b",
                "created_at": "2024-01-02T10:00:00Z", "updated_at": "2024-03-04T10:00:00Z",
                "state": "enabled", "default_address": {"id": 1, **REST_ADDRESS},
            },
        }
    )  # fmt: skip


def normalised(body: bytes, event_id: str) -> list[CloudEvent]:
    headers = RawHeaders(
        source="shop", provider="shopify", event_id=event_id, event_type="orders/updated",
        received_at=datetime.now(UTC), content_type="application/json", request_id="r",
    )  # fmt: skip
    return normalise(RawEvent(headers, body))


@pytest.fixture
async def shop() -> AsyncIterator[FakeShopify]:
    fake = FakeShopify(maximum_available=1e9, restore_rate=1e9)
    await fake.start()
    yield fake
    await fake.close()


async def test_a_polled_order_normalises_to_the_webhooks_order(shop: FakeShopify) -> None:
    order = seed_rich_order(shop)
    adapter = ShopifyAdapter(ShopifyPollConfig(base_url=shop.base_url, token=SecretStr(shop.token)))
    try:
        page = await adapter.fetch(None, None, 100)
    finally:
        await adapter.close()
    [record] = page.records
    polled = normalised(record.body, f"poll:{record.entity_id}:{record.version}")
    hooked = normalised(webhook_body(order), "example.myshopify.com-evt-1")
    assert [e.family for e in polled] == ["order", "customer"]
    assert polled[0].data == hooked[0].data  # the whole Order, all 12 line items
    polled_order = polled[0].data
    assert isinstance(polled_order, Order)
    assert len(polled_order.line_items) == LINES
    assert not polled_order.partial
    assert polled[0].id == hooked[0].id  # one canonical event
    assert polled[1].data == hooked[1].data  # the buyer
    assert [c.fields for c in shop.calls] == [("orders",), ("order",)]
    assert not any(c.throttled for c in shop.calls)


async def test_a_page_never_asks_for_more_orders_than_the_cost_cap_allows(
    shop: FakeShopify,
) -> None:
    for number in range(1, MAX_PAGE_SIZE + 3):
        shop.store.seed_order(number)
    adapter = ShopifyAdapter(ShopifyPollConfig(base_url=shop.base_url, token=SecretStr(shop.token)))
    try:
        first = await adapter.fetch(None, None, 100)
        rest = await adapter.fetch(None, first.next_after, 100)
    finally:
        await adapter.close()
    assert (len(first.records), len(rest.records), rest.next_after) == (MAX_PAGE_SIZE, 2, None)
