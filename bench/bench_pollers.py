"""Poller change detection: a full re-poll of N orders of which 10 % changed.

Seeds the stand-in shop with N orders, polls once (everything is new), changes 10 %, then
re-reads the whole history (a backfill from the beginning, the worst case for a poller)
and reports the share of records read that produced no event. The baseline in the same
run is a poll without change detection, which emits every record it reads (share 0).
Real Kafka and PostgreSQL (a database of its own, dropped afterwards).

    .venv/bin/python -m bench.bench_pollers [--records 10000]

Writes ``bench/results/pollers.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

import psycopg

from bench.common import write_result
from hookline.db import apply_migrations
from hookline.kafka_clients import ensure_topics
from hookline.settings import Settings
from hookline.topics import Topics
from pollers.adapters.shopify import ShopifyPollConfig
from pollers.config import PollerConfig
from pollers.service import open_service
from sandbox.shopify import TOKEN, FakeShopify
from tests.kafka_topics import topics_deleted_afterwards

CHANGED_SHARE = 0.10


async def measure(settings: Settings, records: int) -> dict[str, Any]:
    shop = FakeShopify(maximum_available=1e12, restore_rate=1e12)
    for number in range(1, records + 1):
        shop.store.seed_order(number)
    await shop.start()
    api = ShopifyPollConfig(base_url=shop.base_url, token=TOKEN)
    config = PollerConfig(name="shop", source="shopify", page_size=250, api=api)
    try:
        async with open_service(settings, {"shop": config}, "bench") as service:
            first = await service.backfill("shop", None)
            step = round(1 / CHANGED_SHARE)
            for number in range(1, records + 1, step):
                order = shop.store.orders_by_id[f"gid://shopify/Order/{number}"]
                order["note"] = "changed"
                order["updatedAt"] = shop.store._now()
            started = time.perf_counter()
            again = await service.backfill("shop", None)
            seconds = time.perf_counter() - started
    finally:
        await shop.close()
    return {
        "records": records,
        "changed": len(range(1, records + 1, step)),
        "first_poll_emitted": first.emitted,
        "repoll_seen": again.seen,
        "repoll_emitted": again.emitted,
        "share_without_event": round(1 - again.emitted / again.seen, 4),
        "baseline_share_without_event": 0.0,
        "repoll_seconds": round(seconds, 2),
        "target_share_without_event": 0.9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    records = parser.parse_args().records
    base = Settings()
    database = f"bench_pollers_{uuid.uuid4().hex[:8]}"
    prefix = f"bench-pollers-{uuid.uuid4().hex[:6]}"
    admin = base.postgres.conninfo()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    settings = base.model_copy(
        update={
            "postgres": base.postgres.model_copy(update={"database": database}),
            "kafka": base.kafka.model_copy(update={"topic_prefix": prefix}),
        }
    )
    try:
        apply_migrations(settings.postgres.conninfo())
        with topics_deleted_afterwards(settings.kafka, prefix):
            ensure_topics(settings.kafka, Topics(prefix).core(1))
            result = asyncio.run(measure(settings, records))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print(write_result("pollers", result))


if __name__ == "__main__":
    main()
