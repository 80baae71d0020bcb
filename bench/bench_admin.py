"""Admin API benchmark: list and get latency over a large dead-letter index, and the
dead-letter indexer's throughput.

1. Bulk-load ``ROWS`` dead letters into a fresh database with COPY (200,000 first; up to
   1,000,000 when the first batch projects the whole load under 2 minutes).
2. Serve the admin app on a local port and time sequential requests (an operator API
   key): p50/p99 of a filtered first page (connector + exception class), of a deep cursor
   page (the same filters, a cursor near the oldest rows), of an unfiltered first page,
   and of a get by id. Each list page counts its total as well (the envelope's meta).
3. EXPLAIN the list queries: the plan's scan nodes, so an index is seen to be used.
4. Produce ``INDEX_RECORDS`` dead letters to a connector's dead-letter topic and time the
   indexer (admin.dead_letters.indexer) writing them all: records/s.

Results: bench/results/admin.json. Bounded: a few minutes on the shared 2-core machine.
"""

from __future__ import annotations

import asyncio
import base64
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import psycopg
from aiohttp import web
from confluent_kafka import Producer
from pydantic import SecretStr

from admin.app import create_app
from admin.bootstrap import create_key
from admin.dead_letters.cursor import Cursor, encode
from admin.dead_letters.indexer import DeadLetterIndexer
from bench.bench_connectors import fresh_database, fresh_topics
from bench.common import write_result
from hookline.dead_letter import SourceRecord, build_context, dead_letter_headers
from hookline.kafka_clients import ensure_topics, producer_config
from hookline.settings import Settings
from hookline.topics import Topics
from tests.ports import free_port

FIRST_ROWS = 200_000
MAX_ROWS = 1_000_000
LOAD_BUDGET_SECONDS = 120
REQUESTS = 200
INDEX_RECORDS = 50_000
CONNECTORS = ("crm", "shop", "warehouse")
CLASSES = ("TimeoutError", "PermanentError", "RetriableError", "ValidationError", "KeyError")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
_COLUMNS = (
    'topic, partition, "offset", payload, payload_bytes, connector, stage, component,'
    " exception_class, exception_message, source, original_topic, failed_at"
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def load(conninfo: str, start: int, count: int) -> None:
    """COPY ``count`` dead letters, offsets ``start``…, spread over connectors and classes."""
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY dead_letters ({_COLUMNS}) FROM STDIN") as copy:
            for n in range(start, start + count):
                connector = CONNECTORS[n % len(CONNECTORS)]
                copy.write_row(
                    (
                        f"bench.connector.{connector}.dlq",
                        0,
                        n,
                        b'{"id": "x"}',
                        11,
                        connector,
                        "deliver",
                        connector,
                        CLASSES[n % len(CLASSES)],
                        "failed",
                        "shopify",
                        "bench.events.customer",
                        T0 + timedelta(seconds=n),
                    )
                )
        conn.commit()


def bulk_load(conninfo: str) -> dict[str, Any]:
    started = time.monotonic()
    load(conninfo, 0, FIRST_ROWS)
    first = time.monotonic() - started
    rows = FIRST_ROWS
    if first * MAX_ROWS / FIRST_ROWS < LOAD_BUDGET_SECONDS:
        load(conninfo, FIRST_ROWS, MAX_ROWS - FIRST_ROWS)
        rows = MAX_ROWS
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("ANALYZE dead_letters")
    seconds = time.monotonic() - started
    return {"rows": rows, "seconds": round(seconds, 1), "rows_per_second": round(rows / seconds)}


async def timed(
    session: aiohttp.ClientSession, urls: list[tuple[str, dict[str, str]]]
) -> dict[str, float]:
    latencies = []
    for url, params in urls:
        started = time.perf_counter()
        async with session.get(url, params=params) as answer:
            await answer.read()
            assert answer.status == 200, answer.status
        latencies.append(time.perf_counter() - started)
    return {
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


def deep_cursor(first_cursor: str, edge: int) -> str:
    raw = orjson.loads(base64.urlsafe_b64decode(first_cursor + "=" * (-len(first_cursor) % 4)))
    return encode(Cursor("next", edge), str(raw["f"]))


async def latencies(settings: Settings, rows: int) -> dict[str, Any]:
    key = create_key(settings.postgres.conninfo(), "bench", "operator", None)
    runner = web.AppRunner(create_app(settings, index_dead_letters=False))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}/api/v1/dead-letters"
    filters = {"connector": "crm", "exception_class": "TimeoutError", "limit": "50"}
    try:
        async with aiohttp.ClientSession(headers={"X-API-Key": key}) as session:
            async with session.get(base, params=filters) as answer:
                meta = (await answer.json())["meta"]
            deep = {**filters, "cursor": deep_cursor(meta["next_cursor"], 2000)}
            ids = random.Random(7).sample(range(rows), REQUESTS)
            gets: list[tuple[str, dict[str, str]]] = [
                (f"{base}/bench.connector.{CONNECTORS[n % 3]}.dlq:0:{n}", {}) for n in ids
            ]
            return {
                "filtered_total": meta["total"],
                "filtered_first_page": await timed(session, [(base, filters)] * REQUESTS),
                "deep_cursor_page": await timed(session, [(base, deep)] * REQUESTS),
                "unfiltered_first_page": await timed(session, [(base, {"limit": "50"})] * 50),
                "get_by_id": await timed(session, gets),
            }
    finally:
        await runner.cleanup()


def plans(conninfo: str) -> dict[str, list[str]]:
    """The scan nodes of the list query's plan: filtered first page and deep page."""
    select = (
        "SELECT d.id FROM dead_letters d LEFT JOIN dead_letter_replays r"
        " ON r.dlq_topic = d.topic AND r.dlq_partition = d.partition"
        ' AND r.dlq_offset = d."offset"'
        " WHERE d.connector = 'crm' AND d.exception_class = 'TimeoutError' {edge}"
        " ORDER BY d.id DESC LIMIT 51"
    )
    queries = {"filtered_first_page": "", "deep_cursor_page": "AND d.id < 2000"}
    found = {}
    with psycopg.connect(conninfo) as conn:
        for name, edge in queries.items():
            rows = conn.execute("EXPLAIN " + select.format(edge=edge)).fetchall()
            found[name] = [r[0].strip() for r in rows if "Scan" in r[0]]
    return found


def produce_dead_letters(settings: Settings, topic: str, count: int) -> None:
    producer = Producer(producer_config(settings.kafka, "bench"))
    for n in range(count):
        key = f"customer:c-{n}".encode()
        record = SourceRecord("bench.events.customer", 0, n, key, b'{"id": "x"}', [], None)
        context = build_context(
            record, stage="deliver", component="crm", error=TimeoutError("slow"), http_status=504
        )
        headers = dead_letter_headers(record, context)
        producer.produce(topic, key=key, value=record.value, headers=[*headers])
        if n % 10_000 == 0:
            producer.flush(30)
    assert producer.flush(60) == 0


def indexing(settings: Settings) -> dict[str, Any]:
    topic = Topics(settings.kafka.topic_prefix).connector_dead_letter("crm")
    ensure_topics(settings.kafka, Topics(settings.kafka.topic_prefix).for_connector("crm", 1))
    produce_dead_letters(settings, topic, INDEX_RECORDS)
    stop = threading.Event()
    indexer = threading.Thread(target=DeadLetterIndexer(settings).run, args=(stop,))
    started = time.monotonic()
    indexer.start()
    indexed = 0
    with psycopg.connect(settings.postgres.conninfo(), autocommit=True) as conn:
        while indexed < INDEX_RECORDS and time.monotonic() - started < 300:
            time.sleep(0.5)
            row = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
            indexed = int(row[0]) if row else 0
    seconds = time.monotonic() - started
    stop.set()
    indexer.join(30)
    return {
        "records": indexed,
        "seconds": round(seconds, 1),
        "records_per_second": round(indexed / seconds),
        "note": "from subscription to the last row committed; includes the group join",
    }


def main() -> None:
    base = Settings()
    unlimited = {"rate_per_second": 1e6, "rate_burst": 1_000_000}  # measure, not throttle
    secret = SecretStr("bench-" + "x" * 40)
    section = base.admin.model_copy(update={"jwt_secret": secret, **unlimited})
    base = base.model_copy(update={"admin": section})
    with fresh_database(base) as settings:
        loaded = bulk_load(settings.postgres.conninfo())
        timings = asyncio.run(latencies(settings, loaded["rows"]))
        plan = plans(settings.postgres.conninfo())
    with fresh_topics(base) as with_topics, fresh_database(with_topics) as settings:
        indexed = indexing(settings)
    result = {"load": loaded, "latency": timings, "plans": plan, "indexer": indexed}
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    write_result("admin", result)


if __name__ == "__main__":
    main()
