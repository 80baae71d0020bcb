"""Chaos: the whole pipeline loses nothing while its services die mid-stream.

Providers post a steady stream of signed webhooks (Shopify customers, Stripe payments,
Telegram messages, some of them delivered twice) to the pipeline of ``hookline run``
(ingress, processors and connectors as processes; the stand-in HubSpot and Shopify;
a real Kafka broker and PostgreSQL). While they post, each service is killed with
``kill -9`` (no shutdown, no flush, no commit) and started again, as a supervisor would:
the processors twice, the connectors and the ingress once; PostgreSQL (the connectors'
state, the warehouse) is stopped for a few seconds. In a second run the broker
itself is killed the same way (the single node holds every partition's only replica) and
started again on its data. A provider whose webhook was not answered 200 sends it again,
as the providers do.

Then every event accepted must have had its effect exactly once: a warehouse row per
event, a HubSpot contact per customer, one note per Telegram message (a note is created,
not upserted: a repeat would be a second note), and nothing dead-lettered.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from psycopg import sql

from hookline.settings import KafkaSettings, PostgresSettings, Settings
from tests.integration.flows_pipeline import Pipeline, isolated_pipeline
from tests.integration.provider_bodies import T0, intent, shopify_customer_body, stripe_event
from tests.service_scripts import KAFKA, POSTGRES, script

CUSTOMERS = 40
PAYMENTS = 2400
MESSAGES = 30
LINKED_CHAT = 4242  # linked to buyer1@example.com in the demo config's telegram_links
#: seconds after the first webhook -> the service killed then (and started again);
#: PostgreSQL is stopped (every connection cut) for POSTGRES_DOWN_SECONDS instead
KILLS = (
    (3.0, "processors"),
    (7.0, "connectors"),
    (10.0, "ingress"),
    (11.0, "postgres"),
    (15.0, "processors"),
)
POSTGRES_DOWN_SECONDS = 3.0
SENDING_SECONDS = 18.0
#: providers posting at once (about 100 webhooks/s in all: a backlog at every kill)
SENDERS = 4
RESEND_DELAY = 0.2
PROVIDER_GIVES_UP_SECONDS = 180.0
SETTLE_SECONDS = 300.0  # see run_traffic
#: the test's own limit: longer than the settle, so a settle that fails says where
TEST_TIMEOUT = 600
BROKER_KILLED_AT = 5.0
BROKER_DOWN_SECONDS = 2.0
DELIVERY_TIMEOUT_MS = 3000
SCRIPT_TIMEOUT = 300  # a broker restarting on its data after SIGKILL recovers every log
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
        deadline = time.monotonic() + PROVIDER_GIVES_UP_SECONDS
        while True:
            headers = self.pipeline.sign(webhook.source, webhook.body, **webhook.extra)
            try:
                status = self.pipeline.post(webhook.source, webhook.body, headers)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = 0  # refused or cut off: the ingress is down
            if status == 200:
                return
            assert status in (0, 503), f"{webhook.source} webhook answered {status}"
            assert time.monotonic() < deadline, "the ingress never accepted it"
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


@pytest.mark.disruptive  # stops the shared PostgreSQL for a while
@pytest.mark.timeout(TEST_TIMEOUT)
def test_killing_every_service_mid_stream_loses_nothing_and_repeats_no_effect(
    pipeline: Pipeline,
) -> None:
    def kill_services(started: float) -> None:
        for at, service in KILLS:
            time.sleep(max(0.0, started + at - time.monotonic()))
            if service == "postgres":
                stop_postgres_for(POSTGRES_DOWN_SECONDS)
            else:
                pipeline.kill(service)
                pipeline.launch(service)

    resent = run_traffic(pipeline, kill_services)
    assert resent > 0, "the ingress was never down while webhooks were sent"
    assert_every_effect_once(pipeline)


@pytest.mark.disruptive
@pytest.mark.timeout(TEST_TIMEOUT)
def test_killing_the_broker_mid_stream_loses_nothing_and_repeats_no_effect(
    base_settings: Settings,
    kafka_available: KafkaSettings,
    postgres_available: PostgresSettings,
    tmp_path: Path,
) -> None:
    """The broker (a single node: every partition's only replica) dies with SIGKILL and is
    started again on its data: the ingress answers 503 meanwhile, the providers send again,
    every service reconnects on its own, and what the processors had in flight when it
    died (their producer gives up on it after a short ``delivery_timeout_ms`` here) is sent
    again, not dead-lettered (processors/resend.py)."""
    quick = {"HOOKLINE_KAFKA__DELIVERY_TIMEOUT_MS": str(DELIVERY_TIMEOUT_MS)}
    with isolated_pipeline(
        base_settings, kafka_available, postgres_available, tmp_path, quick
    ) as pipeline:

        def kill_broker(started: float) -> None:
            time.sleep(max(0.0, started + BROKER_KILLED_AT - time.monotonic()))
            pid = script(KAFKA, "pid", timeout=SCRIPT_TIMEOUT).stdout.strip()
            os.kill(int(pid), signal.SIGKILL)
            time.sleep(BROKER_DOWN_SECONDS)
            started_again = script(KAFKA, "start", timeout=SCRIPT_TIMEOUT)
            assert started_again.returncode == 0, started_again.stderr

        resent = run_traffic(pipeline, kill_broker)
        assert resent > 0, "no webhook was refused while the broker was down"
        assert_every_effect_once(pipeline)


def run_traffic(pipeline: Pipeline, chaos: Callable[[float], None]) -> int:
    """Post :func:`traffic` from :data:`SENDERS` providers while ``chaos`` (given the
    start time) disrupts the pipeline; wait until everything accepted is delivered.
    Returns how many posts the providers had to send again."""
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
    chaos(started)
    for sender, provider in zip(senders, providers, strict=True):
        sender.join(timeout=PROVIDER_GIVES_UP_SECONDS * 2)
        assert not sender.is_alive(), "a provider did not finish"
        assert provider.error is None, provider.error
        assert provider.sent == len(provider.webhooks)
    # Longer than the flows' wait: a breaker the outage opened waits out its cooldown (30 s
    # in the demo's connectors, doubled after a failed probe) and retries back off to 64 s.
    pipeline.settle(within=SETTLE_SECONDS)
    return sum(p.resent for p in providers)


def assert_every_effect_once(pipeline: Pipeline) -> None:
    """A warehouse row per event, a contact per customer and a note per message (each
    once), and no dead letter."""
    customers = {f"shopify:{n}" for n in range(CUSTOMERS)} | {f"shopify:{LINKED_CHAT}"}
    payments = {f"stripe:pi_chaos_{n}" for n in range(PAYMENTS)}
    messages = {f"telegram:{LINKED_CHAT}:{1000 + n}" for n in range(MESSAGES)}
    for table, expected in (
        ("customers", customers),
        ("payments", payments),
        ("messages", messages),
    ):
        missing = sorted(expected - ids(pipeline, table))
        # where the lost ones got to: each record holding their id, and the groups' offsets
        assert not missing, f"{table} missing {missing}: {where_lost(pipeline, missing)}"
        assert ids(pipeline, table) == expected
    store = pipeline.fakes.hubspot.store

    def crm() -> tuple[list[str], list[str]]:
        contacts = [r.properties.get("email", "") for r in store.records["contacts"].values()]
        notes = [r.properties.get(EXTERNAL_ID, "") for r in store.records["notes"].values()]
        return contacts, notes

    contacts, notes = pipeline.fakes.call(crm)
    emails = {f"c{n}@example.com" for n in range(CUSTOMERS)} | {"buyer1@example.com"}
    assert sorted(contacts) == sorted(emails)  # each once
    assert sorted(notes) == sorted(messages)  # each once: a repeat would be a second note
    counts = pipeline.dead_letters()
    assert counts == dict.fromkeys(counts, 0)
    assert_outages_not_reported_as_crashes(pipeline)


def assert_outages_not_reported_as_crashes(pipeline: Pipeline) -> None:
    """The connectors waited out PostgreSQL's and Kafka's outages (connectors.restarts):
    no ``connector failed`` line with its traceback, no ``crashed`` alert."""
    lines = (pipeline.tmp / "connectors.log").read_text().splitlines()
    crashes = [line for line in lines if '"connector failed"' in line]
    assert not crashes, crashes[:3]


def where_lost(pipeline: Pipeline, missing: list[str]) -> str:
    """The records that hold each missing id's provider id (raw, normalised, retry, dead
    letter), and the consumer groups' committed offsets on those partitions."""
    needles = [m.split(":", 1)[1] for m in missing[:5]]
    records = pipeline.where(needles)
    held = {place.split("@")[0] for places in records.values() for place in places}
    offsets = {
        group: {tp: offset for tp, offset in committed.items() if tp in held}
        for group, committed in pipeline.committed_offsets().items()
    }
    return f"records {records}; committed offsets there {offsets}"


def stop_postgres_for(seconds: float) -> None:
    """Stop the suite's PostgreSQL (scripts/postgres.sh: a fast shutdown, every connection
    cut), then start it again."""
    stopped = script(POSTGRES, "stop", timeout=SCRIPT_TIMEOUT)
    assert stopped.returncode == 0, stopped.stderr
    time.sleep(seconds)
    started = script(POSTGRES, "start", timeout=SCRIPT_TIMEOUT)
    assert started.returncode == 0, started.stderr


def ids(pipeline: Pipeline, table: str) -> set[str]:
    query = sql.SQL("SELECT id FROM {}").format(sql.Identifier("warehouse", table))
    return {row["id"] for row in pipeline.rows(query.as_string())}
