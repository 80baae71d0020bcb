"""The four flows of the packaged connectors config (launcher/demo_config/connectors.toml),
end to end: signed webhooks into the ingress, real Kafka and PostgreSQL, processors and
connectors as subprocesses, the stand-in HubSpot and Shopify's final state and the
warehouse rows asserted. A redelivered webhook changes nothing anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
import pytest

from hookline.settings import KafkaSettings, PostgresSettings, Settings
from tests.integration.flows_pipeline import Pipeline, isolated_pipeline
from tests.integration.provider_bodies import (
    T0,
    intent,
    shopify_customer_body,
    shopify_order_body,
    stripe_event,
)

PORTAL = 62515
EXTERNAL_ID = "hookline_external_id"


@pytest.fixture(scope="module")
def pipeline(
    base_settings: Settings,
    kafka_available: KafkaSettings,
    postgres_available: PostgresSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """One pipeline for the module (its start is the slow part); each test its own IDs."""
    tmp = tmp_path_factory.mktemp("flows")
    with isolated_pipeline(base_settings, kafka_available, postgres_available, tmp) as running:
        yield running


# --- webhook bodies, as the providers send them ----------------------------------------


def shopify_customer(pipeline: Pipeline, number: int, at: datetime, **fields: Any) -> bytes:
    sent = shopify_customer_body(number, at, **fields)
    pipeline.send("shopify", sent, topic="customers/update", event_id=f"cu-{number}-{at}")
    return sent


def shopify_order(pipeline: Pipeline, number: int, email: str) -> tuple[bytes, dict[str, str]]:
    body = shopify_order_body(number, email)
    return pipeline.send("shopify", body, topic="orders/create", event_id=f"order-{number}")


def hubspot_changes(pipeline: Pipeline, object_id: str, changes: dict[str, str], at: int) -> None:
    """HubSpot's webhook for a contact edit: one event per changed property."""
    events = [
        {"eventId": at + i, "subscriptionId": 1, "portalId": PORTAL, "appId": 1,
         "occurredAt": at, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
         "objectId": int(object_id), "propertyName": name, "propertyValue": value,
         "changeSource": "CRM_UI"}
        for i, (name, value) in enumerate(changes.items())
    ]  # fmt: skip
    pipeline.send("hubspot", orjson.dumps(events))


def snapshot(pipeline: Pipeline) -> tuple[int, int, int, list[Any]]:
    """Everything a redelivery could change: both fakes' writes, and the warehouse."""
    hubspot, shop = pipeline.fakes.hubspot, pipeline.fakes.shop
    writes = pipeline.fakes.call(lambda: (hubspot.total_effective_writes, shop.store.total_writes))
    rows = pipeline.rows(
        "SELECT id, synced_at FROM warehouse.payments UNION ALL "
        "SELECT id, synced_at FROM warehouse.orders UNION ALL "
        "SELECT id, synced_at FROM warehouse.customers UNION ALL "
        "SELECT id, synced_at FROM warehouse.messages ORDER BY 1"
    )
    calls = pipeline.fakes.call(lambda: len(hubspot.calls) + len(shop.calls))
    return writes[0], writes[1], calls, rows


def redeliver_changes_nothing(pipeline: Pipeline, source: str, body: bytes, **extra: str) -> None:
    """The provider sends the same event again (signed anew): nothing changes anywhere."""
    pipeline.settle()
    before, dropped = snapshot(pipeline), pipeline.duplicates()
    pipeline.send(source, body, **extra)
    pipeline.wait_until(lambda: pipeline.duplicates() > dropped, "redelivery dropped")
    pipeline.settle()
    assert snapshot(pipeline) == before


# --- the flows ---------------------------------------------------------------------------


def test_flow1_stripe_payment_marks_the_shop_order_paid_wins_the_deal_and_lands_in_the_warehouse(
    pipeline: Pipeline,
) -> None:
    shop, hubspot = pipeline.fakes.shop, pipeline.fakes.hubspot
    order = pipeline.fakes.call(lambda: shop.store.seed_order(101))
    shopify_order(pipeline, 101, "buyer101@example.com")
    pipeline.settle()
    paid = stripe_event("payment_intent.succeeded", intent("pi_flow1", {"order_id": "101"}))
    pipeline.send("stripe", paid)
    pipeline.settle()
    deal = pipeline.fakes.call(lambda: hubspot.record("deals", "shopify:101", EXTERNAL_ID))
    assert deal is not None
    assert deal["dealstage"] == "closedwon"
    unlinked = stripe_event("payment_intent.succeeded", intent("pi_flow1_nolink", {}))
    pipeline.send("stripe", unlinked)
    refund = stripe_event("charge.refunded", {
        "id": "ch_flow1", "object": "charge", "amount": 4900, "amount_refunded": 4900,
        "refunded": True, "currency": "eur", "status": "succeeded", "payment_intent": "pi_flow1",
        "created": int(T0.timestamp()), "metadata": {"order_id": "101"}})  # fmt: skip
    pipeline.send("stripe", refund)
    pipeline.settle()

    view = pipeline.fakes.call(lambda: dict(shop.store.orders_by_id[order]))
    assert view["displayFinancialStatus"] == "PAID"
    assert {"paid-via-stripe", "refunded-via-stripe"} <= set(view["tags"])
    assert "Refunded 49.00 EUR (stripe:ch_flow1)" in (view["note"] or "")
    deal = pipeline.fakes.call(lambda: hubspot.record("deals", "shopify:101", EXTERNAL_ID))
    assert deal is not None
    assert deal["dealstage"] == "closedlost"  # won by the payment, then lost by its refund
    query = "SELECT id, status, amount_minor, metadata FROM warehouse.payments"
    payments = {r["id"]: r for r in pipeline.rows(query)}
    assert payments["stripe:pi_flow1"]["status"] == "succeeded"
    assert payments["stripe:pi_flow1"]["metadata"] == {"order_id": "101"}
    assert payments["stripe:pi_flow1_nolink"]["amount_minor"] == 4900  # unlinked, still stored
    assert payments["stripe:ch_flow1"]["status"] == "refunded"
    orders = pipeline.rows("SELECT total_minor FROM warehouse.orders WHERE id = 'shopify:101'")
    assert orders == [{"total_minor": 4900}]
    redeliver_changes_nothing(pipeline, "stripe", paid)


def test_flow2_shopify_customer_becomes_a_hubspot_contact_with_company_and_a_warehouse_row(
    pipeline: Pipeline,
) -> None:
    hubspot = pipeline.fakes.hubspot
    body = shopify_customer(pipeline, 201, T0)
    pipeline.settle()
    contact = pipeline.fakes.call(lambda: hubspot.record("contacts", "c201@example.com", "email"))
    assert contact is not None
    assert (contact["firstname"], contact["lastname"], contact["company"]) == (
        "Ada", "Lovelace", "Engines 201")  # fmt: skip
    company = pipeline.fakes.call(
        lambda: hubspot.store.find("companies", "company:engines 201", "hookline_external_id")
    )
    assert company is not None
    found = pipeline.fakes.call(lambda: hubspot.store.find("contacts", "c201@example.com", "email"))
    assert found is not None
    edges = pipeline.fakes.call(lambda: set(hubspot.store.associations))
    assert ("contacts", found.id, "companies", company.id) in edges
    rows = pipeline.rows("SELECT email, company FROM warehouse.customers WHERE id = 'shopify:201'")
    assert rows == [{"email": "c201@example.com", "company": "Engines 201"}]
    redeliver_changes_nothing(
        pipeline, "shopify", body, topic="customers/update", event_id=f"cu-201-{T0}"
    )


def test_a_customer_whose_name_holds_nul_reaches_the_crm_and_the_warehouse(
    pipeline: Pipeline,
) -> None:
    """U+0000 in a provider's text (PostgreSQL cannot store it) flows as U+FFFD: before,
    the CRM connector's state insert failed after HubSpot took the contact, and the
    connector failed on every restart behind it."""
    hubspot = pipeline.fakes.hubspot
    shopify_customer(pipeline, 209, T0, first_name="Ad\u0000a")
    pipeline.settle()
    contact = pipeline.fakes.call(lambda: hubspot.record("contacts", "c209@example.com", "email"))
    assert contact is not None
    assert contact["firstname"] == "Ad\ufffda"
    rows = pipeline.rows("SELECT first_name FROM warehouse.customers WHERE id = 'shopify:209'")
    assert rows == [{"first_name": "Ad\ufffda"}]


class Relay:
    """Plays both vendors' webhooks: whenever a fake holds a customer different from what
    it last announced, it posts the vendor's webhook for the change, as HubSpot and
    Shopify do for every effective write (and only then)."""

    def __init__(self, pipeline: Pipeline, number: int) -> None:
        self.pipeline, self.number = pipeline, number
        self.email = f"c{number}@example.com"
        self.announced: dict[str, dict[str, str | None]] = {"hubspot": {}, "shopify": {}}
        self.clock = 0

    def contact(self) -> dict[str, str | None]:
        hubspot = self.pipeline.fakes.hubspot
        found = self.pipeline.fakes.call(
            lambda: hubspot.store.find("contacts", self.email, "email")
        )
        assert found is not None
        props = found.properties
        return {"id": found.id, **{k: props.get(k) for k in ("email", "firstname", "lastname")}}

    def customer(self) -> dict[str, str | None]:
        shop = self.pipeline.fakes.shop
        found = self.pipeline.fakes.call(lambda: shop.store.customer_by_email(self.email))
        assert found is not None
        return {k: found.get(k) for k in ("email", "firstName", "lastName")}

    def round(self) -> int:
        """Announce what changed on either side; settle; the webhooks sent."""
        sent = 0
        self.clock += 1
        contact, customer = self.contact(), self.customer()
        changed = {
            k: v for k, v in contact.items() if k != "id" and self.announced["hubspot"].get(k) != v
        }
        if changed:
            at = int((T0 + timedelta(minutes=self.clock)).timestamp() * 1000)
            hubspot_changes(
                self.pipeline, str(contact["id"]), {k: v or "" for k, v in changed.items()}, at
            )
            self.announced["hubspot"] = contact
            sent += 1
        if customer != self.announced["shopify"]:
            at_time = T0 + timedelta(minutes=self.clock)
            names = {"first_name": customer["firstName"], "last_name": customer["lastName"]}
            shopify_customer(self.pipeline, self.number, at_time, **names)
            self.announced["shopify"] = customer
            sent += 1
        self.pipeline.settle()
        return sent

    def until_quiet(self) -> int:
        """Rounds until nobody has anything new to announce; the webhooks sent."""
        total = 0
        for _ in range(10):  # an echo loop would never stop: fail instead of spinning
            sent = self.round()
            if not sent:
                return total
            total += sent
        raise AssertionError("the two systems keep echoing each other's changes")


def edit_contact(pipeline: Pipeline, email: str, properties: dict[str, str]) -> None:
    """A user edits the contact in HubSpot."""
    store = pipeline.fakes.hubspot.store

    def edit() -> None:
        record = store.find("contacts", email, "email")
        assert record is not None
        store.write("contacts", record, properties)

    pipeline.fakes.call(edit)


def edit_customer(pipeline: Pipeline, email: str, values: dict[str, str]) -> None:
    """A user edits the customer in the shop's admin."""
    store = pipeline.fakes.shop.store

    def edit() -> None:
        found = store.customer_by_email(email)
        assert found is not None
        store._changed(found, values)

    pipeline.fakes.call(edit)


def linked_person(pipeline: Pipeline, number: int) -> Relay:
    """A shop customer whose contact flow 2 created, both sides announced and quiet."""
    shop = pipeline.fakes.shop
    email = f"c{number}@example.com"
    pipeline.fakes.call(lambda: shop.store.customerSet(
        cast(Any, None), input={"email": email, "firstName": "Ada", "lastName": "Lovelace"},
        identifier={"email": email}))  # fmt: skip  # the shop's own customer
    relay = Relay(pipeline, number)
    relay.announced["shopify"] = relay.customer()
    shopify_customer(pipeline, number, T0)  # flow 2 creates the contact
    pipeline.settle()
    relay.until_quiet()  # HubSpot announces the contact it created: nothing new for the shop
    return relay


def sync_calls(pipeline: Pipeline) -> tuple[int, int]:
    """customerSet calls to the shop, contact upserts to HubSpot, so far."""
    hubspot, shop = pipeline.fakes.hubspot, pipeline.fakes.shop

    def counts() -> tuple[int, int]:
        sets = sum("customerSet" in c.fields for c in shop.calls)
        upserts = sum(c.path.endswith("/contacts/batch/upsert") for c in hubspot.calls)
        return sets, upserts

    return pipeline.fakes.call(counts)


def test_flow3_hubspot_and_shopify_customers_sync_both_ways_without_an_echo_loop(
    pipeline: Pipeline,
) -> None:
    email = "c301@example.com"
    relay = linked_person(pipeline, 301)
    before = sync_calls(pipeline)
    webhooks = []
    for i in range(6):  # alternating edits: HubSpot's first name, the shop's last name
        if i % 2 == 0:
            edit_contact(pipeline, email, {"firstname": f"H{i}"})
        else:
            edit_customer(pipeline, email, {"lastName": f"S{i}"})
        webhooks.append(relay.until_quiet())
        assert relay.contact()["firstname"] == relay.customer()["firstName"]
        assert relay.contact()["lastname"] == relay.customer()["lastName"]
    after = sync_calls(pipeline)
    # each edit: its own webhook and one echo from the other side, then silence
    assert webhooks == [2] * 6
    # each HubSpot edit: one customerSet; the echo of a shop edit (HubSpot announcing what
    # it was given) matches what the shop connector saw the shop hold: no call. Contact
    # upserts: one per shop edit, and one per echo of a HubSpot edit (the shop's view adds
    # its address: an upsert writing nothing new)
    assert (after[0] - before[0], after[1] - before[1]) == (3, 6)
    assert (relay.contact()["firstname"], relay.customer()["lastName"]) == ("H4", "S5")
    row = pipeline.rows(
        "SELECT first_name, last_name FROM warehouse.customers WHERE id = 'shopify:301'"
    )
    assert row == [{"first_name": "H4", "last_name": "S5"}]


def test_flow3_near_simultaneous_edits_on_both_sides_are_decided_by_the_policy(
    pipeline: Pipeline,
) -> None:
    """source_priority = ["hubspot", "shopify"], window 60 s: HubSpot's edit wins although
    the shop's is 10 s newer; the loser is a conflict row; both sides end on the winner."""
    email = "c302@example.com"
    relay = linked_person(pipeline, 302)
    before = sync_calls(pipeline)
    edit_contact(pipeline, email, {"firstname": "Hubert"})
    edit_customer(pipeline, email, {"firstName": "Shopper"})
    relay.announced = {"hubspot": relay.contact(), "shopify": relay.customer()}
    relay.clock += 1
    edited = T0 + timedelta(minutes=relay.clock)
    contact_id = str(relay.contact()["id"])
    hubspot_changes(pipeline, contact_id, {"firstname": "Hubert"}, int(edited.timestamp() * 1000))
    shopify_customer(pipeline, 302, edited + timedelta(seconds=10), first_name="Shopper")
    pipeline.settle()
    echoes = relay.until_quiet()  # fails if the two sides kept overwriting each other

    assert (relay.contact()["firstname"], relay.customer()["firstName"]) == ("Hubert", "Hubert")
    assert echoes <= 1  # at most the shop announcing the winner it was given
    sets, upserts = (n - b for n, b in zip(sync_calls(pipeline), before, strict=True))
    assert 1 <= sets <= 2  # the winner pushed (and pushed back once, by arrival order)
    assert upserts <= 3
    conflicts = pipeline.rows(
        "SELECT connector, status, current_state, incoming FROM conflicts"
        " WHERE entity_key = %s ORDER BY connector",
        f"person:{email}",
    )
    assert conflicts, "the conflict was not recorded"
    for row in conflicts:
        assert row["status"] in ("applied", "rejected")
        loser = row["incoming"] if row["status"] == "rejected" else row["current_state"]
        winner = row["current_state"] if row["status"] == "rejected" else row["incoming"]
        assert (loser["source"], winner["source"]) == ("shopify", "hubspot")
    assert {row["connector"] for row in conflicts} <= {"crm", "shop"}
    stored = pipeline.rows("SELECT first_name FROM warehouse.customers WHERE id = 'shopify:302'")
    assert stored == [{"first_name": "Hubert"}]


def test_flow4_telegram_message_lands_in_the_warehouse_and_as_a_note_on_the_linked_contact(
    pipeline: Pipeline,
) -> None:
    hubspot = pipeline.fakes.hubspot
    # chat 4242 is linked to buyer1@example.com (telegram_links); flow 2 creates the contact
    shopify_customer(pipeline, 4242, T0, email="buyer1@example.com")
    pipeline.settle()
    update = {
        "update_id": 904_001,
        "message": {
            "message_id": 77, "date": int(T0.timestamp()), "text": "Where is my order #101?",
            "chat": {"id": 4242, "type": "private", "first_name": "Ada"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Ada", "username": "ada"},
        },
    }  # fmt: skip
    body = orjson.dumps(update)
    pipeline.send("telegram", body)
    pipeline.settle()
    rows = pipeline.rows(
        "SELECT chat_id, sender_username, text FROM warehouse.messages"
        " WHERE id = 'telegram:4242:77'"
    )
    assert rows == [
        {"chat_id": "4242", "sender_username": "ada", "text": "Where is my order #101?"}
    ]

    def notes() -> tuple[str, list[tuple[dict[str, str], set[str]]]]:
        """The contact's ID; every note's properties and the contacts it is associated with."""
        contact = hubspot.store.find("contacts", "buyer1@example.com", "email")
        assert contact is not None
        edges = hubspot.store.associations
        return contact.id, [
            (dict(n.properties), {e[3] for e in edges if e[:3] == ("notes", n.id, "contacts")})
            for n in hubspot.store.records["notes"].values()
        ]

    contact_id, found = pipeline.fakes.call(notes)
    [(properties, linked)] = found
    assert properties["hs_note_body"] == "Telegram message from @ada: Where is my order #101?"
    assert properties[EXTERNAL_ID] == "telegram:4242:77"
    assert linked == {contact_id}
    redeliver_changes_nothing(pipeline, "telegram", body)
    assert len(pipeline.fakes.call(lambda: hubspot.store.records["notes"])) == 1
