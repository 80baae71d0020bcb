"""Polled sources for the poller tests: each registered adapter on its sandbox fake, with
what a test needs to seed records, change one, and build the adapter's config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import SecretStr

from pollers.adapters.hubspot import HubSpotPollConfig
from pollers.adapters.shopify import ShopifyPollConfig
from sandbox import hubspot, shopify
from sandbox.hubspot_store import iso

PORTAL_ID = 62515


class PollSource(Protocol):
    adapter_type: str

    @property
    def config(self) -> Any: ...

    def seed(self, count: int) -> None: ...
    def change(self, index: int, *, backdate_seconds: float = 0) -> None: ...


@dataclass
class HubSpotSource:
    fake: hubspot.FakeHubSpot
    adapter_type: str = "hubspot"

    @property
    def config(self) -> HubSpotPollConfig:
        token = SecretStr(self.fake.private_token)
        return HubSpotPollConfig(base_url=self.fake.base_url, token=token, portal_id=PORTAL_ID)

    def seed(self, count: int) -> None:
        for i in range(count):
            props = {"firstname": f"P{i}", "lastname": "Doe"}
            self.fake.store.upsert("contacts", f"p{i}@example.com", "email", props)

    def change(self, index: int, *, backdate_seconds: float = 0) -> None:
        record = self.fake.store.find("contacts", f"p{index}@example.com", "email")
        assert record is not None
        self.fake.store.write("contacts", record, {"lastname": f"Changed{datetime.now(UTC)}"})
        if backdate_seconds:  # a write that becomes visible late, dated in the past
            record.updated -= timedelta(seconds=backdate_seconds)
            record.properties["lastmodifieddate"] = iso(record.updated)


@dataclass
class ShopifySource:
    fake: shopify.FakeShopify
    adapter_type: str = "shopify"

    @property
    def config(self) -> ShopifyPollConfig:
        return ShopifyPollConfig(base_url=self.fake.base_url, token=SecretStr(self.fake.token))

    def seed(self, count: int) -> None:
        start = len(self.fake.store.orders_by_id) + 1
        for number in range(start, start + count):
            self.fake.store.seed_order(number)

    def change(self, index: int, *, backdate_seconds: float = 0) -> None:
        order = self.fake.store.orders_by_id[shopify_gid(index + 1)]
        order["note"] = f"changed {datetime.now(UTC)}"
        moment = datetime.now(UTC) - timedelta(seconds=backdate_seconds)
        order["updatedAt"] = moment.isoformat().replace("+00:00", "Z")


def shopify_gid(number: int) -> str:
    return f"gid://shopify/Order/{number}"


@asynccontextmanager
async def poll_source(kind: str) -> AsyncIterator[PollSource]:
    """The fake of adapter type ``kind``, listening, and stopped afterwards."""
    if kind == "hubspot":
        crm = hubspot.FakeHubSpot(rate_limit_max=100_000)
        await crm.start()
        try:
            yield HubSpotSource(crm)
        finally:
            await crm.close()
        return
    shop = shopify.FakeShopify(maximum_available=1e9, restore_rate=1e9)
    await shop.start()
    try:
        yield ShopifySource(shop)
    finally:
        await shop.close()
