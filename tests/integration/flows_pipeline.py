"""The whole pipeline running the packaged flows config, for tests/integration/test_flows.py.

Ingress, processors and connectors run as subprocesses (what ``hookline run`` starts) on a
topic prefix and database of their own; the stand-in HubSpot and Shopify run in-process,
on an event loop in a thread, so a test reads and edits their state directly (as a user
editing the CRM or the shop would). Webhooks are signed with each provider module's
``sign`` twin and the demo sources' secrets, and posted to the ingress.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from psycopg.rows import dict_row

from hookline.db import apply_migrations
from hookline.kafka_clients import admin_config, consumer_config, ensure_topics
from hookline.settings import KafkaSettings, PostgresSettings, Settings
from hookline.topics import Topics
from ingress.providers import REGISTRY
from ingress.sources import load_sources
from processors.app import app_id
from sandbox.hubspot import FakeHubSpot
from sandbox.shopify import TOKEN as SHOP_TOKEN
from sandbox.shopify import FakeShopify
from tests.conftest import ROOT, drop_database, unique
from tests.ingress_client import post_webhook
from tests.integration.demo_run import DEMO_CONFIG, flows_secrets
from tests.kafka_probe import group_lag, records_written
from tests.kafka_topics import delete_topics_with_prefix
from tests.ports import free_port

T = TypeVar("T")
WAIT_SECONDS = 120.0
#: what ``hookline run`` starts, each as a process of its own
SERVICES = {
    "ingress": [sys.executable, "-m", "launcher.cli", "ingress"],
    "processors": [sys.executable, "-m", "processors"],
    "connectors": [sys.executable, "-m", "launcher.cli", "connectors"],
}


class Fakes:
    """FakeHubSpot and FakeShopify served by a loop in a thread; ``call`` runs a function
    on that loop, so reads and edits never race a request being answered."""

    def __init__(self) -> None:
        self.hubspot = FakeHubSpot()
        self.shop = FakeShopify()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._await(self.hubspot.start())
        self._await(self.shop.start())

    def stop(self) -> None:
        self._await(self.hubspot.close())
        self._await(self.shop.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def call(self, function: Callable[[], T]) -> T:
        async def run() -> T:
            return function()

        return self._await(run())

    def _await(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)


@dataclass
class Pipeline:
    """The running pipeline: post signed webhooks, wait until everything is delivered."""

    settings: Settings
    conninfo: str
    fakes: Fakes
    tmp: Path
    env: Mapping[str, str] = field(default_factory=dict)  # more settings for every service
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['ingress']}"

    def start(self) -> None:
        names = ("ingress", "metrics", "processors", "connectors", "telegram")
        self.ports = {n: free_port() for n in names}
        for name in SERVICES:
            self.launch(name)
        self.wait_until(lambda: self._get(f"{self.ingress_url}/readyz") == 200, "ingress ready")

    def launch(self, name: str) -> None:
        """Start one service (again, after :meth:`kill`), on the same ports and state."""
        with (self.tmp / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                SERVICES[name], cwd=ROOT, env=self._env(), stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self, name: str) -> None:
        """``kill -9`` one service: no shutdown, no flush, no commit."""
        process = self.processes[name]
        process.kill()
        process.wait(timeout=30)

    def _env(self) -> dict[str, str]:
        urls = {"hubspot": self.fakes.hubspot.base_url, "shopify": self.fakes.shop.base_url}
        ports = {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()}
        ports["telegram"] = self.ports["telegram"]  # alerts: nothing expected in these tests
        return {
            **os.environ,
            "HOOKLINE_KAFKA__TOPIC_PREFIX": self.settings.kafka.topic_prefix,
            "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(self.settings.kafka.default_partitions),
            "HOOKLINE_POSTGRES__DATABASE": self.settings.postgres.database,
            "HOOKLINE_INGRESS__PORT": str(self.ports["ingress"]),
            "HOOKLINE_INGRESS__METRICS_PORT": str(self.ports["metrics"]),
            "HOOKLINE_INGRESS__SOURCES_FILE": str(DEMO_CONFIG / "sources.toml"),
            "HOOKLINE_PROCESSORS__WEB_PORT": str(self.ports["processors"]),
            "HOOKLINE_PROCESSORS__DATA_DIR": str(self.tmp / "state"),
            "HOOKLINE_CONNECTORS__CONFIG_FILE": str(DEMO_CONFIG / "connectors.toml"),
            "HOOKLINE_CONNECTORS__METRICS_PORT": str(self.ports["connectors"]),
            **flows_secrets(ports),
            "HOOKLINE_SECRETS__DEMO_HUBSPOT_TOKEN": self.fakes.hubspot.private_token,
            "HOOKLINE_SECRETS__DEMO_SHOPIFY_TOKEN": SHOP_TOKEN,
            "HOOKLINE_LOG__FORMAT": "json",
            **self.env,
        }

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)

    # --- webhooks ----------------------------------------------------------------------

    def sign(self, source: str, body: bytes, **extra: str) -> dict[str, str]:
        """Headers the provider of ``source`` would send with ``body``, signed now."""
        config = load_sources(DEMO_CONFIG / "sources.toml", {})[source]
        if config.provider == "hubspot":
            extra.setdefault("url", f"{self.ingress_url}/webhooks/{source}")
        secret = config.secrets[0].get_secret_value()
        return REGISTRY[config.provider].sign(body, secret, time.time(), **extra)

    def post(self, source: str, body: bytes, headers: dict[str, str]) -> int:
        return post_webhook(f"{self.ingress_url}/webhooks/{source}", body, headers, 30)

    def send(self, source: str, body: bytes, **extra: str) -> tuple[bytes, dict[str, str]]:
        """Sign and post; the ingress must accept it. Returns what was sent, for redelivery."""
        headers = self.sign(source, body, **extra)
        status = self.post(source, body, headers)
        assert status == 200, f"{source} webhook answered {status}"
        return body, headers

    # --- waiting -------------------------------------------------------------------------

    def wait_until(
        self, condition: Callable[[], bool], what: str, within: float = WAIT_SECONDS
    ) -> None:
        deadline = time.monotonic() + within
        while not condition():
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited:\n{self.log_tail(name)}"
            assert time.monotonic() < deadline, f"not reached: {what}\n{self.log_tail()}"
            time.sleep(0.3)

    def settle(self, within: float = WAIT_SECONDS) -> None:
        """Wait until every accepted webhook is processed and every change delivered: the
        processors and every connector (retry topics included) have committed all they
        read. Processors commit a record only after what it produced was acknowledged."""
        try:
            self.wait_until(lambda: not self._lags(), "pipeline settled", within)
        except AssertionError as failed:  # say where: which group, topic and partition
            lags = self._lags()
            groups = self._group_states(list(lags))
            raise AssertionError(f"{failed}\n--- lag left: {lags}\n--- groups: {groups}") from None

    def _group_states(self, groups: list[str]) -> dict[str, str]:
        """Each group's state and members (client, partitions held): a rebalance that
        never completes reads differently from members that hold their partitions."""
        if not groups:
            return {}
        admin = AdminClient(admin_config(self.settings.kafka, "settle-probe"))
        states: dict[str, str] = {}
        for group, future in admin.describe_consumer_groups(groups, request_timeout=10).items():
            try:
                found = future.result()
            except KafkaException as exc:
                states[group] = f"not described: {exc}"
                continue
            members = [
                f"{m.client_id}@{m.host}:{len(m.assignment.topic_partitions)}"
                for m in found.members
            ]
            states[group] = f"{found.state} members={members}"
        return states

    def duplicates(self) -> float:
        """Raw records the processors dropped as redeliveries, so far."""
        return self._metric(self.ports["processors"], "hookline_processor_records_total",
                            'outcome="duplicate"')  # fmt: skip

    def _lags(self) -> dict[str, dict[str, int]]:
        """Per consumer group, the partitions whose committed offset is behind (topic[p]:
        records); empty once everything is committed."""
        lags: dict[str, dict[str, int]] = {}
        for group, partitions in self._consumed().items():
            lag = group_lag(self.settings.kafka, group, partitions) if partitions else {}
            behind = {f"{topic}[{p}]": n for (topic, p), n in lag.items() if n}
            if behind:
                lags[group] = behind
        return lags

    def committed_offsets(self) -> dict[str, dict[str, int]]:
        """Per consumer group, each partition's committed offset (topic[p]: offset)."""
        offsets: dict[str, dict[str, int]] = {}
        for group, partitions in self._consumed().items():
            probe = Consumer(consumer_config(self.settings.kafka, group, "offsets"))
            try:
                committed = probe.committed(partitions, timeout=10)
            finally:
                probe.close()
            offsets[group] = {f"{tp.topic}[{tp.partition}]": tp.offset for tp in committed}
        return offsets

    def _consumed(self) -> dict[str, list[TopicPartition]]:
        """The pipeline's consumer groups and the partitions each reads: the processors the
        raw topic; each connector its families' topics and its retry topics."""
        prefix = self.settings.kafka.topic_prefix
        wanted = {app_id(self.settings): {f"{prefix}.raw.webhooks"}}
        flows = tomllib.loads((DEMO_CONFIG / "connectors.toml").read_text())["connectors"]
        for name, table in flows.items():
            events = {f"{prefix}.events.{family}" for family in table["families"]}
            wanted[f"{prefix}.connector.{name}"] = events | {f"{prefix}.connector.{name}.retry"}
        probe = Consumer(consumer_config(self.settings.kafka, "flows-lag", "lag"))
        try:
            topics = probe.list_topics(timeout=10).topics
        finally:
            probe.close()
        consumed: dict[str, list[TopicPartition]] = {}
        for group, names in wanted.items():
            # the retry topic and its tiers (retry.5s, …): held retries are uncommitted
            found = [t for t in topics if t in names or t.split(".retry.")[0] + ".retry" in names]
            consumed[group] = [
                TopicPartition(t, p) for t in found for p in range(len(topics[t].partitions))
            ]
        return consumed

    def dead_letters(self) -> dict[str, int]:
        """Records written to every dead-letter topic of the pipeline's prefix, by topic."""
        probe = Consumer(consumer_config(self.settings.kafka, "flows-dlq", "dlq-probe"))
        try:
            names = list(probe.list_topics(timeout=10).topics)
        finally:
            probe.close()
        prefix = self.settings.kafka.topic_prefix + "."
        dlqs = [n for n in names if n.startswith(prefix) and n.endswith(".dlq")]
        return {name: records_written(self.settings.kafka, [name]) for name in dlqs}

    def where(self, needles: list[str]) -> dict[str, list[str]]:
        """Where each of ``needles`` is in the pipeline's topics: the records whose value
        contains it (topic[partition]@offset), and each partition's committed offset per
        consumer group, to tell which stage lost an event."""
        found: dict[str, list[str]] = {n: [] for n in needles}
        probe = Consumer(consumer_config(self.settings.kafka, "flows-where", "where"))
        try:
            prefix = self.settings.kafka.topic_prefix
            names = [t for t in probe.list_topics(timeout=10).topics if t.startswith(prefix)]
            for topic, partition, offset, value in _every_record(probe, names):
                for needle in needles:
                    if needle.encode() in value:
                        found[needle].append(f"{topic}[{partition}]@{offset}")
        finally:
            probe.close()
        return found

    # --- state ---------------------------------------------------------------------------

    def rows(self, query: str, *params: object) -> list[dict[str, Any]]:
        with psycopg.connect(self.conninfo, row_factory=dict_row) as conn:
            return conn.execute(query, params).fetchall()

    def deliveries(self, connector: str, outcome: str) -> float:
        labels = f'connector="{connector}"'
        return self._metric(self.ports["connectors"], "hookline_connector_deliveries_total",
                            labels, f'outcome="{outcome}"')  # fmt: skip

    def _metric(self, port: int, name: str, *labels: str) -> float:
        try:
            text = self._read(f"http://127.0.0.1:{port}/metrics")
        except OSError:
            return 0.0
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(label in line for label in labels):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def log_tail(self, name: str | None = None, lines: int = 40) -> str:
        names = [name] if name else list(self.processes)
        parts = []
        for n in names:
            path = self.tmp / f"{n}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {n}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    @staticmethod
    def _read(url: str) -> str:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    @staticmethod
    def _get(url: str) -> int:
        with suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
        return 0


@contextmanager
def running_pipeline(
    settings: Settings, conninfo: str, tmp: Path, env: Mapping[str, str] | None = None
) -> Iterator[Pipeline]:
    fakes = Fakes()
    fakes.start()
    pipeline = Pipeline(settings, conninfo, fakes, tmp, dict(env or {}))
    try:
        pipeline.start()
        yield pipeline
    finally:
        pipeline.stop()
        fakes.stop()


@contextmanager
def isolated_pipeline(
    base: Settings,
    kafka: KafkaSettings,
    postgres: PostgresSettings,
    tmp: Path,
    env: Mapping[str, str] | None = None,
) -> Iterator[Pipeline]:
    """:func:`running_pipeline` on a topic prefix and database of its own, both removed
    afterwards."""
    prefix, database = unique(), unique("db")
    kafka = kafka.model_copy(update={"topic_prefix": prefix, "default_partitions": 3})
    own_postgres = postgres.model_copy(update={"database": database})
    settings = base.model_copy(update={"kafka": kafka, "postgres": own_postgres})
    ensure_topics(kafka, Topics(prefix).core(3))
    with psycopg.connect(postgres.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    apply_migrations(own_postgres.conninfo())
    try:
        with running_pipeline(settings, own_postgres.conninfo(), tmp, env) as pipeline:
            yield pipeline
    finally:
        delete_topics_with_prefix(kafka, prefix)
        drop_database(postgres, database)


def _every_record(consumer: Consumer, topics: list[str]) -> Iterator[tuple[str, int, int, bytes]]:
    """Every record of ``topics`` from the start, read up to the end offsets seen first."""
    ends: dict[tuple[str, int], int] = {}
    for topic in topics:
        for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[(topic, p)] = high
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
    deadline = time.monotonic() + 60
    while ends and time.monotonic() < deadline:
        for msg in consumer.consume(500, 1.0):
            if msg.error() is not None:
                continue
            key = (msg.topic(), msg.partition())
            yield key[0], key[1], msg.offset(), msg.value() or b""
            if key in ends and msg.offset() + 1 >= ends[key]:
                del ends[key]
