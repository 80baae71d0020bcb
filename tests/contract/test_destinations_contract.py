"""The same delivery scenarios against every registered destination, each on its fake.

Every destination must: apply a change once per idempotency key (a repeat of the same
change with the same key is not a second effective write); answer a vendor validation
error with a ``PermanentError`` carrying the vendor's words; answer a 5xx with a
``RetriableError``; answer a 429 with a ``RetriableError`` whose ``retry_after`` is set.
A destination that keeps versions (``VERSIONED``) must also never let an older version
of an entity overwrite a newer one. The HTTP scenarios run for every destination but
those that make no HTTP calls (``NO_HTTP``: the PostgreSQL warehouse, whose "vendor" is a
real database and whose validation error is PostgreSQL refusing a value).
A destination registered without an adapter below fails
``test_every_registered_destination_has_a_contract_adapter``: add one (a factory that
starts the destination's fake and knows how to script it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from connectors.destinations import REGISTRY
from connectors.destinations.base import Change, Destination, DestinationContext
from connectors.destinations.http_upsert import HttpUpsertConfig
from connectors.destinations.hubspot import HubSpotConfig, PrivateAppAuth
from connectors.destinations.shopify import ShopifyConfig
from connectors.destinations.warehouse import WarehouseConfig
from connectors.errors import PermanentError, RetriableError
from connectors.http import HttpClient
from connectors.metrics import ConnectorMetrics
from hookline.metrics import new_registry
from sandbox import destination_api, hubspot, shopify
from schemas.events import CloudEvent, Money, Order
from tests.fakes.connector_harness import at, customer_event
from tests.fakes.destination_changes import HUBSPOT_RATE_LIMITED, change_of

E = TypeVar("E", bound=Exception)


@dataclass
class Subject:
    """One destination on its fake, and the fake's scripting and counting, made uniform."""

    destination: Destination
    change: Callable[[int], Change]  # a valid change of entity n
    invalid_change: Callable[[], Change]  # one the vendor refuses as invalid
    script_5xx: Callable[[], None]
    script_429: Callable[[], None]
    effective_writes: Callable[[Change], int]  # at the vendor, for the change's entity


Adapter = Callable[[DestinationContext], AbstractAsyncContextManager[Subject]]


def customers(destination: Destination) -> Callable[[int], Change]:
    def change(n: int) -> Change:
        return change_of(destination, customer_event(str(n), 1, first_name=f"P{n}"))

    return change


def invalid_customer(destination: Destination) -> Change:
    return change_of(destination, customer_event("99", 1, email="not-an-email@"))


@asynccontextmanager
async def http_upsert_subject(context: DestinationContext) -> AsyncIterator[Subject]:
    api = destination_api.FakeDestinationApi()
    await api.start()
    config = HttpUpsertConfig(base_url=api.base_url, token=SecretStr(destination_api.TOKEN))
    destination = REGISTRY["http_upsert"].create(config, context)

    def script_invalid() -> Change:  # the stand-in validates nothing: it is told to refuse
        invalid = invalid_customer(destination)
        body = {"error": "email is invalid"}
        api.script_entity(invalid.entity_id, destination_api.Reply(422, body=body))
        return invalid

    try:
        yield Subject(
            destination=destination,
            change=customers(destination),
            invalid_change=script_invalid,
            script_5xx=lambda: api.script_calls(destination_api.Reply(503)),
            script_429=lambda: api.script_calls(destination_api.Reply(429, retry_after=3)),
            effective_writes=lambda change: api.writes_by_entity[change.entity_id],
        )
    finally:
        await api.close()


@asynccontextmanager
async def hubspot_subject(context: DestinationContext) -> AsyncIterator[Subject]:
    api = hubspot.FakeHubSpot()
    await api.start()
    auth = PrivateAppAuth(token=SecretStr(hubspot.PRIVATE_TOKEN))
    config = HubSpotConfig(base_url=api.base_url, auth=auth)
    destination = REGISTRY["hubspot"].create(config, context)
    try:
        yield Subject(
            destination=destination,
            change=customers(destination),
            invalid_change=lambda: invalid_customer(destination),
            script_5xx=lambda: api.script(hubspot.Reply(503)),
            script_429=lambda: api.script(hubspot.Reply(429, body=HUBSPOT_RATE_LIMITED)),
            effective_writes=lambda change: api.writes(
                "contacts", str(change.state["email"]), "email"
            ),
        )
    finally:
        await api.close()


@asynccontextmanager
async def shopify_subject(context: DestinationContext) -> AsyncIterator[Subject]:
    shop = shopify.FakeShopify()
    await shop.start()
    config = ShopifyConfig(base_url=shop.base_url, access_token=SecretStr(shopify.TOKEN))
    destination = REGISTRY["shopify"].create(config, context)

    def writes(change: Change) -> int:
        customer = shop.store.customer_by_email(str(change.state["email"]))
        return shop.store.writes[customer["id"]] if customer else 0

    try:
        yield Subject(
            destination=destination,
            change=customers(destination),
            invalid_change=lambda: invalid_customer(destination),
            script_5xx=lambda: shop.script_calls(destination_api.Reply(503)),
            script_429=lambda: _drain(shop.bucket),
            effective_writes=writes,
        )
    finally:
        await shop.close()


def _drain(bucket: shopify.LeakyBucket) -> None:
    """Shopify's throttling: HTTP 200 with a THROTTLED error, the bucket nearly empty. It
    refills slowly here: at the real 100 points/s a call that takes 90 ms to arrive (a
    busy machine) finds the 10 it costs again, and is not throttled."""
    bucket.restore_rate = 1.0
    bucket.set_available(1)


#: Counts the rows the warehouse writes (inserted or updated) per customer, in the test's
#: database: a write the version guard skips fires no row trigger.
_COUNT_WAREHOUSE_WRITES = """
CREATE TABLE contract_writes (id text PRIMARY KEY, n integer NOT NULL);
CREATE FUNCTION contract_count_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contract_writes VALUES (NEW.id, 1)
    ON CONFLICT (id) DO UPDATE SET n = contract_writes.n + 1;
    RETURN NEW;
END $$;
CREATE TRIGGER contract_count_writes AFTER INSERT OR UPDATE ON warehouse.customers
FOR EACH ROW EXECUTE FUNCTION contract_count_write();
"""


def _no_http() -> None:
    raise AssertionError("the warehouse makes no HTTP calls: it is in NO_HTTP")


@asynccontextmanager
async def warehouse_subject(context: DestinationContext) -> AsyncIterator[Subject]:
    destination = REGISTRY["warehouse"].create(WarehouseConfig(), context)
    async with context.pool.connection() as conn:
        await conn.execute(_COUNT_WAREHOUSE_WRITES)

    conninfo = context.pool.conninfo
    assert isinstance(conninfo, str)

    def writes(change: Change) -> int:
        with psycopg.connect(conninfo) as db:
            row = db.execute("SELECT n FROM contract_writes WHERE id = %s", (change.entity_id,))
            found = row.fetchone()
        return found[0] if found else 0

    def invalid() -> Change:  # PostgreSQL refuses an amount beyond BIGINT (SQLSTATE 22003)
        # 2**63: JSON (orjson) takes it, a BIGINT does not.
        total = Money(amount_minor=2**63, currency="EUR")
        order = Order(id="shopify:99", updated_at=at(1), total=total)
        event = CloudEvent.build(
            source="shop",
            provider="test",
            provider_event_id="inv-99",
            provider_event_type="orders/updated",
            action="updated",
            time=at(1),
            data=order,
        )
        return change_of(destination, event)

    yield Subject(
        destination=destination,
        change=customers(destination),
        invalid_change=invalid,
        script_5xx=_no_http,
        script_429=_no_http,
        effective_writes=writes,
    )


ADAPTERS: dict[str, Adapter] = {
    "http_upsert": http_upsert_subject,
    "hubspot": hubspot_subject,
    "shopify": shopify_subject,
    "warehouse": warehouse_subject,
}
NO_HTTP = {"warehouse"}
VERSIONED = {"warehouse"}


def test_every_registered_destination_has_a_contract_adapter() -> None:
    assert set(ADAPTERS) == set(REGISTRY)


@pytest.fixture
def pool(autocommit_pool: AsyncConnectionPool) -> AsyncConnectionPool:
    return autocommit_pool


@pytest.fixture(params=sorted(ADAPTERS))
async def subject(
    request: pytest.FixtureRequest, pool: AsyncConnectionPool
) -> AsyncIterator[Subject]:
    async with _open(request.param, pool) as subject:
        yield subject


@pytest.fixture(params=sorted(set(ADAPTERS) - NO_HTTP))
async def http_subject(
    request: pytest.FixtureRequest, pool: AsyncConnectionPool
) -> AsyncIterator[Subject]:
    async with _open(request.param, pool) as subject:
        yield subject


@pytest.fixture(params=sorted(VERSIONED))
async def versioned_subject(
    request: pytest.FixtureRequest, pool: AsyncConnectionPool
) -> AsyncIterator[Subject]:
    async with _open(request.param, pool) as subject:
        yield subject


@asynccontextmanager
async def _open(name: str, pool: AsyncConnectionPool) -> AsyncIterator[Subject]:
    spec = REGISTRY[name]
    http = HttpClient(
        "contract",
        ConnectorMetrics(new_registry()),
        timeout_seconds=5,
        extra_retriable=spec.extra_retriable,
    )
    try:
        async with ADAPTERS[name](DestinationContext("contract", http, pool)) as subject:
            yield subject
    finally:
        await http.close()


async def _raises(kind: type[E], call: Awaitable[object]) -> E:
    with pytest.raises(kind) as caught:
        await call
    return caught.value


async def test_a_change_is_applied_once_per_idempotency_key(subject: Subject) -> None:
    change = subject.change(1)
    await subject.destination.apply(change, "key-1")
    await subject.destination.apply(change, "key-1")  # a redelivery after a crash
    assert subject.effective_writes(change) == 1


async def test_a_vendor_validation_error_is_permanent_with_the_vendors_words(
    subject: Subject,
) -> None:
    change = subject.invalid_change()
    error = await _raises(PermanentError, subject.destination.apply(change, "key-bad"))
    assert "invalid" in f"{error} {error.body}".lower()
    assert subject.effective_writes(change) == 0


async def test_an_older_version_never_overwrites_a_newer_one(versioned_subject: Subject) -> None:
    subject = versioned_subject
    newer = change_of(subject.destination, customer_event("7", 5, first_name="New"))
    older = change_of(subject.destination, customer_event("7", 2, first_name="Old"))
    await subject.destination.apply(newer, "key-new")
    await subject.destination.apply(older, "key-old")  # arrived late, e.g. from a replay
    assert subject.effective_writes(newer) == 1


async def test_a_5xx_is_retriable_and_the_retry_applies(http_subject: Subject) -> None:
    subject = http_subject
    change = subject.change(2)
    subject.script_5xx()
    await _raises(RetriableError, subject.destination.apply(change, "key-2"))
    await subject.destination.apply(change, "key-2")
    assert subject.effective_writes(change) == 1


async def test_a_429_is_retriable_with_a_retry_after(http_subject: Subject) -> None:
    subject = http_subject
    change = subject.change(3)
    subject.script_429()
    error = await _raises(RetriableError, subject.destination.apply(change, "key-3"))
    assert error.status == 429
    assert error.retry_after is not None
    assert error.retry_after > 0
    assert subject.effective_writes(change) == 0
