"""Shopify webhooks -> Order (+ its customer), Customer, Product, inventory levels.

Orders and products use the shared samples (Shopify's REST docs order, the products/update
example from shopify.dev); customers and inventory levels are hand-written from Shopify's
webhook reference, which ships no sample files."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.normalisers import normalise
from processors.normalisers.base import InvalidPayload
from schemas.events import Customer, Money, Order, Passthrough, Product
from tests.unit.test_normalise_base import RECEIVED_AT, only, raw_event, sample, sample_json

ORDER = "shopify-app-js_rest_2025-10_order.EXTRACT.json"
PRODUCT = "shopify-dev_delivery-structure_products-update.json"


def order(**fields: Any) -> dict[str, Any]:
    return sample_json("shopify", ORDER) | fields


def run(topic: str, body: dict[str, Any] | bytes) -> list[Any]:
    return normalise(raw_event("shopify", topic, body, event_id="shop.myshopify.com:e1"))


def test_sample_order_becomes_an_order_and_its_customer() -> None:
    order_event, customer_event = run("orders/updated", sample("shopify", ORDER))
    data = order_event.data
    assert isinstance(data, Order)
    assert order_event.type == "dev.hookline.order.updated"
    assert order_event.subject == "order:shopify:450789469"
    assert (data.number, data.status, data.financial_status) == (
        "#1001",
        "partially_refunded",
        "partially_refunded",
    )
    assert data.total == Money(amount_minor=59894, currency="USD")
    assert data.subtotal == Money(amount_minor=59700, currency="USD")
    assert data.tax == Money(amount_minor=1194, currency="USD")
    assert [(i.sku, i.quantity, i.unit_price.amount_minor) for i in data.line_items] == [
        ("IPOD2008GREEN", 1, 19900),
        ("IPOD2008RED", 1, 19900),
        ("IPOD2008BLACK", 1, 19900),
    ]
    assert data.line_items[0].product_id == "shopify:632910392"
    assert data.customer.id == "shopify:207119551"
    assert data.customer.email == "bob.norman@mail.example.com"
    assert data.shipping_address.country == "US"
    assert data.shipping_address.region == "KY"
    assert data.tags == ()
    # "2008-01-10T11:00:00-05:00" is 16:00 UTC
    assert data.updated_at == order_event.time == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)

    buyer = customer_event.data
    assert isinstance(buyer, Customer)
    assert customer_event.type == "dev.hookline.customer.updated"
    assert buyer.partial is True
    assert (buyer.first_name, buyer.last_name, buyer.tags) == ("Bob", "Norman", ("Léon", "Noël"))
    assert buyer.updated_at == datetime(2025, 4, 2, 16, 29, 59, tzinfo=UTC)
    assert customer_event.id != order_event.id


@pytest.mark.parametrize(
    ("topic", "action"),
    [
        ("orders/create", "created"),
        ("orders/paid", "paid"),
        ("orders/cancelled", "cancelled"),
        ("orders/fulfilled", "fulfilled"),
        ("orders/partially_fulfilled", "updated"),
    ],
)
def test_order_topics_map_to_actions(topic: str, action: str) -> None:
    assert run(topic, order())[0].type == f"dev.hookline.order.{action}"


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"cancelled_at": "2024-01-01T10:00:00+01:00"}, "cancelled"),
        ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, "fulfilled"),
        ({"financial_status": "paid", "fulfillment_status": None}, "paid"),
        ({"financial_status": "authorized"}, "pending"),
        ({"financial_status": "voided"}, "cancelled"),
        ({"financial_status": None}, "open"),
        ({"financial_status": "something_new"}, "unknown"),
    ],
)
def test_order_status(fields: dict[str, Any], status: str) -> None:
    assert run("orders/updated", order(**fields))[0].data.status == status


def test_cancelled_at_is_utc() -> None:
    data = run("orders/cancelled", order(cancelled_at="2024-01-01T10:00:00+01:00"))[0].data
    assert data.cancelled_at == datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def minimal_order(currency: str, total: str) -> dict[str, Any]:
    return {
        "id": 820982911946154508,
        "currency": currency,
        "total_price": total,
        "created_at": "2024-03-01T09:00:00+09:00",
        "line_items": [{"title": "Tea", "quantity": 2, "price": total}],
    }


def test_yen_and_dinar_orders_use_their_exponents() -> None:
    yen = run("orders/create", minimal_order("JPY", "1500"))[0].data
    dinar = run("orders/create", minimal_order("KWD", "12.345"))[0].data
    assert yen.total == Money(amount_minor=1500, currency="JPY")
    assert dinar.total == Money(amount_minor=12345, currency="KWD")


def test_order_without_customer_or_optional_fields_is_one_event() -> None:
    data = only(run("orders/create", minimal_order("JPY", "1500"))).data
    assert (data.customer, data.subtotal, data.shipping_address, data.number) == (
        None,
        None,
        None,
        None,
    )
    assert data.line_items[0].name == "Tea"
    # no updated_at in the body: created_at, 09:00 in Tokyo is 00:00 UTC
    assert data.updated_at == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)


def test_amount_finer_than_the_currency_is_invalid() -> None:
    with pytest.raises(InvalidPayload, match="total_price"):
        run("orders/create", minimal_order("USD", "10.005"))


@pytest.mark.parametrize(
    ("topic", "family"),
    [("orders/delete", "order"), ("customers/delete", "customer"), ("products/delete", "product")],
)
def test_deletions_carry_only_the_id(topic: str, family: str) -> None:
    event = only(run(topic, {"id": 450789469}))
    assert event.type == f"dev.hookline.{family}.deleted"
    assert event.subject == f"{family}:shopify:450789469"
    assert event.data.partial is True
    assert event.data.updated_at == RECEIVED_AT


def test_products_update_sample() -> None:
    event = only(run("products/update", sample("shopify", PRODUCT)))
    data = event.data
    assert isinstance(data, Product)
    assert (data.title, data.sku, data.status) == ("T-Shirt", "TSHIRT-001", "active")
    assert data.tags == ("cotton", "comfortable")
    assert data.price is None  # product payloads state no currency
    assert data.updated_at == datetime(2025, 4, 22, 19, 30, tzinfo=UTC)


def test_product_variant_stock_becomes_inventory() -> None:
    body = sample_json("shopify", PRODUCT)
    body["variants"] = [
        {"id": 1, "sku": "A", "inventory_item_id": 11, "inventory_quantity": 3},
        {"id": 2, "sku": "B", "inventory_item_id": 12, "inventory_quantity": 0},
    ]
    data = only(run("products/create", body)).data
    assert data.sku is None  # several variants
    assert [(i.inventory_item_id, i.available) for i in data.inventory] == [("11", 3), ("12", 0)]


CUSTOMER = {
    "id": 706405506930370084,
    "email": "bob@biller.com",
    "created_at": "2021-12-31T19:00:00-05:00",
    "updated_at": "2022-01-01T00:00:00+01:00",
    "first_name": "Bob",
    "last_name": "Biller",
    "state": "disabled",
    "phone": None,
    "tags": "vip,  wholesale",
    "default_address": {
        "address1": "151 O'Connor Street",
        "city": "Ottawa",
        "province": "Ontario",
        "province_code": "ON",
        "country": "Canada",
        "country_code": "CA",
        "zip": "K2P 2L8",
        "company": "Biller Inc",
    },
}


def test_customers_create() -> None:
    event = only(run("customers/create", CUSTOMER))
    data = event.data
    assert event.type == "dev.hookline.customer.created"
    assert isinstance(data, Customer)
    assert data.partial is False
    assert (data.email, data.company, data.tags) == (
        "bob@biller.com",
        "Biller Inc",
        ("vip", "wholesale"),
    )
    assert data.address.region == "ON"
    assert data.updated_at == datetime(2021, 12, 31, 23, 0, tzinfo=UTC)
    assert data.created_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("topic", ["customers/enable", "customers/disable", "customers/update"])
def test_customer_state_changes_are_updates(topic: str) -> None:
    assert only(run(topic, CUSTOMER)).type == "dev.hookline.customer.updated"


LEVEL = {
    "inventory_item_id": 271878346596884015,
    "location_id": 24826418,
    "available": 7,
    "updated_at": "2024-06-01T12:00:00-04:00",
    "admin_graphql_api_id": "gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015",
}


def test_inventory_level_update() -> None:
    event = only(run("inventory_levels/update", LEVEL))
    data = event.data
    assert event.type == "dev.hookline.product.updated"
    assert data.id == "shopify:inventory_item:271878346596884015"
    assert data.partial is True
    level = data.inventory[0]
    assert (level.location_id, level.inventory_item_id, level.available) == (
        "24826418",
        "271878346596884015",
        7,
    )
    assert data.updated_at == datetime(2024, 6, 1, 16, 0, tzinfo=UTC)


def test_inventory_level_disconnect_without_time_or_stock() -> None:
    body = {"inventory_item_id": 271878346596884015, "location_id": 24826418}
    event = only(run("inventory_levels/disconnect", body))
    assert event.type == "dev.hookline.product.disconnected"
    assert event.data.inventory[0].available is None
    assert event.data.updated_at == RECEIVED_AT


def test_unknown_topic_passes_through() -> None:
    event = only(run("app/uninstalled", {"id": 548380009, "name": "Super Toys"}))
    assert isinstance(event.data, Passthrough)
    assert event.data.id == "shopify:app:548380009"
    assert event.data.payload == {"id": 548380009, "name": "Super Toys"}


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        ("orders/create", {"currency": "USD"}),
        ("orders/create", b'{"id": 1,'),
        ("orders/create", b'[{"id": 1}]'),
        ("orders/create", minimal_order("US Dollar", "1.00")),
        ("orders/create", order(updated_at="2024-01-01T10:00:00")),
        ("inventory_levels/update", {"location_id": 1, "available": 2}),
        ("customers/create", CUSTOMER | {"tags": "a", "email": 42}),
    ],
)
def test_malformed_bodies_are_invalid(topic: str, body: dict[str, Any] | bytes) -> None:
    with pytest.raises(InvalidPayload):
        run(topic, body)


def test_same_delivery_same_ids() -> None:
    assert run("orders/paid", sample("shopify", ORDER)) == run(
        "orders/paid", sample("shopify", ORDER)
    )


def test_order_note_attributes_are_its_metadata() -> None:
    attributes = [{"name": "gift", "value": "yes"}, {"name": "po", "value": 12}, "junk"]
    data = run("orders/create", minimal_order("JPY", "1500") | {"note_attributes": attributes})
    assert data[0].data.metadata == {"gift": "yes"}
