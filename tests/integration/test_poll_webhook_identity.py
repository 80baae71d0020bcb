"""A webhook and a poll of the same entity state become one canonical event: a signed
Shopify webhook through the ingress and the poller's read of the same order reach the
normalised topic with one CloudEvents id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from ingress.app import create_app
from ingress.providers.shopify import PROVIDER, ShopifyConfig
from pollers.adapters.shopify import ShopifyPollConfig
from pollers.config import PollerConfig
from pollers.service import open_service
from sandbox.shopify import FakeShopify
from schemas.events import CloudEvent
from tests.conftest import ConsumeFn
from tests.integration.processor_worker import ProcessorWorker

SECRET = "shop-webhook-secret"


@pytest.fixture
def worker(settings: Settings, topics: Topics, tmp_path: Path) -> Iterator[ProcessorWorker]:
    handle = ProcessorWorker(settings, tmp_path / "state", tmp_path / "worker.log")
    yield handle
    handle.stop()


def webhook_body(order: dict[str, object]) -> bytes:
    """Shopify's REST ``orders/updated`` body for the fake's order: richer than the
    poller's read, and its version written with another offset."""
    version = datetime.fromisoformat(str(order["updatedAt"]).replace("Z", "+00:00"))
    return orjson.dumps(
        {
            "id": int(str(order["id"]).rsplit("/", 1)[1]),
            "name": order["name"],
            "financial_status": "pending",
            "total_price": "19.90",
            "currency": "EUR",
            "updated_at": version.astimezone().isoformat(),
        }
    )


async def send_webhook(settings: Settings, body: bytes) -> None:
    sources = {"shop": ShopifyConfig(name="shop", secrets=(SecretStr(SECRET),))}
    headers = PROVIDER.sign(body, SECRET, 0, topic="orders/updated", event_id="evt-42")
    async with TestClient(TestServer(create_app(settings, sources))) as client:
        response = await client.post("/webhooks/shop", data=body, headers=headers)
        assert response.status == 200, await response.text()


async def test_a_webhook_and_a_poll_of_one_order_state_share_one_event_id(
    settings: Settings,
    topics: Topics,
    fresh_database: PostgresSettings,
    worker: ProcessorWorker,
    consume: ConsumeFn,
) -> None:
    live = settings.model_copy(update={"postgres": fresh_database})
    shop = FakeShopify(maximum_available=1e9, restore_rate=1e9)
    await shop.start()
    try:
        order = shop.store.orders_by_id[shop.store.seed_order(42)]
        await send_webhook(live, webhook_body(order))
        api = ShopifyPollConfig(base_url=shop.base_url, token=SecretStr(shop.token))
        # The poller emits as the webhook source's name: one CloudEvents source.
        config = PollerConfig(name="shop-orders", source="shop", api=api)
        async with open_service(live, {config.name: config}, "a") as service:
            assert await service.store.take_lease(config.name, config.lease_seconds)
            assert (await service.poll_once(config.name)).emitted == 1
    finally:
        await shop.close()

    worker.start()
    worker.wait_drained(topics.raw_webhooks)
    records = consume(topics.events("order"), 3, timeout=10)  # one more than expected
    events = [CloudEvent.model_validate_json(r.value() or b"") for r in records]
    assert sorted(e.providereventid.split(":")[0] for e in events) == [
        "example.myshopify.com",  # the webhook's
        "poll",
    ]
    assert {e.source for e in events} == {"/hookline/shop"}
    assert len({e.id for e in events}) == 1  # one change, one canonical event id
