"""Downstream's view: every record the processors emit is read by the official CloudEvents
SDK's Kafka binding (``cloudevents`` on PyPI), as a consumer that knows nothing of Hookline
would read it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event
from confluent_kafka import Message, Producer

from hookline.kafka_clients import producer_config
from hookline.settings import Settings
from hookline.topics import EVENT_FAMILIES, Topics
from processors.normalisers import normalise
from processors.pipeline import EVENT_ID_HEADER
from schemas.events import CloudEvent
from tests.conftest import ConsumeFn
from tests.integration.processor_worker import ProcessorWorker
from tests.unit import test_normalise_shopify as shopify
from tests.unit import test_normalise_stripe as stripe
from tests.unit import test_normalise_woocommerce as woo
from tests.unit.test_normalise_base import raw_event, sample, sample_json
from tests.unit.test_normalise_hubspot import hubspot_event

#: (provider, event type, body): at least one of every family and provider.
CORPUS: list[tuple[str, str, bytes | dict[str, Any]]] = [
    ("stripe", "customer.created", sample("stripe", "stripe-java_customer_created.json")),
    ("stripe", "payment_intent.succeeded", stripe.stripe_event("x", stripe.intent())),
    ("stripe", "charge.refunded", stripe.stripe_event("x", stripe.charge())),
    ("stripe", "account.updated", sample("stripe", "stripe-java_account_event.json")),
    ("shopify", "orders/paid", sample("shopify", shopify.ORDER)),
    ("shopify", "customers/create", shopify.CUSTOMER),
    ("shopify", "products/update", sample("shopify", shopify.PRODUCT)),
    ("shopify", "products/delete", {"id": 450789469}),
    ("woocommerce", "order.updated", sample("woocommerce", woo.ORDER)),
    ("woocommerce", "customer.created", woo.CUSTOMER),
    ("woocommerce", "product.deleted", {"id": 727}),
    ("hubspot", "contact.creation", hubspot_event("contact.creation")),
    ("hubspot", "deal.creation", hubspot_event("deal.creation")),
    ("telegram", "message", sample("telegram", "message_text.json")),
    ("telegram", "edited_message", sample("telegram", "edited_message.json")),
    ("telegram", "callback_query", sample("telegram", "callback_query.json")),
    ("github", "push", sample("github", "push_payload.json")),
    ("github", "issues.opened", sample("github", "issues_opened.payload.json")),
    (
        "standard_webhooks",
        "contact.created",
        sample_json("standard-webhooks", "spec_example_payload.json"),
    ),
    ("generic_hmac", "thing.happened", {"any": ["json"]}),
]


@pytest.fixture
def worker(settings: Settings, topics: Topics, tmp_path: Path) -> Iterator[ProcessorWorker]:
    handle = ProcessorWorker(settings, tmp_path / "state", tmp_path / "worker.log")
    yield handle
    handle.stop()


def _as_sdk_message(record: Message) -> KafkaMessage:
    headers = {name: value or b"" for name, value in record.headers() or []}
    return KafkaMessage(headers=headers, key=record.key(), value=record.value() or b"")


def test_the_cloudevents_sdk_reads_every_record_the_processors_emit(
    settings: Settings, topics: Topics, worker: ProcessorWorker, consume: ConsumeFn
) -> None:
    producer = Producer(producer_config(settings.kafka, "test"))
    expected: dict[str, CloudEvent] = {}
    for n, (provider, event_type, body) in enumerate(CORPUS):
        raw = raw_event(provider, event_type, body, event_id=f"evt-{n}")
        expected |= {event.id: event for event in normalise(raw)}
        producer.produce(
            topics.raw_webhooks,
            key=f"src:evt-{n}".encode(),
            value=raw.body,
            headers=raw.headers.to_kafka(),
        )
    assert producer.flush(30) == 0
    assert {event.family for event in expected.values()} == set(EVENT_FAMILIES)
    worker.start()
    worker.wait_drained(topics.raw_webhooks)

    records = [
        r
        for family in EVENT_FAMILIES
        for r in consume(topics.events(family), len(expected) + 1, timeout=3)
    ]
    assert len(records) == len(expected)
    for record in records:
        event = from_kafka_event(_as_sdk_message(record))  # structured mode, detected
        ours = expected[event.get_id()]
        assert event.get_type() == ours.type
        assert event.get_source() == ours.source
        assert event.get_subject() == ours.subject
        assert event.get_data() == orjson.loads(orjson.dumps(ours.model_dump(mode="json")["data"]))
        assert dict(record.headers() or [])[EVENT_ID_HEADER] == ours.id.encode()
        assert not any(name.lower().startswith("ce_") for name, _ in record.headers() or [])
