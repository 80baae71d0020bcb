"""End to end: receipt at the ingress -> warehouse row committed, every stage on this machine.

The ingress, the processors (faust worker) and the connectors (the ``warehouse`` connector
only: families order, customer, payment, message, no vendor stand-ins) run as processes
against the real broker and a fresh PostgreSQL database. This process is the load: open
loop (requests start on a fixed schedule, whatever the answers do) at a steady rate for
``BENCH_SECONDS`` (default 20) per rate, mixed providers (bench/pipeline_traffic.py), each
request a new entity, so each produces exactly one new warehouse row.

Latency of an event: the row's ``synced_at`` (PostgreSQL's ``now()`` of the upserting
transaction, a hair before its commit) minus the moment this process sent the request
(``from_send``, an upper bound of the ingress's receipt on loopback) and minus the moment
the 200 came back (``from_answer``). Steps: ``BENCH_RATES`` (default 500,1000), then
``BENCH_MAX_RATES`` (default 1500,2000,3000) until one is not sustained: sustained = every
request answered 200, the sender kept >= 95 % of the rate, every row arrived, p99 (from
send) <= 2 s (a backlog would grow it); when the last of ``BENCH_RATES`` is not
sustained, the search goes down instead (``BENCH_LOWER_RATES``, default 250,100,50) to the
first rate that is. Each step also reports the warehouse's commit rate.

Beside it: the stages' own figures from bench/results/{ingress,processors,connectors,
warehouse}.json
and the load average (the machine is shared). Results: bench/results/pipeline.json.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psycopg

from bench.common import RESULTS, ROOT, stop, wait_http, write_result
from bench.pipeline_traffic import Request, build
from hookline.settings import Settings
from ingress.sources import load_sources
from launcher.demo_config import packaged
from tests.conftest import create_database, drop_database
from tests.integration.demo_run import metric_total
from tests.kafka_topics import delete_topics_with_prefix
from tests.ports import free_port

SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
RATES = [int(r) for r in os.environ.get("BENCH_RATES", "500,1000").split(",")]
MAX_RATES = [int(r) for r in os.environ.get("BENCH_MAX_RATES", "1500,2000,3000").split(",")]
LOWER_RATES = [int(r) for r in os.environ.get("BENCH_LOWER_RATES", "250,100,50").split(",")]
ARRIVAL_TIMEOUT = 180.0  # after the last request, for the rows (and any backlog) to arrive
SUSTAINED_P99_SECONDS = 2.0
WAREHOUSE_ONLY = """
[connectors.warehouse]
families = ["order", "customer", "payment", "message"]
concurrency = 256  # >= 2 x batch_size: two warehouse transactions in flight

[connectors.warehouse.destination]
type = "warehouse"
batch_size = 100
"""


@dataclass
class Sent:
    request: Request
    sent: float  # time.time() when the request went out
    answered: float
    status: int


class Pipeline:
    """The three services as processes, on this run's topics and database."""

    def __init__(self, settings: Settings, database: str, tmp: Path) -> None:
        self.ports = {n: free_port() for n in ("ingress", "metrics", "processors", "connectors")}
        self.prefix = f"bench{uuid.uuid4().hex[:8]}"
        self.kafka = settings.kafka.model_copy(update={"topic_prefix": self.prefix})
        (tmp / "connectors.toml").write_text(WAREHOUSE_ONLY)
        self.env = {
            **os.environ,
            "HOOKLINE_KAFKA__TOPIC_PREFIX": self.prefix,
            "HOOKLINE_POSTGRES__DATABASE": database,
            "HOOKLINE_INGRESS__PORT": str(self.ports["ingress"]),
            "HOOKLINE_INGRESS__METRICS_PORT": str(self.ports["metrics"]),
            "HOOKLINE_INGRESS__SOURCES_FILE": str(packaged("sources.toml")),
            "HOOKLINE_PROCESSORS__WEB_PORT": str(self.ports["processors"]),
            "HOOKLINE_PROCESSORS__DATA_DIR": str(tmp / "state"),
            "HOOKLINE_CONNECTORS__CONFIG_FILE": str(tmp / "connectors.toml"),
            "HOOKLINE_CONNECTORS__METRICS_PORT": str(self.ports["connectors"]),
            "HOOKLINE_LOG__LEVEL": "WARNING",
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.url = f"http://127.0.0.1:{self.ports['ingress']}"

    def start(self) -> None:
        me = [sys.executable, "-m", "launcher.cli"]
        subprocess.run([*me, "setup"], cwd=ROOT, env=self.env, check=True, timeout=120)
        for service in ("ingress", "processors", "connectors"):
            self.processes.append(subprocess.Popen([*me, service], cwd=ROOT, env=self.env))
        wait_http(f"{self.url}/readyz", timeout=60)
        wait_http(f"http://127.0.0.1:{self.ports['processors']}/healthz", timeout=120)
        wait_http(f"http://127.0.0.1:{self.ports['connectors']}/healthz", timeout=120)

    def progress(self) -> dict[str, float]:
        """Records forwarded by the processors, rows written by the connector, so far."""
        forwarded = metric_total(
            self.ports["processors"], "hookline_processor_records_total", outcome="forwarded"
        )
        written = metric_total(
            self.ports["connectors"], "hookline_connector_deliveries_total", outcome="applied"
        )
        return {"forwarded_by_processors": forwarded, "written_by_warehouse": written}

    def stop(self) -> None:
        """Stop the services, then delete this run's topics."""
        for process in reversed(self.processes):
            stop(process)
        delete_topics_with_prefix(self.kafka, self.prefix)


async def send_open_loop(url: str, requests: list[Request], rate: float) -> list[Sent]:
    """Start request ``i`` at ``start + i / rate`` whatever the earlier ones are doing."""
    connector = aiohttp.TCPConnector(limit=1024)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(request: Request) -> Sent:
            sent = time.time()
            try:
                async with session.post(
                    url + request.path, data=request.body, headers=request.headers
                ) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            return Sent(request, sent, time.time(), status)

        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        tasks = []
        for i, request in enumerate(requests):
            delay = start + i / rate - loop.time()
            await asyncio.sleep(max(delay, 0))  # 0: yield to the requests in flight
            tasks.append(asyncio.create_task(one(request)))
        return list(await asyncio.gather(*tasks))


def synced_at(conninfo: str, sent: list[Sent]) -> dict[str, float]:
    """row id -> ``synced_at`` (epoch seconds) of the rows of these requests present now."""
    found: dict[str, float] = {}
    by_table: dict[str, list[str]] = {}
    for item in sent:
        by_table.setdefault(item.request.table, []).append(item.request.row_id)
    with psycopg.connect(conninfo) as conn:
        for table, ids in by_table.items():
            rows = conn.execute(
                f"SELECT id, synced_at FROM warehouse.{table} WHERE id = ANY(%s)",  # noqa: S608 - our table names
                (ids,),
            ).fetchall()
            found |= {row_id: at.timestamp() for row_id, at in rows}
    return found


def wait_for_rows(conninfo: str, sent: list[Sent]) -> dict[str, float]:
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    wanted = {s.request.row_id for s in sent if s.status == 200}
    found = synced_at(conninfo, sent)
    while not wanted <= set(found) and time.monotonic() < deadline:
        time.sleep(1)
        found = synced_at(conninfo, sent)
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def summarise(rate: int, sent: list[Sent], found: dict[str, float]) -> dict[str, Any]:
    ok = [s for s in sent if s.status == 200]
    arrived = [s for s in ok if s.request.row_id in found]
    from_send = [found[s.request.row_id] - s.sent for s in arrived]
    from_answer = [found[s.request.row_id] - s.answered for s in arrived]
    sends = [s.sent for s in sent]
    commits = [found[s.request.row_id] for s in arrived]
    send_rate = len(sent) / max(max(sends) - min(sends), 1e-9)
    commit_span = max(commits) - min(commits) if len(commits) > 1 else float("nan")
    step = {
        "target_rate": rate,
        "requests": len(sent),
        "statuses": {
            str(k): sum(1 for s in sent if s.status == k) for k in {s.status for s in sent}
        },
        "achieved_send_rate": round(send_rate, 1),
        "rows_arrived": len(arrived),
        "rows_missing": len(ok) - len(arrived),
        "warehouse_commit_rate": round(len(commits) / commit_span, 1) if commits else 0.0,
        "latency_from_send_ms": _ms(from_send),
        "latency_from_answer_ms": _ms(from_answer),
        "ingress_answer_ms": _ms([s.answered - s.sent for s in ok]),
    }
    step["sustained"] = bool(
        len(ok) == len(sent)
        and send_rate >= 0.95 * rate
        and step["rows_missing"] == 0
        and percentile(from_send, 0.99) <= SUSTAINED_P99_SECONDS
    )
    return step


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50) * 1000, 1),
        "p99": round(percentile(values, 0.99) * 1000, 1),
        "max": round(max(values, default=float("nan")) * 1000, 1),
    }


def run_step(pipeline: Pipeline, conninfo: str, rate: int, tag: int) -> dict[str, Any]:
    sources = load_sources(packaged("sources.toml"), {})
    count = int(rate * SECONDS)
    requests = [build(n, tag, sources) for n in range(count)]
    load_before = os.getloadavg()
    before = pipeline.progress()
    began = time.monotonic()
    sent = asyncio.run(send_open_loop(pipeline.url, requests, rate))
    at_end = pipeline.progress()
    found = wait_for_rows(conninfo, sent)
    step = summarise(rate, sent, found)
    step["step_wall_seconds"] = round(time.monotonic() - began, 1)
    # where a backlog waits when the sending stops: in the processors or the connector
    step["at_end_of_sending"] = {k: at_end[k] - before[k] for k in at_end}
    step["load_average_before"] = [round(x, 2) for x in load_before]
    step["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(f"pipeline @ {rate}/s: {orjson.dumps(step).decode()}", flush=True)
    return step


def stage_ceilings() -> dict[str, Any]:
    """The stages' own figures from the other benchmarks' latest results."""

    def read(name: str) -> dict[str, Any]:
        path = RESULTS / f"{name}.json"
        return orjson.loads(path.read_bytes()) if path.exists() else {}

    ingress, processors, connectors = read("ingress"), read("processors"), read("connectors")
    warehouse = read("warehouse")
    return {
        "ingress_peak_requests_per_second": ingress.get("ingress_peak", {}).get(
            "requests_per_second"
        ),
        "ingress_measured_at": ingress.get("measured_at"),
        "processors_faust_records_per_second": processors.get("faust_worker", {}).get(
            "records_per_second"
        ),
        "processors_measured_at": processors.get("measured_at"),
        "connector_deliveries_per_second": connectors.get("connector", {}).get("per_second"),
        "connectors_note": "runner against a local HTTP stand-in, not the warehouse",
        "connectors_measured_at": connectors.get("measured_at"),
        "warehouse_connector_rows_per_second": warehouse.get("connector", {}).get("per_second"),
        "warehouse_measured_at": warehouse.get("measured_at"),
    }


def main() -> None:
    settings = Settings()
    database = f"bench_{uuid.uuid4().hex[:8]}"
    postgres = create_database(settings.postgres, database)
    conninfo = postgres.conninfo()
    steps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(settings, database, Path(tmp))
        try:
            pipeline.start()
            run_step(pipeline, conninfo, 20, 0)  # warm-up (consumer groups, connections)
            for tag, rate in enumerate(RATES, 1):
                steps.append(run_step(pipeline, conninfo, rate, tag))
            # the maximum sustained rate: upwards from the last rate if it held, else down
            search = MAX_RATES if steps[-1]["sustained"] else LOWER_RATES
            for tag, rate in enumerate(search, len(RATES) + 1):
                steps.append(run_step(pipeline, conninfo, rate, tag))
                if steps[-1]["sustained"] == (search is LOWER_RATES):
                    break
        finally:
            pipeline.stop()
            drop_database(settings.postgres, database)
    sustained = [s["target_rate"] for s in steps if s["sustained"]]
    result = {
        "setup": {
            "stages": "ingress (1 worker) -> processors (1 faust worker) -> connectors "
            "(warehouse connector only), real Kafka and PostgreSQL, all on this machine",
            "load": "open loop from the benchmark's own process, mixed providers "
            "(Shopify orders/customers, Stripe payments, Telegram messages, WooCommerce "
            "orders), one new warehouse row per request",
            "latency": "warehouse synced_at minus the request's send time (from_send) or "
            "the 200's arrival (from_answer)",
            "seconds_per_rate": SECONDS,
            "sustained_means": f"all 200, >=95 % of the rate sent, every row arrived, "
            f"p99 from send <= {SUSTAINED_P99_SECONDS} s",
        },
        "steps": steps,
        "max_sustained_rate": max(sustained, default=0),
        "goal": "p99 <= 1 s at 1,000 events/s",
        "stage_ceilings": stage_ceilings(),
    }
    path = write_result("pipeline", result)
    print(f"pipeline: max sustained {result['max_sustained_rate']}/s -> {path}")


if __name__ == "__main__":
    main()
