"""Scaling out the connector: N instances (processes, one consumer group) on one topic.

Each instance is ``python -m bench.connector_instances <json>``: one HTTP connector run by
the service's own ``supervise``, printing how many partitions it holds whenever that
changes. The parent starts the instances one after the other, waits until the group is
stable (every instance holds partitions, together all of them), produces the events and
measures from the first record produced to the last state row written (PostgreSQL), with
the CPU of every instance process over the same span (``/proc``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import psycopg

from bench.common import ROOT, stop
from hookline.settings import Settings

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


@contextmanager
def instances(args: dict[str, Any], count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` instance processes, each started once the ones before it hold partitions;
    yields once every one holds some and together they hold what the first held alone."""
    procs: list[subprocess.Popen[bytes]] = []
    held: dict[int, int] = {}
    try:
        total = 0
        for n in range(count):
            argv = [sys.executable, "-m", "bench.connector_instances", json.dumps(args)]
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE)
            procs.append(proc)
            _read_until(procs, held, lambda: held.get(n, 0) > 0)  # noqa: B023 - called now
            total = total or held[0]  # the first instance alone holds every partition
        _read_until(
            procs,
            held,
            lambda: len(held) == count and min(held.values()) > 0 and sum(held.values()) == total,
        )
        yield procs
    finally:
        for proc in procs:
            stop(proc)


def _read_until(procs: list[subprocess.Popen[bytes]], held: dict[int, int], done: Any) -> None:
    """Read the instances' ``held <n>`` lines until ``done()`` (60 s at most)."""
    deadline = time.monotonic() + 60
    os.set_blocking(procs[-1].stdout.fileno(), False)  # type: ignore[union-attr]
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the group did not settle: {held}")
        for index, proc in enumerate(procs):
            for line in _lines(proc.stdout):
                if line.startswith("held "):
                    held[index] = int(line.split()[1])
        time.sleep(0.05)


def _lines(stream: IO[bytes] | None) -> list[str]:
    if stream is None:
        return []
    return (stream.read() or b"").decode().splitlines()


def measure(
    settings: Settings,
    args: dict[str, Any],
    count: int,
    produce: Any,
    expected: int,
) -> dict[str, float]:
    """Run ``count`` instances; deliveries/s and CPU ms per delivery (all instances)."""
    with instances(args, count) as procs:
        cpu = sum(_cpu_seconds(p.pid) for p in procs)
        started = time.perf_counter()
        produce()
        conninfo = settings.postgres.conninfo()
        query = "SELECT count(*) FROM connector_entity_state WHERE connector = %s"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            while True:
                row = conn.execute(query, (args["name"],)).fetchone()
                if row is not None and row[0] >= expected:
                    break
                assert time.perf_counter() - started < 900, "not every record was delivered"
                time.sleep(0.05)
        seconds = time.perf_counter() - started
        cpu = sum(_cpu_seconds(p.pid) for p in procs) - cpu
    return {
        "instances": count,
        "deliveries": expected,
        "seconds": round(seconds, 3),
        "per_second": expected / seconds,
        "cpu_ms_per_delivery": round(cpu * 1000 / expected, 3),
    }


# --- one instance (the child process) ------------------------------------------------------


async def _run_instance(args: dict[str, Any]) -> None:
    from connectors.alerts import Alerter, LoggingAlertSink
    from connectors.config import parse_connectors
    from connectors.metrics import ConnectorMetrics
    from connectors.runner import ConnectorRunner
    from connectors.service import supervise
    from hookline.metrics import new_registry

    base = Settings(_env_file=None)  # type: ignore[call-arg]
    kafka = base.kafka.model_copy(update={"topic_prefix": args["prefix"]})
    postgres = base.postgres.model_copy(update={"database": args["database"]})
    settings = base.model_copy(update={"kafka": kafka, "postgres": postgres})
    [config] = parse_connectors({"connectors": {args["name"]: args["table"]}}, {}).values()
    metrics = ConnectorMetrics(new_registry())
    alerter = Alerter(LoggingAlertSink(), metrics, 300)
    stop_event, runners = asyncio.Event(), list[ConnectorRunner]()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop_event.set)
    task = asyncio.create_task(
        supervise(config, settings, metrics, alerter, stop_event, on_start=runners.append)
    )
    held = -1
    while not task.done():
        now = len(runners[-1].partitions()) if runners else 0
        if now != held:
            held = now
            print(f"held {held}", flush=True)
        await asyncio.sleep(0.1)
    await task


def main() -> None:
    from hookline.logs import configure_logging
    from hookline.settings import LogSettings

    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    configure_logging(LogSettings(level="INFO", format="json"), stream=devnull)
    asyncio.run(_run_instance(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
