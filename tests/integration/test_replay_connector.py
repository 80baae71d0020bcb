"""A connector's dead letter, replayed, reaches that connector's destination and no other."""

from __future__ import annotations

import asyncio

from hookline.replay import replay_dead_letters
from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import FakeDestinationApi, Reply
from tests.fakes.connector_harness import (
    connector_config,
    customer_event,
    produce,
    running_connector,
    until,
)
from tests.kafka_probe import records_written

ENTITY = "cust:a"


async def test_a_replayed_connector_dead_letter_is_delivered_by_that_connector_only(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    mirror_api = FakeDestinationApi()
    await mirror_api.start()
    fake_api.script_entity(ENTITY, Reply(400, body={"error": "invalid email"}))
    crm = connector_config("crm", fake_api.base_url)
    mirror = connector_config("mirror", mirror_api.base_url)
    try:
        async with (
            running_connector(connector_settings, crm) as crm_run,
            running_connector(connector_settings, mirror) as mirror_run,
        ):
            produce(connector_settings, topics.events("customer"), [customer_event("a", 1)])
            await until(lambda: crm_run.count("dead_lettered") == 1, what="the dead letter")
            await until(lambda: mirror_run.count("applied") == 1, what="mirror's delivery")

            report = await asyncio.to_thread(
                replay_dead_letters,
                connector_settings.kafka,
                connector_settings.postgres.conninfo(),
                topics.connector_dead_letter("crm"),
            )

            assert report.by_target == {topics.connector_retry("crm"): 1}
            await until(lambda: crm_run.count("applied") == 1, what="the replay applied")
            assert [c.status for c in fake_api.calls_for(ENTITY)] == [400, 200]
            assert fake_api.total_effective_writes == 1
            assert len(mirror_api.calls_for(ENTITY)) == 1
        shared = records_written(connector_settings.kafka, [topics.events("customer")])
        assert shared == 1  # nothing went back onto the shared normalised topic
    finally:
        await mirror_api.close()
