"""The least a connector must do per delivery, as a bound for the connector runtime.

A loop with only the work no HTTP connector can skip, written as tightly as the bench can:
consume a batch (confluent-kafka, in a thread), validate each record as a CloudEvent, build
the destination's state (``http_upsert``'s ``state_for``), encode and hash it once, derive
the idempotency key, PUT it with ``BENCH_CONCURRENCY`` calls in flight through one bare
aiohttp session, upsert the batch's states with one statement, commit the offsets.

Everything an operator relies on is left out: no audit line, span, metric, breaker, rate
limit, retry tier, dead letter, conflict policy, change detection against the stored state,
per-entity ordering or crash safety of the state write. The connector runtime does all of
them; the gap between the two is what they cost, and this loop's share of the raw client's
ceiling is the most any connector doing the job gets on the same machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import aiohttp
import orjson
import psycopg
from confluent_kafka import Consumer, Message

from connectors.delivery import encode_state, idempotency_key
from connectors.destinations.http_upsert import HttpUpsert, HttpUpsertConfig, path_segment
from hookline.kafka_clients import consumer_config
from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import TOKEN
from schemas.events import CloudEvent

_TABLE = """
CREATE TABLE IF NOT EXISTS bench_minimal_state (
    k text PRIMARY KEY, h text NOT NULL, v timestamptz NOT NULL, j jsonb NOT NULL
)"""
_UPSERT = """
INSERT INTO bench_minimal_state (k, h, v, j)
SELECT c.k, c.h, c.v, c.j
FROM jsonb_to_recordset(%s::jsonb) AS c(k text, h text, v timestamptz, j jsonb)
ON CONFLICT (k) DO UPDATE SET h = excluded.h, v = excluded.v, j = excluded.j"""
_BATCH = 500
_NAME = "minimal"


async def run(settings: Settings, base_url: str, expected: int, concurrency: int) -> dict[str, Any]:
    """Deliver ``expected`` customer events from the start of the topic; the run's rate and
    CPU (this process's, and the event loop thread's)."""
    topic = Topics(settings.kafka.topic_prefix).events("customer")
    consumer = Consumer(consumer_config(settings.kafka, f"{topic}-minimal", "bench-minimal"))
    consumer.subscribe([topic])
    destination = HttpUpsert(HttpUpsertConfig(type="http_upsert", base_url=base_url), None)  # type: ignore[arg-type]
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        await psycopg.AsyncConnection.connect(
            settings.postgres.conninfo(), autocommit=True
        ) as conn,
    ):
        await conn.execute(_TABLE)

        async def deliver(message: Message) -> dict[str, Any]:
            event = CloudEvent.model_validate_json(message.value() or b"")
            encoded = encode_state(destination.state_for(event))
            headers = {
                "Authorization": f"Bearer {TOKEN}",
                "Idempotency-Key": idempotency_key(_NAME, event.id),
                "X-Hookline-Version": event.data.updated_at.isoformat(),
                "X-Hookline-Source": event.source.removeprefix("/hookline/"),
                "Content-Type": "application/json",
            }
            url = f"{base_url}/{event.family}/{path_segment(event.data.id)}"
            async with slots, session.put(url, data=encoded, headers=headers) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            return {
                "k": event.subject,
                "h": hashlib.sha256(encoded).hexdigest(),
                "v": event.data.updated_at,
                "j": orjson.Fragment(encoded),
            }

        done, started = 0, 0.0
        cpu = loop_cpu = 0.0
        while done < expected:
            messages = await asyncio.to_thread(consumer.consume, _BATCH, 0.5)
            if not messages:
                continue
            if not started:  # from the first record (the runtime's run: from assignment)
                started, cpu = time.perf_counter(), time.process_time()
                loop_cpu = time.thread_time()
            rows = await asyncio.gather(*(deliver(m) for m in messages if m.error() is None))
            await conn.execute(_UPSERT, (orjson.dumps(rows).decode(),))
            await asyncio.to_thread(consumer.commit, asynchronous=False)
            done += len(rows)
        seconds = time.perf_counter() - started
        cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    consumer.close()
    return {
        "deliveries": done,
        "seconds": round(seconds, 3),
        "per_second": done / seconds,
        "cpu_ms_per_delivery": round(cpu * 1000 / done, 3),
        "loop_cpu_ms_per_delivery": round(loop_cpu * 1000 / done, 3),
        "event_loop_busy_share": round(loop_cpu / seconds, 3),
    }
