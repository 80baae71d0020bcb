"""GET /api/v1/events/{id}: a real connector's delivery and dead letter, traced by
CloudEvents id and by {source}:{provider event id}."""

from __future__ import annotations

import asyncio
import time
from typing import Any

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
from tests.integration.admin_fixtures import Admin, admin_settings, start_admin


async def stages_of(admin: Admin, event: str, wanted: list[str]) -> dict[str, Any]:
    """The event's trace once its stages are ``wanted``."""
    deadline = time.monotonic() + 60
    seen: Any = None
    while time.monotonic() < deadline:
        answer = await admin.client.get(f"/api/v1/events/{event}", headers=admin.as_role("viewer"))
        seen = await answer.json()
        if answer.status == 200 and [s["stage"] for s in seen["data"]["stages"]] == wanted:
            return dict(seen["data"])
        await asyncio.sleep(0.3)
    raise AssertionError(f"{event}: not {wanted}: {seen}")


async def test_event_trace_shows_delivery_dead_letter_and_replay(
    connector_settings: Settings, fake_api: FakeDestinationApi
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    fake_api.script_entity("cust:b", Reply(400, body={"error": "invalid email"}))
    delivered, refused = customer_event("a", 1), customer_event("b", 1)
    admin = await start_admin(
        admin_settings(connector_settings, connector_settings.postgres), index=True
    )
    try:
        async with running_connector(
            connector_settings, connector_config("crm", fake_api.base_url)
        ):
            produce(connector_settings, topics.events("customer"), [delivered, refused])
            await until(lambda: fake_api.total_effective_writes == 1, what="a delivered")
            [done] = (await stages_of(admin, delivered.id, ["delivered"]))["stages"]
            assert (done["component"], done["event_id"]) == ("crm", delivered.id)
            assert done["detail"]["entity_key"] == "customer:cust:a"

            by_provider = f"{refused.source.removeprefix('/hookline/')}:{refused.providereventid}"
            trace = await stages_of(admin, by_provider, ["dead_lettered"])
            assert trace["event_ids"] == [refused.id]
            [failed] = trace["stages"]
            assert failed["component"] == "crm"
            assert failed["detail"]["http_status"] == 400
            assert "accepted" in trace["not_recorded"]

            replay = f"/api/v1/dead-letters/{failed['detail']['dead_letter_id']}/replay"
            answer = await admin.client.post(replay, headers=admin.as_role("operator"))
            assert answer.status == 200, await answer.text()
            await until(lambda: fake_api.total_effective_writes == 2, what="b replayed")
            after = await stages_of(admin, refused.id, ["dead_lettered", "replayed", "delivered"])
            assert after["stages"][1]["detail"]["to"] == topics.connector_retry("crm")
        viewer = admin.as_role("viewer")
        for unknown in ("00000000-0000-0000-0000-000000000000", "no-colon", "shop:nothing"):
            missing = await admin.client.get(f"/api/v1/events/{unknown}", headers=viewer)
            assert missing.status == 404
    finally:
        await admin.client.close()
