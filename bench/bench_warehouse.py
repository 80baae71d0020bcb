"""The warehouse connector's commit rate against plain psycopg's, in the same run.

1. ceiling: ``BENCH_WAREHOUSE_EVENTS`` distinct entities (orders with two line items,
   customers, payments with a refund, messages) upserted by a bare psycopg loop: rows
   mapped in advance, per family one ``executemany`` of the warehouse's own upsert (the
   version guard) and of the children, ``BENCH_WAREHOUSE_BATCH`` changes per transaction;
2. connector: the same number of CloudEvents on the normalised topics (real Kafka),
   delivered by the ``warehouse`` connector (``concurrency`` and ``batch_size`` as in
   bench/bench_pipeline.py) through the whole runtime: change detection, state written,
   breaker, metrics, sync log; rows/s from assignment to the last change applied, and this
   process's CPU per row (PostgreSQL's own CPU is not in it).

Every row is checked to be present afterwards. Results: bench/results/warehouse.json.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import orjson
import psycopg
from confluent_kafka import Producer

from bench.bench_connectors import fresh_database, fresh_topics, run_configured
from bench.common import write_result
from connectors.destinations.base import Change
from connectors.destinations.warehouse import TABLES, prepare
from hookline.kafka_clients import producer_config
from hookline.logs import configure_logging
from hookline.settings import LogSettings, Settings
from hookline.topics import Topics
from schemas.events import (
    CloudEvent,
    Customer,
    CustomerRef,
    LineItem,
    Message,
    Money,
    Order,
    Payment,
    Refund,
    Sender,
)
from tests.fakes.connector_harness import at

EVENTS = int(os.environ.get("BENCH_WAREHOUSE_EVENTS", "10000"))
BATCH = int(os.environ.get("BENCH_WAREHOUSE_BATCH", "100"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "256"))  # as bench_pipeline
POLL_BATCH = int(os.environ.get("BENCH_POLL_BATCH", "500"))  # the runner's batch_size
FAMILIES = ("order", "customer", "payment", "message")


def entity(n: int, tag: str) -> Order | Customer | Payment | Message:
    """Entity ``n`` of the mix (one family in four each), a new ID per ``tag``."""
    family, when = FAMILIES[n % 4], at(n)
    eur = Money(amount_minor=1_000 + n, currency="EUR")
    if family == "order":
        items = tuple(
            LineItem(sku=f"sku{i}", name=f"Item {i}", quantity=i + 1, unit_price=eur)
            for i in range(2)
        )
        customer = CustomerRef(id=f"shopify:c{n}", email=f"c{n}@example.com")
        return Order(
            id=f"shopify:{tag}{n}", updated_at=when, number=f"#{n}", status="open",
            customer=customer, total=eur, line_items=items, tags=("web",), created_at=when,
        )  # fmt: skip
    if family == "customer":
        return Customer(
            id=f"shopify:{tag}{n}", updated_at=when, email=f"{tag}{n}@example.com",
            first_name="Ann", last_name="Lee", tags=("vip",), created_at=when,
        )  # fmt: skip
    if family == "payment":
        refund = Refund(id=f"re_{n}", amount=eur, status="succeeded", created_at=when)
        return Payment(
            id=f"stripe:{tag}{n}", updated_at=when, object_type="payment_intent",
            status="succeeded", amount=eur, refunds=(refund,), metadata={"n": str(n)},
            created_at=when,
        )  # fmt: skip
    sender = Sender(id="42", username="ann", display_name="Ann", is_bot=False)
    return Message(
        id=f"telegram:{tag}{n}", updated_at=when, chat_id="-100", sender=sender,
        text=f"message {n}", sent_at=when,
    )  # fmt: skip


def event_of(data: Order | Customer | Payment | Message) -> CloudEvent:
    return CloudEvent.build(
        source="shop",
        provider="bench",
        provider_event_id=uuid.uuid4().hex,
        provider_event_type=f"{data.kind}.updated",
        action="updated",
        time=data.updated_at,
        data=data,
    )


def change_of(event: CloudEvent) -> Change:
    state = event.data.model_dump(mode="json", exclude={"partial"})
    return Change(
        entity_key=event.subject,
        family=event.family,
        entity_id=event.data.id,
        state={**state, "cloudevent": event.model_dump(mode="json")},
        state_hash="",
        version=event.data.updated_at,
        source="shop",
        event_id=event.id,
        event_type=event.type,
    )


def ceiling(conninfo: str) -> dict[str, float]:
    """Plain psycopg: per batch one transaction, per family one executemany each."""
    writes = [prepare(change_of(event_of(entity(n, "raw")))) for n in range(EVENTS)]
    started = time.perf_counter()
    cpu = time.process_time()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for first in range(0, len(writes), BATCH):
            batch = writes[first : first + BATCH]
            with conn.transaction(), conn.cursor() as cur:
                for table in TABLES.values():
                    mine = [w for w in batch if w.table is table]
                    if not mine:
                        continue
                    cur.executemany(table.upsert_sql(), [w.row for w in mine])
                    if table.children is None:
                        continue
                    children = [
                        (w.entity_id, i, *row)
                        for w in mine
                        for i, row in enumerate(w.children or [])
                    ]
                    if children:
                        cur.executemany(table.children.insert_sql(), children)
    elapsed = time.perf_counter() - started
    return {
        "rows": EVENTS,
        "seconds": round(elapsed, 3),
        "per_second": round(EVENTS / elapsed, 1),
        "cpu_ms_per_row": round((time.process_time() - cpu) * 1000 / EVENTS, 3),
    }


def produce(settings: Settings) -> None:
    producer = Producer(producer_config(settings.kafka, "bench"))
    topics = Topics(settings.kafka.topic_prefix)
    for n in range(EVENTS):
        event = event_of(entity(n, "wh"))
        producer.produce(
            topics.events(event.family), key=event.subject.encode(), value=event.model_dump_json()
        )
        producer.poll(0)
    assert producer.flush(30) == 0


async def run_connector(settings: Settings) -> dict[str, Any]:
    table = {
        "families": list(FAMILIES),
        "concurrency": CONCURRENCY,
        "batch_size": POLL_BATCH,
        "destination": {"type": "warehouse", "batch_size": BATCH},
    }
    run = await run_configured(settings, "warehouse", table, EVENTS)
    return {
        "rows": EVENTS,
        "seconds": round(run.seconds, 3),
        "per_second": round(EVENTS / run.seconds, 1),
        "cpu_ms_per_row": round(run.cpu_seconds * 1000 / EVENTS, 3),
        "outcomes": {k: v for k, v in run.outcomes.items() if v},
    }


def rows_present(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        counts = [
            conn.execute(
                f"SELECT count(*) FROM warehouse.{t.name} WHERE id LIKE %s",  # noqa: S608 - ours
                ("%:wh%",),
            ).fetchone()
            for t in TABLES.values()
        ]
    return sum(c[0] for c in counts if c)


def main() -> None:
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    configure_logging(LogSettings(level="INFO", format="json"), stream=devnull)
    base = Settings(_env_file=None)
    load_before = os.getloadavg()
    with fresh_database(base) as db, fresh_topics(db) as settings:
        conninfo = settings.postgres.conninfo()
        raw = ceiling(conninfo)
        produce(settings)
        connector = asyncio.run(run_connector(settings))
        present = rows_present(conninfo)
    assert present == EVENTS, f"{present} rows of {EVENTS}"
    share = round(connector["per_second"] / raw["per_second"], 3)
    result = {
        "config": {
            "events": EVENTS,
            "warehouse_batch": BATCH,
            "concurrency": CONCURRENCY,
            "poll_batch": POLL_BATCH,
        },
        "plain_psycopg_ceiling": raw,
        "connector": {**connector, "share_of_ceiling": share},
        "rows_present": present,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    path = write_result("warehouse", result)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    print(f"written to {path}")


if __name__ == "__main__":
    main()
