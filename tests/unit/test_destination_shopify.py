"""The Shopify destination against the local Shopify stand-in (sandbox.shopify)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client import Gauge
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from connectors.config import RateLimitConfig
from connectors.destinations.shopify import SPEC, Shopify, ShopifyConfig, budget_hint
from connectors.errors import PermanentError, RetriableError
from connectors.http import HttpClient
from connectors.metrics import ConnectorMetrics
from connectors.ratelimit import TokenBucket
from hookline.db import create_pool
from hookline.metrics import new_registry
from hookline.settings import PostgresSettings
from sandbox import shopify
from sandbox.destination_api import Reply
from sandbox.shopify import FakeShopify
from schemas.events import CloudEvent, InventoryLevel, Money, Order, Payment, Product
from tests.fakes.connector_harness import at, customer_event
from tests.fakes.destination_changes import change_of

ORDER = 1001


@pytest.fixture
async def shop() -> AsyncIterator[FakeShopify]:
    fake = FakeShopify()
    await fake.start()
    fake.store.seed_order(ORDER)
    yield fake
    await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient("shop", ConnectorMetrics(new_registry()), timeout_seconds=5)
    yield client
    await client.close()


def destination(shop: FakeShopify, http: HttpClient, **fields: Any) -> Shopify:
    config = ShopifyConfig(base_url=shop.base_url, access_token=SecretStr(shopify.TOKEN), **fields)
    return Shopify(config, http)


def payment(status: str = "succeeded", **metadata: str) -> CloudEvent:
    data = Payment(
        id="stripe:pi_1",
        updated_at=at(1),
        object_type="payment_intent",
        status=status,
        amount=Money(amount_minor=1250, currency="EUR"),
        amount_refunded=Money(amount_minor=1250, currency="EUR") if status != "succeeded" else None,
        metadata=metadata,
    )
    return _event(data, "stripe", "payment_intent.succeeded")


def _event(data: Any, provider: str, kind: str) -> CloudEvent:
    return CloudEvent.build(
        source=provider, provider=provider, provider_event_id=f"evt-{kind}",
        provider_event_type=kind, action="updated", time=at(1), data=data,
    )  # fmt: skip


async def test_a_customer_is_upserted_by_email(shop: FakeShopify, http: HttpClient) -> None:
    shop_dest = destination(shop, http)
    change = change_of(shop_dest, customer_event("7", 1, first_name="Ada", last_name="L"))
    applied = await shop_dest.apply(change, "k-1")
    await shop_dest.apply(change_of(shop_dest, customer_event("7", 2, first_name="Ada")), "k-2")
    customer = shop.store.customer_by_email("7@example.com")
    assert customer is not None
    assert (customer["firstName"], customer["lastName"]) == ("Ada", "L")
    assert len(shop.store.customers_by_id) == 1
    assert shop.store.writes[customer["id"]] == 1  # the second snapshot changed nothing
    assert applied.rate_limit is not None
    assert applied.rate_limit.remaining is not None


async def test_a_linked_payment_marks_the_order_paid_and_tags_it(
    shop: FakeShopify, http: HttpClient
) -> None:
    shop_dest = destination(shop, http)
    event = payment(order_id=str(ORDER))
    assert shop_dest.wants(event)
    change = change_of(shop_dest, event)
    await shop_dest.apply(change, "k-pay")
    await shop_dest.apply(change, "k-pay")  # redelivered
    order = shop.store.orders_by_id[f"gid://shopify/Order/{ORDER}"]
    assert order["displayFinancialStatus"] == "PAID"
    assert order["tags"] == ["paid-via-stripe"]
    assert shop.store.writes[order["id"]] == 2  # marked paid, tagged; the repeat: nothing


async def test_a_refund_is_noted_once_on_the_order(shop: FakeShopify, http: HttpClient) -> None:
    shop_dest = destination(shop, http)
    change = change_of(shop_dest, payment("refunded", order_id=f"#{ORDER}"))
    await shop_dest.apply(change, "k-r")
    await shop_dest.apply(change, "k-r")
    order = shop.store.orders_by_id[f"gid://shopify/Order/{ORDER}"]
    assert order["note"] == "Refunded 12.50 EUR (stripe:pi_1)"
    assert order["tags"] == ["refunded-via-stripe"]


async def test_a_payment_without_an_order_link_is_not_wanted_and_counted(
    shop: FakeShopify, http: HttpClient
) -> None:
    shop_dest = destination(shop, http)
    assert not shop_dest.wants(payment(cart="abc"))
    assert not shop_dest.wants(payment(order_id="woocommerce-17x"))
    assert shop_dest.unlinked == 2


async def test_an_order_gets_its_tags_and_metafields(shop: FakeShopify, http: HttpClient) -> None:
    shop_dest = destination(
        shop, http, order_tags=("synced",), order_status_tags={"paid": "is-paid"},
        order_metafields=("status", "total"),
    )  # fmt: skip
    order = Order(
        id=f"shopify:{ORDER}", updated_at=at(1), status="paid",
        total=Money(amount_minor=999, currency="USD"),
    )  # fmt: skip
    await shop_dest.apply(change_of(shop_dest, _event(order, "shopify", "orders/updated")), "k-o")
    gid = f"gid://shopify/Order/{ORDER}"
    assert shop.store.orders_by_id[gid]["tags"] == ["synced", "is-paid"]
    values = {k[2]: v["value"] for k, v in shop.store.metafields.items() if k[0] == gid}
    assert values == {"status": "paid", "total": "9.99 USD"}


async def test_inventory_is_adjusted_once_per_idempotency_key(
    shop: FakeShopify, http: HttpClient
) -> None:
    item, _ = shop.store.seed_inventory(55, 66, 10)
    shop_dest = destination(shop, http, inventory_location_id="66")
    product = Product(
        id="woocommerce:9", updated_at=at(1),
        inventory=(InventoryLevel(inventory_item_id="55", available=4),),
    )  # fmt: skip
    change = change_of(shop_dest, _event(product, "woocommerce", "product.updated"))
    await shop_dest.apply(change, "k-inv")
    await shop_dest.apply(change, "k-inv")
    assert shop.store.inventory[(item, "gid://shopify/Location/66")] == 4
    assert shop.store.writes[item] == 1


async def test_user_errors_are_permanent_with_message_and_field(
    shop: FakeShopify, http: HttpClient
) -> None:
    shop_dest = destination(shop, http)
    change = change_of(shop_dest, customer_event("8", 1, email="not-an-email@"))
    with pytest.raises(PermanentError) as caught:
        await shop_dest.apply(change, "k-bad")
    assert "Email is invalid" in str(caught.value)
    assert "input.email" in str(caught.value)
    assert shop.store.total_writes == 0


async def test_a_wrong_token_is_permanent(shop: FakeShopify, http: HttpClient) -> None:
    config = ShopifyConfig(base_url=shop.base_url, access_token=SecretStr("wrong"))
    shop_dest = Shopify(config, http)
    with pytest.raises(PermanentError) as caught:
        await shop_dest.apply(change_of(shop_dest, customer_event("9", 1)), "k-401")
    assert caught.value.status == 401


async def test_throttled_with_http_200_is_retriable_after_the_deficit_is_restored(
    shop: FakeShopify, http: HttpClient
) -> None:
    shop_dest = destination(shop, http)
    # A mutation costs 10. A slow refill (not the real 100 points/s), so that a call
    # arriving late on a busy machine still finds the bucket short: 6 points, 6 s.
    shop.bucket.restore_rate = 1.0
    shop.bucket.set_available(4)
    with pytest.raises(RetriableError) as caught:
        await shop_dest.apply(change_of(shop_dest, customer_event("10", 1)), "k-t")
    error = caught.value
    assert error.status == 429  # the rate limit it stands for, though Shopify said 200
    assert error.retry_after is not None
    assert 5.0 < error.retry_after <= 6.0  # the deficit over the restore rate
    assert error.rate_limit is not None
    assert error.rate_limit.retry_after == error.retry_after
    assert shop.calls[-1].throttled
    assert shop.store.total_writes == 0


async def test_the_budget_is_stopped_before_shopifys_bucket_is_empty(
    shop: FakeShopify, http: HttpClient, fresh_database: PostgresSettings
) -> None:
    shop_dest = destination(shop, http, reserve_points=100)
    shop.bucket.set_available(115)  # one more mutation fits; then 105 left, inside the reserve
    applied = await shop_dest.apply(change_of(shop_dest, customer_event("11", 1)), "k-b")
    hint = applied.rate_limit
    assert hint is not None
    assert hint.remaining == 0
    assert hint.retry_after is not None
    assert hint.retry_after > 0
    assert shop.calls[-1].throttled is False  # Shopify still had points to give
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    pool = create_pool(fresh_database, autocommit=True)
    await pool.open(wait=True)
    try:
        bucket = await _bucket(pool, record)
        await bucket.observe(hint)
        await bucket.acquire()  # the next call waits instead of going into an empty bucket
    finally:
        await pool.close()
    assert waits
    assert waits[0] > 0


async def _bucket(pool: AsyncConnectionPool, sleep: Any) -> TokenBucket:
    gauge = Gauge("t", "t", registry=new_registry())
    limit = RateLimitConfig(requests_per_second=10, burst=20)
    bucket = TokenBucket(pool, "shopify-test", limit, gauge, sleep=sleep)
    await bucket.ensure()
    return bucket


def test_budget_hint_counts_calls_above_the_reserve() -> None:
    status = {"maximumAvailable": 2000, "currentlyAvailable": 1000, "restoreRate": 100}
    hint = budget_hint({"throttleStatus": status}, points_per_call=10, reserve_points=100)
    assert hint is not None
    assert (hint.remaining, hint.reset_seconds, hint.retry_after) == (90, 10.0, None)


@pytest.mark.parametrize("status", [503, 500, 429])
async def test_http_errors_are_retriable(shop: FakeShopify, http: HttpClient, status: int) -> None:
    shop_dest = destination(shop, http)
    shop.script_calls(Reply(status, retry_after=2 if status == 429 else None))
    change = change_of(shop_dest, customer_event("12", 1))
    with pytest.raises(RetriableError) as caught:
        await shop_dest.apply(change, "k-5xx")
    assert caught.value.status == status
    await shop_dest.apply(change, "k-5xx")
    assert shop.store.total_writes == 1
    if status == 429:
        assert caught.value.retry_after == 2


async def test_the_fake_rejects_a_bare_numeric_id(shop: FakeShopify) -> None:
    document = 'mutation { orderMarkAsPaid(input: {id: "1001"}) { userErrors { message } } }'
    answer = await _post(shop, document)
    assert answer["errors"][0]["message"] == "Invalid global id '1001'"
    assert shop.store.total_writes == 0


async def test_the_fake_validates_documents_against_the_schema(shop: FakeShopify) -> None:
    answer = await _post(shop, "{ orders { nodes { idx } } }")
    assert "Cannot query field 'idx'" in answer["errors"][0]["message"]
    assert answer["extensions"]["cost"]["throttleStatus"]["restoreRate"] == 100.0
    answer = await _post(shop, "{ orders(first: 251) { nodes { id } } }")
    assert "250" in answer["errors"][0]["message"]


async def test_the_fake_pages_orders_updated_since(shop: FakeShopify) -> None:
    for number in range(1, 4):
        shop.store.seed_order(number)
    query = (
        '{ orders(first: 2, query: "updated_at:>2000-01-01T00:00:00Z") '
        "{ nodes { id } pageInfo { hasNextPage endCursor } } }"
    )
    first = (await _post(shop, query))["data"]["orders"]
    assert [n["id"] for n in first["nodes"]] == ["gid://shopify/Order/1", "gid://shopify/Order/2"]
    assert first["pageInfo"]["hasNextPage"] is True
    after = query.replace("first: 2", f'first: 2, after: "{first["pageInfo"]["endCursor"]}"')
    rest = (await _post(shop, after))["data"]["orders"]["nodes"]
    assert [n["id"] for n in rest] == ["gid://shopify/Order/3", f"gid://shopify/Order/{ORDER}"]


async def _post(shop: FakeShopify, document: str) -> dict[str, Any]:
    url = f"{shop.base_url}/admin/api/2026-04/graphql.json"
    headers = {"X-Shopify-Access-Token": shopify.TOKEN}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"query": document}, headers=headers) as response,
    ):
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


def test_spec_is_registered_under_its_type() -> None:
    assert SPEC.name == "shopify"
    assert SPEC.config_model is ShopifyConfig
