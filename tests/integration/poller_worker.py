"""A poller process for the crash tests: ``python -m tests.integration.poller_worker
MODE PREFIX DATABASE SHOP_URL`` (MODE ``poll`` or ``backfill``) waits for the poll's lease,
walks the fake shop once, prints the progress and exits 0."""

from __future__ import annotations

import asyncio
import sys

from pydantic import SecretStr

from hookline.settings import Settings
from pollers.adapters.shopify import ShopifyPollConfig
from pollers.config import PollerConfig
from pollers.service import open_service
from sandbox.shopify import TOKEN

# Long enough that a page (fetch, Kafka ack, cursor commit) on a loaded machine never
# outlives it; a killed worker's successor waits at most this long.
LEASE_SECONDS = 4.0


def poller_config(shop_url: str, page_size: int = 50) -> PollerConfig:
    api = ShopifyPollConfig(base_url=shop_url, token=SecretStr(TOKEN))
    return PollerConfig(
        name="shop", source="shopify", page_size=page_size, lease_seconds=LEASE_SECONDS, api=api
    )


async def main(mode: str, prefix: str, database: str, shop_url: str) -> None:
    base = Settings()
    settings = base.model_copy(
        update={
            "kafka": base.kafka.model_copy(update={"topic_prefix": prefix}),
            "postgres": base.postgres.model_copy(update={"database": database}),
        }
    )
    async with open_service(settings, {"shop": poller_config(shop_url)}) as service:
        lease = "shop#backfill" if mode == "backfill" else "shop"
        for _ in range(100):  # a killed predecessor's lease expires after LEASE_SECONDS
            if await service.store.take_lease(lease, LEASE_SECONDS):
                break
            await asyncio.sleep(0.2)
        if mode == "backfill":
            progress = await service.backfill("shop", None)
        else:
            progress = await service.poll_once("shop")
    print(f"seen={progress.seen} emitted={progress.emitted}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
