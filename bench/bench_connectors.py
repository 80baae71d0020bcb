"""Connector delivery throughput against the raw aiohttp client's ceiling, in the same run,
and the share of calls that change detection avoids on a stream with repeats.

1. ceiling: a bare ``aiohttp`` client PUTs ``BENCH_EVENTS`` distinct entities to the local
   fake API (its own process) with N requests in flight, before and after the runs of 2
   and 3 (the baseline is their mean); phases 1-3 run once for each N of
   ``BENCH_CONCURRENCY`` (default ``32,256``: the issue's two figures), the first N's
   figures at the top of the results, every N's under ``by_concurrency``;
2. connector: the same number of CloudEvents on a normalised topic (real Kafka), delivered
   by the connector runtime (real PostgreSQL: state hash written per change, change
   detection, breaker, audit log line per call rendered as JSON) with the same concurrency;
   deliveries/s from assignment to the last one applied;
3. bound: the least a connector must do per delivery (bench.minimal_connector: consume,
   validate, state, hash, PUT, one state upsert per batch; no audit, span, metric,
   breaker or ordering) on the same events, between the two ceiling runs: the most any
   connector doing the job gets here, and what the runtime's operability costs;
4. scaling out (``BENCH_INSTANCES``, default 2): the throughput run again with 1 and
   with N instance processes in one consumer group (bench.connector_instances), from the
   first record produced to the last state row written, CPU summed over the instances;
5. change detection: a seeded stream of updates, "touches" (only ``updated_at`` moves),
   echoes from the destination's own source and late re-sends; the share of events that
   caused no call.

Loopback only. Results: bench/results/connectors.json.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import orjson
import psycopg
from confluent_kafka import Producer

from bench import connector_instances, minimal_connector
from bench.common import ROOT, stop, wait_http, write_result
from connectors.alerts import Alerter, LoggingAlertSink
from connectors.config import parse_connectors
from connectors.metrics import ConnectorMetrics
from connectors.runner import ConnectorRunner
from connectors.service import supervise
from hookline.db import apply_migrations
from hookline.kafka_clients import ensure_topics, producer_config
from hookline.logs import configure_logging
from hookline.metrics import new_registry
from hookline.runtime import tune_garbage_collector
from hookline.settings import LogSettings, Settings
from hookline.topics import Topics
from sandbox.destination_api import TOKEN
from tests.fakes.connector_harness import customer_event, until
from tests.kafka_topics import topics_deleted_afterwards
from tests.ports import free_port

# Long enough that the consumer's first fetch and the ceiling's connection set-up are a
# small part of each window (at 5,000 the ceiling's window was under a second: noisy).
EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))
CONCURRENCIES = [int(n) for n in os.environ.get("BENCH_CONCURRENCY", "32,256").split(",")]
#: Calls in flight of the phases run once (scaling out, change detection).
CONCURRENCY = CONCURRENCIES[0]
INSTANCES = int(os.environ.get("BENCH_INSTANCES", "2"))
STREAM_EVENTS = int(os.environ.get("BENCH_STREAM_EVENTS", "3000"))
STREAM_ENTITIES = 500
#: Composition of the stream with repeats (shares of events after each entity's first).
MIX = {"update": 0.40, "touch": 0.35, "echo": 0.15, "late": 0.10}


@contextmanager
def fake_api() -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "sandbox.destination_api", str(port)]
    process = subprocess.Popen(argv, cwd=ROOT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base_url}/_stats")
        yield base_url
    finally:
        stop(process)


@contextmanager
def fresh_database(settings: Settings) -> Iterator[Settings]:
    name = f"bench{uuid.uuid4().hex[:10]}"
    admin = settings.postgres.conninfo()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    bench = settings.model_copy(
        update={"postgres": settings.postgres.model_copy(update={"database": name})}
    )
    apply_migrations(bench.postgres.conninfo())
    try:
        yield bench
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_topics(settings: Settings) -> Iterator[Settings]:
    prefix = f"bench{uuid.uuid4().hex[:10]}"
    kafka = settings.kafka.model_copy(update={"topic_prefix": prefix})
    ensure_topics(kafka, Topics(prefix).core(kafka.default_partitions))
    with topics_deleted_afterwards(kafka, prefix):
        yield settings.model_copy(update={"kafka": kafka})


async def raw_ceiling(base_url: str, concurrency: int) -> dict[str, float]:
    """The same PUTs (bodies, headers) from a bare aiohttp session, bodies built in
    advance: the most a client gets out of the fake."""
    queue: asyncio.Queue[tuple[str, bytes, dict[str, str]]] = asyncio.Queue()
    for n in range(EVENTS):
        data = customer_event(f"raw{n}", 1).data
        body = orjson.dumps(data.model_dump(mode="json", exclude={"updated_at"}))
        headers = {
            "Authorization": f"Bearer {TOKEN}",
            "Idempotency-Key": str(uuid.uuid4()),
            "X-Hookline-Version": data.updated_at.isoformat(),
            "X-Hookline-Source": "shop",
            "Content-Type": "application/json",
        }
        queue.put_nowait((f"{base_url}/customer/{data.id}", body, headers))

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            url, body, headers = queue.get_nowait()
            async with session.put(url, data=body, headers=headers) as resp:
                await resp.read()
                assert resp.status == 200

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started, cpu = time.perf_counter(), time.thread_time()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
    return {
        "requests": EVENTS,
        "seconds": round(elapsed, 3),
        "per_second": EVENTS / elapsed,
        # The event loop's thread: the client's own CPU per request (the stand-in apart).
        "cpu_ms_per_request": round(cpu * 1000 / EVENTS, 3),
    }


def produce(settings: Settings, events: list[Any]) -> None:
    producer = Producer(producer_config(settings.kafka, "bench"))
    topic = Topics(settings.kafka.topic_prefix).events("customer")
    for event in events:
        producer.produce(topic, key=event.subject.encode(), value=event.model_dump_json())
        producer.poll(0)
    assert producer.flush(30) == 0


def http_table(base_url: str, concurrency: int = CONCURRENCY) -> dict[str, Any]:
    return {
        "families": ["customer"],
        "concurrency": concurrency,
        "destination": {"type": "http_upsert", "base_url": base_url, "token": TOKEN},
    }


async def run_connector(
    settings: Settings, base_url: str, name: str, expected: int, concurrency: int = CONCURRENCY
) -> Run:
    """Run an HTTP connector until ``expected`` records are dealt with."""
    return await run_configured(settings, name, http_table(base_url, concurrency), expected)


def scale_out(settings: Settings, base_url: str) -> list[dict[str, float]]:
    """The throughput run with 1 and with ``INSTANCES`` instance processes."""
    runs = []
    for count in sorted({1, INSTANCES}):
        with fresh_topics(settings) as phase:
            args = {
                "prefix": phase.kafka.topic_prefix,
                "database": phase.postgres.database,
                "name": f"scale{count}",
                "table": http_table(base_url),
            }
            events = [customer_event(f"i{count}n{n}", 1) for n in range(EVENTS)]
            runs.append(
                connector_instances.measure(
                    phase, args, count, partial(produce, phase, events), EVENTS
                )
            )
    return runs


@dataclass(frozen=True)
class Run:
    seconds: float  # from the assignment to the last record dealt with
    cpu_seconds: float  # this process's, over the same span
    loop_cpu_seconds: float  # the event loop's thread's: its share of the span is how busy it was
    outcomes: dict[str, float]


async def run_configured(
    settings: Settings, name: str, table: dict[str, Any], expected: int
) -> Run:
    """Run the connector ``table`` configures until ``expected`` records are dealt with."""
    [config] = parse_connectors({"connectors": {name: table}}, {}).values()
    registry = new_registry()
    metrics = ConnectorMetrics(registry)
    alerter = Alerter(LoggingAlertSink(), metrics, 300)
    stop_event, runners = asyncio.Event(), list[ConnectorRunner]()
    task = asyncio.create_task(
        supervise(config, settings, metrics, alerter, stop_event, on_start=runners.append)
    )

    def outcomes() -> dict[str, float]:
        # The one counter, not the registry: collecting every metric ten times a second
        # cost the connector's event loop 2.4 % of its samples (py-spy), the bench's own
        # overhead counted against the runtime.
        return {
            s.labels["outcome"]: s.value
            for m in metrics.deliveries.collect()
            for s in m.samples
            if s.name.endswith("_total")
        }

    await until(lambda: bool(runners), 60, "the connector")
    await asyncio.wait_for(runners[0].assigned.wait(), 60)
    started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    deadline = started + 900
    while sum(outcomes().values()) < expected:  # seldom: collecting costs this process CPU
        assert time.perf_counter() < deadline, "not every record was dealt with"
        await asyncio.sleep(0.1)
    run = Run(
        time.perf_counter() - started,
        time.process_time() - cpu,
        time.thread_time() - loop_cpu,
        outcomes(),
    )
    stop_event.set()
    await task
    return run


def repeat_stream(seed: int = 7) -> tuple[list[Any], dict[str, int]]:
    """Per entity a first snapshot, then updates, touches, echoes and late re-sends."""
    rng = random.Random(seed)
    latest: dict[int, tuple[float, str]] = {}
    events, kinds = [], dict.fromkeys(["first", *MIX], 0)
    clock = 0.0
    while len(events) < STREAM_EVENTS:
        clock += 1
        n = rng.randrange(STREAM_ENTITIES)
        kind = "first" if n not in latest else rng.choices(list(MIX), list(MIX.values()))[0]
        version, phone = latest.get(n, (clock, f"p{clock:g}"))
        if kind in {"first", "update"}:
            version, phone = clock, f"p{clock:g}"
        elif kind in {"touch", "echo"}:
            version = clock
        else:  # late: an older change arriving after a newer one
            version, phone = version - 0.5, f"late{clock:g}"
        source = "crm" if kind == "echo" else "shop"
        events.append(customer_event(f"s{n}", version, source=source, phone=phone))
        if kind != "late":
            latest[n] = (version, phone)
        kinds[kind] += 1
    return events, kinds


async def measure(settings: Settings) -> dict[str, Any]:
    """Each phase on topics of its own (a connector reads its topic from the start), each
    concurrency against a fresh stand-in (it keeps every entity and idempotency key the
    phases before wrote)."""
    by_concurrency = {}
    for n in CONCURRENCIES:
        with fake_api() as base_url:
            by_concurrency[n] = await throughput(settings, base_url, n)
    with fake_api() as base_url:
        return await rest(settings, base_url, by_concurrency)


async def rest(
    settings: Settings, base_url: str, by_concurrency: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """The phases run once, and the results."""
    stream, kinds = repeat_stream()
    with fresh_topics(settings) as phase:
        produce(phase, stream)
        repeats = await run_connector(phase, base_url, "repeats", len(stream))
    result = {
        "config": {"events": EVENTS, "concurrency": CONCURRENCY, "cpus": os.cpu_count()},
        "load_average": os.getloadavg(),
        **by_concurrency[CONCURRENCY],
        "by_concurrency": {str(n): figures for n, figures in by_concurrency.items()},
        "change_detection": change_detection(kinds, repeats),
    }
    if INSTANCES > 1:
        runs = await asyncio.to_thread(scale_out, settings, base_url)
        result["scale_out"] = {
            "runs": runs,
            "speed_up": runs[-1]["per_second"] / runs[0]["per_second"],
        }
    return result


async def throughput(settings: Settings, base_url: str, concurrency: int) -> dict[str, Any]:
    """The ceiling, the connector runtime and the bound, ``concurrency`` calls in flight."""
    # The ceiling before and after the others, their mean the baseline: a shared
    # machine's speed drifts over a run.
    before = await raw_ceiling(base_url, concurrency)
    with fresh_topics(settings) as phase:
        produce(phase, [customer_event(f"t{concurrency}n{n}", 1) for n in range(EVENTS)])
        run = await run_connector(phase, base_url, f"throughput{concurrency}", EVENTS, concurrency)
    assert run.outcomes.get("applied") == EVENTS, run.outcomes
    with fresh_topics(settings) as phase:
        produce(phase, [customer_event(f"m{concurrency}n{n}", 1) for n in range(EVENTS)])
        bound = await minimal_connector.run(phase, base_url, EVENTS, concurrency)
    after = await raw_ceiling(base_url, concurrency)
    ceiling = {
        "per_second": (before["per_second"] + after["per_second"]) / 2,
        "cpu_ms_per_request": (before["cpu_ms_per_request"] + after["cpu_ms_per_request"]) / 2,
        "before": before,
        "after": after,
    }
    per_second = EVENTS / run.seconds
    return {
        "raw_aiohttp_ceiling": ceiling,
        "connector": {
            "deliveries": EVENTS,
            "seconds": round(run.seconds, 3),
            "per_second": per_second,
            "cpu_ms_per_delivery": round(run.cpu_seconds * 1000 / EVENTS, 3),
            "event_loop_busy_share": round(run.loop_cpu_seconds / run.seconds, 3),
            "share_of_ceiling": per_second / ceiling["per_second"],
            # The steadier figure on a shared machine: the event loop's CPU per delivery
            # over the bare client's per request (0.5x the ceiling needs about 2 or less).
            "loop_cpu_to_ceiling_cpu": round(
                run.loop_cpu_seconds * 1000 / EVENTS / ceiling["cpu_ms_per_request"], 3
            ),
        },
        "minimal_loop_bound": bound
        | {
            "share_of_ceiling": bound["per_second"] / ceiling["per_second"],
            "connector_to_bound": per_second / bound["per_second"],
            "loop_cpu_to_ceiling_cpu": round(
                bound["loop_cpu_ms_per_delivery"] / ceiling["cpu_ms_per_request"], 3
            ),
        },
    }


def change_detection(kinds: dict[str, int], repeats: Run) -> dict[str, Any]:
    events = sum(kinds.values())
    outcomes = repeats.outcomes
    calls = outcomes.get("applied", 0) + outcomes.get("retried", 0)
    return {
        "events": events,
        "stream_composition": kinds,
        "outcomes": outcomes,
        "calls_made": calls,
        "calls_avoided_share": 1 - calls / events,
        "seconds": round(repeats.seconds, 3),
        "events_per_second": events / repeats.seconds,
        "cpu_ms_per_event": round(repeats.cpu_seconds * 1000 / events, 3),
    }


def main() -> None:
    # The audit log is part of the cost: rendered as JSON, written to nowhere.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    configure_logging(LogSettings(level="INFO", format="json"), stream=devnull)
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    with fresh_database(base) as settings:
        tune_garbage_collector()  # as the connectors service does at start-up
        result = asyncio.run(measure(settings))
    path = write_result("connectors", result)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    print(f"written to {path}")


if __name__ == "__main__":
    main()
