"""Chaos: the whole pipeline loses nothing while its services die mid-stream.

Providers post a steady stream of signed webhooks (Shopify customers, Stripe payments,
Telegram messages, some of them delivered twice) to the pipeline of ``hookline run``
(ingress, processors and connectors as processes; the stand-in HubSpot and Shopify;
a real Kafka broker and PostgreSQL). While they post, each service is killed with
``kill -9`` (no shutdown, no flush, no commit) and started again, as a supervisor would:
the processors twice, the connectors and the ingress once. A provider whose webhook was
not answered 200 sends it again, as the providers do.

Then every event accepted must have had its effect exactly once: a warehouse row per
event, a HubSpot contact per customer, one note per Telegram message (a note is created,
not upserted: a repeat would be a second note), and nothing dead-lettered.
"""

from __future__ import annotations

import threading
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from psycopg import sql

from hookline.settings import KafkaSettings, PostgresSettings, Settings
from tests.integration.flows_pipeline import Pipeline, isolated_pipeline
from tests.integration.provider_bodies import T0, intent, shopify_customer_body, stripe_event

CUSTOMERS = 40
PAYMENTS = 2400
MESSAGES = 30
LINKED_CHAT = 4242  # linked to buyer1@example.com in the demo config's telegram_links
#: seconds after the first webhook -> the service killed then (and started again)
KILLS = ((3.0, "processors"), (7.0, "connectors"), (10.0, "ingress"), (14.0, "processors"))
SENDING_SECONDS = 18.0
#: providers posting at once (about 150 webhooks/s in all: a backlog at every kill)
SENDERS = 4
RESEND_DELAY = 0.2
EXTERNAL_ID = "hookline_external_id"


@dataclass(frozen=True)
class Webhook:
    source: str
    body: bytes
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Provider:
    """Posts webhooks in order at a steady pace, each until the ingress answers 200."""

    pipeline: Pipeline
    webhooks: list[Webhook]
    resent: int = 0
    sent: int = 0
    error: BaseException | None = None

    def run(self, seconds: float) -> None:
        try:
            pause = seconds / len(self.webhooks)
            for webhook in self.webhooks:
                self._deliver(webhook)
                self.sent += 1
                time.sleep(pause)
        except BaseException as exc:  # reported by the test's thread
            self.error = exc

    def _deliver(self, webhook: Webhook) -> None:
        deadline = time.monotonic() + 60
        while True:
            headers = self.pipeline.sign(webhook.source, webhook.body, **webhook.extra)
            try:
                status = self.pipeline.post(webhook.source, webhook.body, headers)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = 0  # refused or cut off: the ingress is down
            if status == 200:
                return
            assert status in (0, 503), f"{webhook.source} webhook answered {status}"
            assert time.monotonic() < deadline, "the ingress did not come back"
            self.resent += 1
            time.sleep(RESEND_DELAY)


@pytest.fixture
def pipeline(
    base_settings: Settings,
    kafka_available: KafkaSettings,
    postgres_available: PostgresSettings,
    tmp_path: Path,
) -> Iterator[Pipeline]:
    with isolated_pipeline(base_settings, kafka_available, postgres_available, tmp_path) as p:
        yield p


def traffic() -> list[Webhook]:
    """Customers, payments and messages interleaved; every tenth one delivered twice."""
    customers = [
        Webhook(
            "shopify",
            shopify_customer_body(n, T0 + timedelta(minutes=1)),
            {"topic": "customers/update", "event_id": f"chaos-cu-{n}"},
        )
        for n in range(CUSTOMERS)
    ]
    payments = [
        Webhook("stripe", stripe_event("payment_intent.succeeded", intent(f"pi_chaos_{n}", {})))
        for n in range(PAYMENTS)
    ]
    messages = [Webhook("telegram", telegram_message(n)) for n in range(MESSAGES)]
    streams = [customers, payments, messages]
    mixed: list[Webhook] = []
    while any(streams):
        for stream in streams:
            if stream:
                mixed.append(stream.pop(0))
    sent: list[Webhook] = []
    for i, webhook in enumerate(mixed):
        sent.append(webhook)
        if i % 10 == 9:
            sent.append(mixed[i - 5])  # the provider delivers an earlier one again
    return sent


def telegram_message(n: int) -> bytes:
    update = {
        "update_id": 905_000 + n,
        "message": {
            "message_id": 1000 + n, "date": int(T0.timestamp()) + n, "text": f"Question {n}",
            "chat": {"id": LINKED_CHAT, "type": "private", "first_name": "Ada"},
            "from": {"id": LINKED_CHAT, "is_bot": False, "first_name": "Ada", "username": "ada"},
        },
    }  # fmt: skip
    return orjson.dumps(update)


def test_killing_every_service_mid_stream_loses_nothing_and_repeats_no_effect(
    pipeline: Pipeline,
) -> None:
    # the contact the Telegram chat is linked to, before the chaos
    pipeline.send(
        "shopify",
        shopify_customer_body(LINKED_CHAT, T0, email="buyer1@example.com"),
        topic="customers/update",
        event_id="chaos-linked",
    )
    pipeline.settle()
    webhooks = traffic()
    providers = [Provider(pipeline, webhooks[n::SENDERS]) for n in range(SENDERS)]
    senders = [
        threading.Thread(target=p.run, args=(SENDING_SECONDS,), daemon=True) for p in providers
    ]
    started = time.monotonic()
    for sender in senders:
        sender.start()
    for at, service in KILLS:
        time.sleep(max(0.0, started + at - time.monotonic()))
        pipeline.kill(service)
        pipeline.launch(service)
    for sender, provider in zip(senders, providers, strict=True):
        sender.join(timeout=180)
        assert not sender.is_alive(), "a provider did not finish"
        assert provider.error is None, provider.error
        assert provider.sent == len(provider.webhooks)
    resent = sum(p.resent for p in providers)
    assert resent > 0, "the ingress was never down while webhooks were sent"
    pipeline.settle()

    customers = {f"shopify:{n}" for n in range(CUSTOMERS)} | {f"shopify:{LINKED_CHAT}"}
    payments = {f"stripe:pi_chaos_{n}" for n in range(PAYMENTS)}
    messages = {f"telegram:{LINKED_CHAT}:{1000 + n}" for n in range(MESSAGES)}
    assert ids(pipeline, "customers") == customers
    assert ids(pipeline, "payments") == payments
    assert ids(pipeline, "messages") == messages
    hubspot = pipeline.fakes.hubspot

    def crm() -> tuple[list[str], list[str]]:
        contacts = [
            r.properties.get("email", "") for r in hubspot.store.records["contacts"].values()
        ]
        notes = [
            r.properties.get("hookline_external_id", "")
            for r in hubspot.store.records["notes"].values()
        ]
        return contacts, notes

    contacts, notes = pipeline.fakes.call(crm)
    emails = {f"c{n}@example.com" for n in range(CUSTOMERS)} | {"buyer1@example.com"}
    assert sorted(contacts) == sorted(emails)  # each once
    assert sorted(notes) == sorted(messages)  # each once: a repeat would be a second note
    assert pipeline.dead_letters() == dict.fromkeys(pipeline.dead_letters(), 0)


def ids(pipeline: Pipeline, table: str) -> set[str]:
    query = sql.SQL("SELECT id FROM {}").format(sql.Identifier("warehouse", table))
    return {row["id"] for row in pipeline.rows(query.as_string())}
