"""A broker that keeps failing the ingress's producer fatally cannot make it replace
producers in a tight loop: replacements back off (1 s doubling to 60 s, reset once a
replacement stayed healthy for a minute) and /readyz stays 503 meanwhile."""

from __future__ import annotations

import math
import re
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka import KafkaError

from hookline.kafka_clients import AsyncProducer, PublishError, producer_config
from hookline.settings import Settings
from hookline.topics import Topics
from ingress.app import PUBLISHER, create_app
from ingress.publisher import Publisher
from tests.integration.test_ingress import BODY, github_sources, scrape_metrics, signed

AppClient = TestClient[web.Request, web.Application]


def fail_fatally(producer: AsyncProducer) -> None:
    # As in test_ingress: librdkafka's error_cb handed a fatal error built with
    # KafkaError's public constructor (no public way to provoke one on a healthy broker).
    producer.on_error(KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "injected", fatal=True))


@pytest.fixture
async def client(settings: Settings, topics: Topics) -> AsyncIterator[AppClient]:
    async with TestClient(TestServer(create_app(settings, github_sources()))) as test_client:
        yield test_client


async def test_a_burst_of_fatal_errors_replaces_the_producer_a_bounded_number_of_times(
    client: AppClient,
) -> None:
    started = time.monotonic()
    for _ in range(20):
        fail_fatally(client.app[PUBLISHER].producer)
        assert (await client.get("/readyz")).status == 503
    refused = await client.post("/webhooks/gh", data=BODY, headers=signed(BODY, "b-1"))
    elapsed = time.monotonic() - started

    assert refused.status == 503
    assert "Retry-After" in refused.headers
    text = await scrape_metrics(client)
    found = re.search(r"^hookline_ingress_producer_replacements_total (\S+)$", text, re.M)
    assert found is not None
    # Waits of 1, 2, 4 ... s after the first replacement: within `elapsed` at most this many.
    assert 1 <= float(found.group(1)) <= 1 + math.floor(math.log2(1 + elapsed))


async def test_replacements_back_off_and_start_over_after_a_healthy_minute(
    settings: Settings, topics: Topics
) -> None:
    now = [0.0]
    config = producer_config(settings.kafka, "ingress-test")
    replaced: list[float] = []
    publisher = Publisher(
        lambda: AsyncProducer(config),
        topics,
        on_replaced=lambda: replaced.append(now[0]),
        clock=lambda: now[0],
    )
    try:
        # A fatal error every half second for two minutes, each noticed at once.
        for step in range(240):
            now[0] = step * 0.5
            fail_fatally(publisher.producer)
            try:
                publisher.usable_producer()
            except PublishError:
                continue
        assert replaced == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]

        now[0] = 63.0 + 61  # the last replacement worked for a minute: no wait
        fail_fatally(publisher.producer)
        assert publisher.usable_producer()[1] is True
        now[0] += 0.5
        fail_fatally(publisher.producer)
        with pytest.raises(PublishError):
            publisher.usable_producer()
    finally:
        publisher.producer.close(0)
