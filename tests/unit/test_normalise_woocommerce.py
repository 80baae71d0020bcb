"""WooCommerce webhooks -> Order, Customer, Product, on the REST docs' order (the webhook
body is the REST object) plus hand-written customers and products of the v3 API shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.normalisers import normalise
from processors.normalisers.base import InvalidPayload
from schemas.events import Customer, Money, Order, Passthrough, Product
from tests.unit.test_normalise_base import RECEIVED_AT, only, raw_event, sample, sample_json

ORDER = "order-retrieve-v3.json"


def run(topic: str, body: dict[str, Any] | bytes, source: str = "shop-eu") -> Any:
    return only(normalise(raw_event("woocommerce", topic, body, source=source)))


def order(**fields: Any) -> dict[str, Any]:
    return sample_json("woocommerce", ORDER) | fields


def test_sample_order() -> None:
    event = run("order.updated", sample("woocommerce", ORDER))
    data = event.data
    assert isinstance(data, Order)
    assert event.type == "dev.hookline.order.updated"
    assert event.subject == "order:woocommerce:shop-eu:727"
    assert data.external_ids == {"woocommerce": "727"}
    assert (data.number, data.status, data.financial_status) == ("727", "paid", "processing")
    assert data.total == Money(amount_minor=2935, currency="USD")
    assert data.tax == Money(amount_minor=135, currency="USD")
    assert data.subtotal == Money(amount_minor=1800, currency="USD")  # 6.00 + 12.00
    assert data.customer.id is None  # customer_id 0: a guest
    assert data.customer.email == "john.doe@example.com"
    assert [
        (i.sku, i.quantity, i.unit_price.amount_minor, i.product_id) for i in data.line_items
    ] == [
        (None, 2, 300, "woocommerce:shop-eu:93"),
        ("Bar3", 1, 1200, "woocommerce:shop-eu:22"),
    ]
    assert (data.shipping_address.line1, data.shipping_address.region) == ("969 Market", "CA")
    # the *_gmt fields are UTC; the site-local ones (3 hours behind) are not used
    assert data.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert data.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)


def test_same_ids_differ_between_sites() -> None:
    body = sample("woocommerce", ORDER)
    first = run("order.updated", body, source="shop-eu")
    second = run("order.updated", body, source="shop-us")
    assert first.subject != second.subject


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", "pending"),
        ("on-hold", "pending"),
        ("completed", "fulfilled"),
        ("cancelled", "cancelled"),
        ("refunded", "refunded"),
        ("failed", "unknown"),
    ],
)
def test_order_status(status: str, expected: str) -> None:
    data = run("order.updated", order(status=status)).data
    assert (data.status, data.financial_status) == (expected, status)


def test_offset_times_are_used_when_no_gmt_field_exists() -> None:
    body = order(date_modified_gmt=None, date_modified="2024-05-01T10:00:00+02:00")
    assert run("order.updated", body).data.updated_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_local_times_without_offset_are_not_guessed() -> None:
    body = order(date_modified_gmt=None, date_created_gmt=None)  # only site-local times left
    data = run("order.updated", body).data
    assert data.created_at is None
    assert data.updated_at == RECEIVED_AT


def test_store_precision_beyond_the_currency_is_rounded() -> None:
    item = {"id": 1, "name": "Tea", "product_id": 5, "quantity": 3, "subtotal": "10.00"}
    item |= {"price": 3.3333333, "sku": "T"}
    body = order(currency="KWD", total="10.0004", total_tax="0", line_items=[item])
    data = run("order.created", body).data
    assert data.total == Money(amount_minor=10000, currency="KWD")
    assert data.line_items[0].unit_price == Money(amount_minor=3333, currency="KWD")
    yen = run("order.created", order(currency="JPY", total="1500", line_items=[])).data
    assert yen.total == Money(amount_minor=1500, currency="JPY")
    assert yen.subtotal is None  # no lines, no subtotal


@pytest.mark.parametrize(
    ("topic", "family"),
    [("order.deleted", "order"), ("customer.deleted", "customer"), ("product.deleted", "product")],
)
def test_deletions_send_only_the_id(topic: str, family: str) -> None:
    event = run(topic, {"id": 727})
    assert event.type == f"dev.hookline.{family}.deleted"
    assert event.data.id == "woocommerce:shop-eu:727"
    assert event.data.partial is True
    assert event.data.updated_at == RECEIVED_AT


def test_restored_is_an_update() -> None:
    assert run("order.restored", order()).type == "dev.hookline.order.updated"


CUSTOMER = {
    "id": 25,
    "date_created": "2017-03-21T16:09:28",
    "date_created_gmt": "2017-03-21T19:09:28",
    "date_modified": "2017-03-21T16:09:30",
    "date_modified_gmt": "2017-03-21T19:09:30",
    "email": "john.doe@example.com",
    "first_name": "John",
    "last_name": "Doe",
    "role": "customer",
    "username": "john.doe",
    "billing": {
        "first_name": "John",
        "last_name": "Doe",
        "company": "",
        "address_1": "969 Market",
        "address_2": "",
        "city": "San Francisco",
        "state": "CA",
        "postcode": "94103",
        "country": "US",
        "email": "john.doe@example.com",
        "phone": "(555) 555-5555",
    },
    "is_paying_customer": False,
}


def test_customer_created() -> None:
    event = run("customer.created", CUSTOMER)
    data = event.data
    assert isinstance(data, Customer)
    assert event.type == "dev.hookline.customer.created"
    assert (data.email, data.first_name, data.phone, data.company) == (
        "john.doe@example.com",
        "John",
        "(555) 555-5555",
        None,
    )
    assert data.address.postal_code == "94103"
    assert data.updated_at == datetime(2017, 3, 21, 19, 9, 30, tzinfo=UTC)


PRODUCT = {
    "id": 794,
    "name": "Premium Quality",
    "status": "publish",
    "sku": "PQ-1",
    "price": "21.99",
    "regular_price": "21.99",
    "manage_stock": True,
    "stock_quantity": 12,
    "date_created_gmt": "2017-03-23T20:03:12",
    "date_modified_gmt": "2017-03-23T20:03:12",
    "tags": [{"id": 1, "name": "cotton", "slug": "cotton"}],
}


def test_product_updated() -> None:
    data = run("product.updated", PRODUCT).data
    assert isinstance(data, Product)
    assert (data.title, data.sku, data.status, data.tags) == (
        "Premium Quality",
        "PQ-1",
        "publish",
        ("cotton",),
    )
    assert data.price is None  # no currency in product payloads
    assert [i.available for i in data.inventory] == [12]


def test_product_without_stock_management() -> None:
    assert run("product.created", PRODUCT | {"stock_quantity": None}).data.inventory == ()


@pytest.mark.parametrize("topic", ["coupon.created", "action.woocommerce_add_to_cart", "unknown"])
def test_other_topics_pass_through(topic: str) -> None:
    event = run(topic, {"id": 9, "code": "SAVE10"})
    assert isinstance(event.data, Passthrough)
    assert event.data.id == f"woocommerce:shop-eu:{topic}:9"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "processing"},
        b"webhook_id=12",
        order(currency="dollars"),
        order(total="lots"),
        order(date_modified_gmt="not a date"),
    ],
)
def test_malformed_bodies_are_invalid(body: dict[str, Any] | bytes) -> None:
    with pytest.raises(InvalidPayload):
        run("order.updated", body)


def test_same_record_same_event() -> None:
    body = sample("woocommerce", ORDER)
    assert run("order.updated", body) == run("order.updated", body)


def test_order_meta_data_is_its_metadata() -> None:
    # The sample's only entry: {"id": 13106, "key": "_download_permissions_granted", ...}
    assert run("order.updated", sample("woocommerce", ORDER)).data.metadata == {
        "_download_permissions_granted": "yes"
    }
    meta = [{"id": 1, "key": "po", "value": "A-7"}, {"id": 2, "key": "obj", "value": {"a": 1}}]
    assert run("order.updated", order(meta_data=meta)).data.metadata == {"po": "A-7"}
