"""The HubSpot destination against the local HubSpot stand-in (sandbox.hubspot)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from connectors.config import parse_connectors
from connectors.destinations.base import Applied, Change, DestinationContext
from connectors.destinations.hubspot import (
    SPEC,
    HubSpot,
    HubSpotConfig,
    OAuthAuth,
    PrivateAppAuth,
    create,
)
from connectors.errors import PermanentError, RetriableError
from connectors.http import HttpClient
from connectors.metrics import ConnectorMetrics
from hookline.metrics import new_registry
from hookline.settings import PostgresSettings
from sandbox import hubspot
from sandbox.hubspot import FakeHubSpot, Reply
from schemas.events import CloudEvent, CustomerRef, Message, Money, Order, Payment, Sender
from tests.fakes.connector_harness import at, customer_event
from tests.fakes.destination_changes import HUBSPOT_RATE_LIMITED, change_of


@pytest.fixture
async def api() -> AsyncIterator[FakeHubSpot]:
    fake = FakeHubSpot()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(
        "crm",
        ConnectorMetrics(new_registry()),
        timeout_seconds=5,
        extra_retriable=SPEC.extra_retriable,
    )
    yield client
    await client.close()


@pytest.fixture
def pool(autocommit_pool: AsyncConnectionPool) -> AsyncConnectionPool:
    return autocommit_pool


def private_app(api: FakeHubSpot, http: HttpClient, **config: Any) -> HubSpot:
    auth = PrivateAppAuth(token=SecretStr(hubspot.PRIVATE_TOKEN))
    return create(HubSpotConfig(base_url=api.base_url, auth=auth, **config), _no_pool(http))


def _no_pool(http: HttpClient) -> DestinationContext:
    # A private-app destination never touches PostgreSQL; an unopened pool proves it.
    return DestinationContext("crm", http, AsyncConnectionPool("", open=False))


def customer(destination: HubSpot, n: int | str, **fields: Any) -> Change:
    return change_of(destination, customer_event(str(n), 1, **fields))


def entity_event(data: Order | Payment | Message) -> CloudEvent:
    return CloudEvent.build(
        source="shop",
        provider="test",
        provider_event_id=data.id,
        provider_event_type="x.updated",
        action="updated",
        time=at(1),
        data=data,
    )


async def test_customer_becomes_a_contact_associated_with_its_company(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http)
    change = customer(crm, 1, first_name="Ada", last_name="Lovelace", company="Analytical Ltd")
    applied = await crm.apply(change, "key-1")
    contact = api.store.find("contacts", "1@example.com", "email")
    company = api.store.find("companies", "company:analytical ltd", "hookline_external_id")
    assert contact is not None
    assert company is not None
    assert contact.properties["firstname"] == "Ada"
    assert company.properties["name"] == "Analytical Ltd"
    assert ("contacts", contact.id, "companies", company.id) in api.store.associations
    assert isinstance(applied, Applied)
    assert applied.rate_limit is not None  # X-HubSpot-RateLimit-* feed the shared budget
    assert applied.rate_limit.reset_seconds == 10


async def test_order_becomes_a_deal_and_a_paid_payment_moves_it_to_won(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http)
    order = Order(
        id="shopify:1001",
        updated_at=at(1),
        number="#1001",
        status="open",
        total=Money(amount_minor=19900, currency="USD"),
        customer=CustomerRef(email="buyer@example.com"),
    )
    await crm.apply(change_of(crm, entity_event(order)), "key-order")
    deal = api.record("deals", "shopify:1001", "hookline_external_id")
    assert deal is not None
    assert (deal["amount"], deal["dealstage"]) == ("199.00", "appointmentscheduled")
    payment = Payment(
        id="stripe:pi_1",
        updated_at=at(2),
        object_type="payment_intent",
        status="succeeded",
        metadata={"order_id": "1001"},
    )
    event = entity_event(payment)
    assert crm.wants(event)
    await crm.apply(change_of(crm, event), "key-payment")
    deal = api.record("deals", "shopify:1001", "hookline_external_id")
    assert deal is not None
    assert deal["dealstage"] == "closedwon"


async def test_a_payment_without_an_order_is_not_wanted(api: FakeHubSpot, http: HttpClient) -> None:
    crm = private_app(api, http)
    payment = Payment(id="stripe:pi_2", updated_at=at(1), object_type="charge", status="succeeded")
    assert not crm.wants(entity_event(payment))


async def test_invalid_email_is_permanent_with_hubspots_message(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http)
    with pytest.raises(PermanentError, match="Email address bad@ is invalid"):
        await crm.apply(customer(crm, 1, email="bad@"), "key-1")
    assert api.total_effective_writes == 0


async def test_one_bad_contact_in_a_batch_fails_only_its_own_change(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http, batch_window_seconds=0.05)
    changes = [customer(crm, n) for n in range(99)] + [customer(crm, "x", email="x@bad")]
    outcomes = await asyncio.gather(
        *(crm.apply(c, f"key-{i}") for i, c in enumerate(changes)), return_exceptions=True
    )
    assert all(isinstance(o, Applied) for o in outcomes[:99])
    assert isinstance(outcomes[99], PermanentError)
    assert "x@bad" in str(outcomes[99])
    upserts = [c for c in api.calls if c.path.endswith("/batch/upsert")]
    assert [(c.status, c.inputs) for c in upserts] == [(207, 100)]


async def test_a_batch_refused_as_a_whole_is_split_until_the_bad_input_stands_alone(
    api: FakeHubSpot, http: HttpClient
) -> None:
    api.whole_batch_validation = True  # HubSpot has been seen answering one 400 for all
    crm = private_app(api, http, batch_window_seconds=0.05)
    changes = [customer(crm, n) for n in range(7)] + [customer(crm, "x", email="x@bad")]
    outcomes = await asyncio.gather(
        *(crm.apply(c, f"key-{i}") for i, c in enumerate(changes)), return_exceptions=True
    )
    assert all(isinstance(o, Applied) for o in outcomes[:7])
    assert isinstance(outcomes[7], PermanentError)
    assert "Property values were not valid" in str(outcomes[7])


async def test_batches_carry_at_most_100_inputs(api: FakeHubSpot, http: HttpClient) -> None:
    crm = private_app(api, http, batch_window_seconds=0.05)
    changes = [customer(crm, n) for n in range(250)]
    await asyncio.gather(*(crm.apply(c, f"key-{i}") for i, c in enumerate(changes)))
    sizes = [c.inputs for c in api.calls if c.path.endswith("/batch/upsert")]
    assert sum(sizes) == 250
    assert max(sizes) == 100
    assert api.total_effective_writes == 250


async def test_ten_secondly_429_is_retriable_after_ten_seconds(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http)
    api.script(Reply(429, body=HUBSPOT_RATE_LIMITED))
    with pytest.raises(RetriableError) as caught:
        await crm.apply(customer(crm, 1), "key-1")
    assert caught.value.retry_after == 10
    assert caught.value.rate_limit is not None
    assert caught.value.rate_limit.retry_after == 10  # the shared budget holds back as long
    assert "TEN_SECONDLY_ROLLING" in str(caught.value)


async def test_the_fakes_rolling_window_answers_429_beyond_its_maximum(
    api: FakeHubSpot, http: HttpClient
) -> None:
    api.rate_limit_max = 2
    crm = private_app(api, http)
    await crm.apply(customer(crm, 1), "key-1")
    await crm.apply(customer(crm, 2), "key-2")
    with pytest.raises(RetriableError) as caught:
        await crm.apply(customer(crm, 3), "key-3")
    assert caught.value.status == 429
    assert caught.value.retry_after == 10


@pytest.mark.parametrize("status", [500, 502, 503, 504, 521, 523, 524])
async def test_server_errors_are_retriable_and_the_retry_applies(
    api: FakeHubSpot, http: HttpClient, status: int
) -> None:
    crm = private_app(api, http)
    api.script(Reply(status))
    with pytest.raises(RetriableError):
        await crm.apply(customer(crm, 1), "key-1")
    await crm.apply(customer(crm, 1), "key-1")
    assert api.writes("contacts", "1@example.com", "email") == 1


async def test_locked_waits_at_least_two_seconds_and_migration_honours_retry_after(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http)
    api.script(Reply(423), Reply(477, retry_after=30))
    with pytest.raises(RetriableError) as locked:
        await crm.apply(customer(crm, 1), "key-1")
    with pytest.raises(RetriableError) as migrating:
        await crm.apply(customer(crm, 1), "key-1")
    assert locked.value.retry_after is not None
    assert locked.value.retry_after >= 2
    assert migrating.value.retry_after == 30


async def test_a_repeated_change_is_not_a_second_effective_write(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http)
    change = customer(crm, 1, company="Acme")
    await crm.apply(change, "key-1")
    await crm.apply(change, "key-1")
    assert api.total_effective_writes == 2  # the contact and the company, once each


async def test_an_expired_access_token_is_refreshed_on_401_and_the_rotated_token_persisted(
    api: FakeHubSpot, http: HttpClient, pool: AsyncConnectionPool, fresh_database: PostgresSettings
) -> None:
    auth = OAuthAuth(
        client_id=hubspot.CLIENT_ID,
        client_secret=SecretStr(hubspot.CLIENT_SECRET),
        refresh_token=SecretStr(hubspot.REFRESH_TOKEN),
    )
    config = HubSpotConfig(base_url=api.base_url, auth=auth)
    crm = create(config, DestinationContext("crm", http, pool))
    await crm.apply(customer(crm, 1), "key-1")  # first call: a refresh, then the upsert
    api.expire_access_tokens()  # HubSpot revoked it early: only a 401 tells
    await crm.apply(customer(crm, 2), "key-2")
    assert api.refreshes == 2
    assert api.writes("contacts", "2@example.com", "email") == 1
    with psycopg.connect(fresh_database.conninfo()) as conn:
        row = conn.execute("SELECT refresh_token FROM oauth_tokens WHERE credential = 'crm'")
        (stored,) = row.fetchone() or ("",)
    assert api.refresh_tokens == {stored}  # the one HubSpot accepts now: the rotated one
    assert stored != hubspot.REFRESH_TOKEN


async def test_a_second_instance_uses_the_stored_chain_not_the_spent_seed(
    api: FakeHubSpot, http: HttpClient, pool: AsyncConnectionPool
) -> None:
    auth = OAuthAuth(
        client_id=hubspot.CLIENT_ID,
        client_secret=SecretStr(hubspot.CLIENT_SECRET),
        refresh_token=SecretStr(hubspot.REFRESH_TOKEN),
        refresh_margin_seconds=0,
    )
    config = HubSpotConfig(base_url=api.base_url, auth=auth)
    first = create(config, DestinationContext("crm", http, pool))
    await first.apply(customer(first, 1), "key-1")
    api.expire_access_tokens()
    second = create(config, DestinationContext("crm", http, pool))  # a restart
    await second.apply(customer(second, 2), "key-2")  # the seed is spent: the row is used
    assert api.writes("contacts", "2@example.com", "email") == 1


def test_auth_secrets_nested_in_the_destination_table_are_resolved() -> None:
    table = {
        "families": ["customer"],
        "destination": {
            "type": "hubspot",
            "auth": {
                "type": "oauth",
                "client_id": "app",
                "client_secret": "secret:hubspot_client_secret",
                "refresh_token": "secret:hubspot_refresh_token",
            },
        },
    }
    secrets = {
        "hubspot_client_secret": SecretStr("cs"),
        "hubspot_refresh_token": SecretStr("rt-s3cr3t-value"),
    }
    [config] = parse_connectors({"connectors": {"crm": table}}, secrets).values()
    assert isinstance(config.destination, HubSpotConfig)
    assert isinstance(config.destination.auth, OAuthAuth)
    assert config.destination.auth.refresh_token.get_secret_value() == "rt-s3cr3t-value"
    assert "rt-s3cr3t-value" not in repr(config)


async def test_a_spent_refresh_token_is_refused_by_the_fake(api: FakeHubSpot) -> None:
    form = {
        "grant_type": "refresh_token",
        "client_id": hubspot.CLIENT_ID,
        "client_secret": hubspot.CLIENT_SECRET,
        "refresh_token": hubspot.REFRESH_TOKEN,
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api.base_url}/oauth/v1/token", data=form) as first:
            tokens = await first.json()
        async with session.post(f"{api.base_url}/oauth/v1/token", data=form) as again:
            refused = await again.json()
    assert tokens["refresh_token"] != hubspot.REFRESH_TOKEN
    assert tokens["expires_in"] == 1800
    assert (again.status, refused["status"]) == (400, "BAD_REFRESH_TOKEN")


async def test_the_fakes_search_filters_on_lastmodifieddate_sorts_and_pages(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http)
    for n in range(5):
        await crm.apply(customer(crm, n), f"key-{n}")
    first = api.store.find("contacts", "0@example.com", "email")
    assert first is not None
    since = first.properties["lastmodifieddate"]
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": since}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 2,
    }
    url = f"{api.base_url}/crm/v3/objects/contacts/search"
    headers = {"Authorization": f"Bearer {hubspot.PRIVATE_TOKEN}"}
    pages: list[str] = []
    async with aiohttp.ClientSession(headers=headers) as session:
        while True:
            async with session.post(url, json=body) as response:
                page = await response.json()
            pages += [r["properties"]["email"] for r in page["results"]]
            if "paging" not in page:
                break
            body["after"] = page["paging"]["next"]["after"]
    assert pages == [f"{n}@example.com" for n in range(1, 5)]


def telegram_message(chat: str, number: int, text: str = "Where is my order?") -> CloudEvent:
    message = Message(
        id=f"telegram:{chat}:{number}",
        updated_at=at(1),
        chat_id=chat,
        text=text,
        sender=Sender(id=chat, username="ada"),
        sent_at=at(1),
    )
    return entity_event(message)


async def test_a_linked_chats_message_becomes_one_note_on_its_contact_even_redelivered(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http, telegram_links={"4242": "ada@example.com"})
    await crm.apply(customer(crm, "ada", email="ada@example.com"), "key-contact")
    event = telegram_message("4242", 7)
    assert crm.wants(event)
    assert not crm.wants(telegram_message("9999", 1))  # a chat linked to no contact
    change = change_of(crm, event)
    await crm.apply(change, "key-note")
    await crm.apply(change, "key-note")  # redelivered: searched first, not created again
    notes = list(api.store.records["notes"].values())
    assert len(notes) == 1
    note = notes[0]
    assert note.properties["hs_note_body"] == "Telegram message from @ada: Where is my order?"
    assert note.properties["hookline_external_id"] == "telegram:4242:7"
    assert note.properties["hs_timestamp"] == at(1).isoformat(timespec="milliseconds")
    contact = api.store.find("contacts", "ada@example.com", "email")
    assert contact is not None
    assert ("notes", note.id, "contacts", contact.id) in api.store.associations


async def test_a_note_for_a_contact_not_there_yet_is_retried(
    api: FakeHubSpot, http: HttpClient
) -> None:
    crm = private_app(api, http, telegram_links={"4242": "nobody@example.com"})
    with pytest.raises(RetriableError):
        await crm.apply(change_of(crm, telegram_message("4242", 8)), "key-note")
    assert not api.store.records["notes"]


async def test_the_stand_in_refuses_a_note_without_timestamp_or_with_an_unknown_contact(
    api: FakeHubSpot, http: HttpClient
) -> None:
    headers = {"Authorization": f"Bearer {hubspot.PRIVATE_TOKEN}"}
    url = f"{api.base_url}/crm/v3/objects/notes"
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.post(url, json={"properties": {"hs_note_body": "x"}}) as response:
            assert response.status == 400
        unknown = {"to": {"id": "404"}, "types": [{"associationTypeId": 202}]}
        body = {"properties": {"hs_timestamp": "1"}, "associations": [unknown]}
        async with session.post(url, json=body) as response:
            assert response.status == 400
    assert not api.store.records["notes"]
