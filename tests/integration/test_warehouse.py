"""The PostgreSQL warehouse destination against a real, migrated database: typed rows per
family, the version guard, children replaced with their parent, one refused change failing
alone, and a running connector taking CloudEvents from Kafka to rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from connectors.destinations.base import DestinationContext
from connectors.destinations.warehouse import Warehouse, WarehouseConfig, create
from connectors.errors import PermanentError
from connectors.http import HttpClient
from connectors.metrics import ConnectorMetrics
from hookline.metrics import new_registry
from hookline.settings import Settings
from hookline.topics import Topics
from schemas.events import (
    Address,
    CloudEvent,
    Customer,
    CustomerRef,
    InventoryLevel,
    LineItem,
    Message,
    Money,
    Order,
    Payment,
    Product,
    Refund,
    Sender,
)
from tests.fakes.connector_harness import at, connector_config, produce, running_connector, until
from tests.fakes.destination_changes import change_of

Entity = Order | Customer | Payment | Product | Message


def event_of(data: Entity, source: str = "shop") -> CloudEvent:
    return CloudEvent.build(
        source=source,
        provider="test",
        provider_event_id=uuid.uuid4().hex,
        provider_event_type=f"{data.kind}.updated",
        action="updated",
        time=data.updated_at,
        data=data,
    )


def order(version: float, *items: LineItem, status: str = "open") -> Order:
    return Order(
        id="shopify:1001",
        updated_at=at(version),
        number="#1001",
        status=status,
        customer=CustomerRef(id="shopify:7", email="ann@example.com"),
        total=Money(amount_minor=12_345, currency="EUR"),
        tax=Money(amount_minor=1_970, currency="EUR"),
        line_items=items,
        shipping_address=Address(city="Lyon", country="FR"),
        tags=("vip", "b2b"),
        created_at=at(0),
        metadata={"channel": "web"},
    )


def item(sku: str, quantity: int, price: int = 500) -> LineItem:
    return LineItem(
        sku=sku,
        name=sku.title(),
        quantity=quantity,
        unit_price=Money(amount_minor=price, currency="EUR"),
        product_id=f"p:{sku}",
    )


def payment(version: float, *refunds: Refund, status: str = "succeeded") -> Payment:
    return Payment(
        id="stripe:pi_1",
        updated_at=at(version),
        object_type="payment_intent",
        status=status,
        amount=Money(amount_minor=4_200, currency="JPY"),
        order_id="shopify:1001",
        refunds=refunds,
        metadata={"order_id": "1001"},
    )


def refund(n: int, amount: int) -> Refund:
    return Refund(
        id=f"re_{n}",
        amount=Money(amount_minor=amount, currency="JPY"),
        status="succeeded",
        created_at=at(n),
    )


@pytest.fixture
def pool(autocommit_pool: AsyncConnectionPool) -> AsyncConnectionPool:
    return autocommit_pool


@pytest.fixture
async def warehouse(pool: AsyncConnectionPool) -> AsyncIterator[Warehouse]:
    http = HttpClient("wh", ConnectorMetrics(new_registry()), timeout_seconds=5)
    try:
        yield create(WarehouseConfig(), DestinationContext("wh", http, pool))
    finally:
        await http.close()


async def push(warehouse: Warehouse, data: Entity) -> CloudEvent:
    event = event_of(data)
    await warehouse.apply(change_of(warehouse, event), "key")
    return event


async def rows(pool: AsyncConnectionPool, query: str, *args: object) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
        await cursor.execute(query.encode(), args)
        return await cursor.fetchall()


async def test_orders_and_line_items_round_trip_typed(
    warehouse: Warehouse, pool: AsyncConnectionPool
) -> None:
    event = await push(warehouse, order(5, item("mug", 2), item("tea", 1, 850)))
    [row] = await rows(pool, "SELECT * FROM warehouse.orders")
    assert row["id"] == "shopify:1001"
    assert row["updated_at"] == at(5)
    assert isinstance(row["updated_at"], datetime)
    assert row["updated_at"].tzinfo is not None
    assert (row["total_minor"], row["total_currency"]) == (12_345, "EUR")
    assert (row["tax_minor"], row["subtotal_minor"]) == (1_970, None)
    assert (row["customer_id"], row["customer_email"]) == ("shopify:7", "ann@example.com")
    assert row["tags"] == ["vip", "b2b"]
    assert row["shipping_address"]["city"] == "Lyon"
    assert row["metadata"] == {"channel": "web"}
    assert (row["source"], row["event_id"]) == ("shop", event.id)
    assert row["event"] == event.model_dump(mode="json")
    lines = await rows(pool, "SELECT * FROM warehouse.order_line_items ORDER BY position")
    assert [(r["sku"], r["quantity"], r["unit_price_minor"]) for r in lines] == [
        ("mug", 2, 500),
        ("tea", 1, 850),
    ]
    assert {r["unit_price_currency"] for r in lines} == {"EUR"}


async def test_customers_round_trip_typed(warehouse: Warehouse, pool: AsyncConnectionPool) -> None:
    customer = Customer(
        id="hubspot:51",
        updated_at=at(3),
        email="bo@example.com",
        first_name="Bo",
        company="Acme",
        tags=("lead",),
        properties={"lifecyclestage": "lead"},
        external_ids={"hubspot": "51"},
        created_at=at(1),
    )
    await push(warehouse, customer)
    [row] = await rows(pool, "SELECT * FROM warehouse.customers")
    assert (row["email"], row["first_name"], row["company"]) == ("bo@example.com", "Bo", "Acme")
    assert row["properties"] == {"lifecyclestage": "lead"}
    assert row["external_ids"] == {"hubspot": "51"}
    assert (row["tags"], row["created_at"]) == (["lead"], at(1))


async def test_a_nul_character_is_stored_as_the_replacement_character(
    warehouse: Warehouse, pool: AsyncConnectionPool
) -> None:
    """PostgreSQL's text and JSONB refuse U+0000 (SQLSTATE 22021 / 22P05): without the
    replacement the change would be dead-lettered on every replay."""
    customer = Customer(
        id="shopify:nul",
        updated_at=at(3),
        first_name="Bo\x00b",
        tags=("a\x00",),
        properties={"note\x00": "x\x00y"},
        created_at=at(1),
    )
    event = await push(warehouse, customer)
    [row] = await rows(pool, "SELECT * FROM warehouse.customers")
    assert row["first_name"] == "Bo\ufffdb"
    assert row["tags"] == ["a\ufffd"]
    assert row["properties"] == {"note\ufffd": "x\ufffdy"}
    assert row["event"]["data"]["first_name"] == "Bo\ufffdb"
    assert row["event_id"] == event.id


async def test_payments_and_refunds_round_trip_typed(
    warehouse: Warehouse, pool: AsyncConnectionPool
) -> None:
    await push(warehouse, payment(2, refund(1, 1_000), refund(2, 200)))
    [row] = await rows(pool, "SELECT * FROM warehouse.payments")
    assert (row["amount_minor"], row["amount_currency"]) == (4_200, "JPY")
    assert (row["status"], row["order_id"]) == ("succeeded", "shopify:1001")
    assert row["metadata"] == {"order_id": "1001"}
    refunds = await rows(pool, "SELECT * FROM warehouse.payment_refunds ORDER BY position")
    assert [(r["refund_id"], r["amount_minor"], r["currency"]) for r in refunds] == [
        ("re_1", 1_000, "JPY"),
        ("re_2", 200, "JPY"),
    ]
    assert refunds[0]["created_at"] == at(1)


async def test_products_and_inventory_round_trip_typed(
    warehouse: Warehouse, pool: AsyncConnectionPool
) -> None:
    levels = (InventoryLevel(location_id="loc:1", inventory_item_id="inv:9", available=14),)
    price = Money(amount_minor=1_999, currency="USD")
    await push(
        warehouse,
        Product(
            id="shopify:p1", updated_at=at(1), title="Mug", sku="mug", price=price, inventory=levels
        ),
    )
    [row] = await rows(pool, "SELECT * FROM warehouse.products")
    assert (row["title"], row["price_minor"], row["price_currency"]) == ("Mug", 1_999, "USD")
    [level] = await rows(pool, "SELECT * FROM warehouse.product_inventory_levels")
    assert (level["location_id"], level["available"]) == ("loc:1", 14)


async def test_messages_round_trip_typed(warehouse: Warehouse, pool: AsyncConnectionPool) -> None:
    sender = Sender(id="42", username="ann", display_name="Ann", is_bot=False)
    message = Message(
        id="telegram:-100:7",
        updated_at=at(2),
        chat_id="-100",
        sender=sender,
        text="<b>hi</b> & bye",
        sent_at=at(2),
    )
    await push(warehouse, message)
    [row] = await rows(pool, "SELECT * FROM warehouse.messages")
    assert (row["chat_id"], row["text"], row["sent_at"]) == ("-100", "<b>hi</b> & bye", at(2))
    assert (row["sender_username"], row["sender_is_bot"]) == ("ann", False)


async def test_an_older_version_never_overwrites_a_newer_one(
    warehouse: Warehouse, pool: AsyncConnectionPool
) -> None:
    await push(warehouse, order(10, item("new", 3), status="paid"))
    await push(warehouse, order(4, item("old", 1), item("older", 1), status="open"))
    [row] = await rows(pool, "SELECT status, updated_at FROM warehouse.orders")
    assert (row["status"], row["updated_at"]) == ("paid", at(10))
    lines = await rows(pool, "SELECT sku FROM warehouse.order_line_items")
    assert [r["sku"] for r in lines] == ["new"]  # children stay with the version in the row


async def test_the_same_change_twice_leaves_the_row_untouched(
    warehouse: Warehouse, pool: AsyncConnectionPool
) -> None:
    change = change_of(warehouse, event_of(payment(3, refund(1, 100))))
    await warehouse.apply(change, "key-1")
    query = "SELECT xmin::text AS x, synced_at FROM warehouse.payments"
    before = await rows(pool, query)
    children_before = await rows(pool, "SELECT xmin::text AS x FROM warehouse.payment_refunds")
    await warehouse.apply(change, "key-1")
    assert await rows(pool, query) == before  # no new row version: not written again
    assert await rows(pool, "SELECT xmin::text AS x FROM warehouse.payment_refunds") == (
        children_before
    )


async def test_children_are_replaced_with_a_newer_parent(
    warehouse: Warehouse, pool: AsyncConnectionPool
) -> None:
    await push(warehouse, payment(1, refund(1, 100), refund(2, 200)))
    await push(warehouse, payment(2, refund(3, 300), status="partially_refunded"))
    refunds = await rows(pool, "SELECT refund_id, amount_minor FROM warehouse.payment_refunds")
    assert [(r["refund_id"], r["amount_minor"]) for r in refunds] == [("re_3", 300)]
    await push(warehouse, order(1, item("a", 1), item("b", 2)))
    await push(warehouse, order(2))
    assert await rows(pool, "SELECT * FROM warehouse.order_line_items") == []


async def test_a_refused_change_fails_alone_in_its_batch(
    warehouse: Warehouse, pool: AsyncConnectionPool
) -> None:
    too_big = Product(
        id="shopify:p2", updated_at=at(1), inventory=(InventoryLevel(available=2**63),)
    )
    fine = Product(id="shopify:p3", updated_at=at(1), title="Fine")
    changes = [change_of(warehouse, event_of(p)) for p in (too_big, fine)]
    outcomes = await asyncio.gather(
        *(warehouse.apply(c, f"k{n}") for n, c in enumerate(changes)), return_exceptions=True
    )
    assert isinstance(outcomes[0], PermanentError)
    assert "invalid" in str(outcomes[0])
    assert not isinstance(outcomes[1], BaseException)
    assert [r["id"] for r in await rows(pool, "SELECT id FROM warehouse.products")] == [
        "shopify:p3"
    ]


async def test_a_running_connector_takes_cloudevents_from_kafka_to_rows(
    connector_settings: Settings,
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    families = ("order", "payment", "customer")
    config = connector_config(
        "warehouse", "http://unused", families=families, destination=WarehouseConfig()
    )
    async with running_connector(connector_settings, config) as conn:
        produce(
            connector_settings,
            topics.events("order"),
            [
                event_of(order(1, item("a", 1))),
                event_of(order(3, item("b", 5), status="paid")),
                event_of(order(2, item("stale", 9))),
            ],
        )
        produce(connector_settings, topics.events("payment"), [event_of(payment(1))])
        await until(
            lambda: conn.count("applied") + conn.count("skipped_stale") == 4,
            what="four changes delivered",
        )
        assert conn.count("dead_lettered") == 0
    with psycopg.connect(connector_settings.postgres.conninfo()) as db:
        orders = db.execute("SELECT id, status, updated_at FROM warehouse.orders").fetchall()
        lines = db.execute("SELECT sku, quantity FROM warehouse.order_line_items").fetchall()
        payments = db.execute("SELECT id, amount_minor FROM warehouse.payments").fetchall()
    assert orders == [("shopify:1001", "paid", at(3))]
    assert lines == [("b", 5)]
    assert payments == [("stripe:pi_1", 4_200)]
