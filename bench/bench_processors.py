"""Processor throughput against a plain confluent-kafka ceiling, and dedupe state size.

One run, the same records for both (two topic prefixes, each with its own copy):

1. faust: ``python -m processors`` as a subprocess (RocksDB dedupe table with changelog,
   normalise, fan out with ``acks=all``, no record acked before its outputs are) on
   ``BENCH_EVENTS`` raw records: Stripe, Shopify, Telegram and GitHub bodies with the
   ingress's raw headers, ~10% redeliveries of earlier events, none invalid. Timed by
   polling the worker's committed offsets: from its first commit (steady state; the
   records committed by then are left out) and from the process start (startup
   included) until all are committed. CPU from /proc, outcomes from its /metrics.
2. ceiling: the same work in a plain confluent-kafka loop in this process: consume a
   batch, dedupe in a dict, :func:`processors.pipeline.transform` with the same normaliser
   registry, produce (idempotent, ``acks=all``), flush (every delivery awaited), commit.
   No dead-letter path: no record fails. Its CPU includes librdkafka's threads.
3. dedupe state: the worker's RSS over its run and its table's keys and bytes once it
   exited; then faust's own :class:`~faust.stores.rocksdb.RocksDBOptions` (what the
   worker's table opens, TTL included) in a fresh process, one database per partition,
   worker-shaped keys and values up to ``BENCH_STORE_KEYS``: RSS and disk at each size,
   and after flushing the memtables.
4. Quix Streams (the Python alternative to faust, on confluent-kafka and RocksDB):
   bench/quix_variant.py as a subprocess in its own venv (``.run/bench-quix-venv``, made
   on first use: quixstreams' pins are not faust's) doing the worker's job: the project's
   ``Deduper`` over Quix's RocksDB state with its changelog, the same ``transform``, the
   same producer settings, at-least-once, a checkpoint every 1 s or 100 records as the
   worker commits. Timed like the worker from its group's committed offsets. Without the
   venv (no network: pip fails) or with ``BENCH_QUIX=0`` it is reported as skipped.

Loopback only; the bench topics and consumer groups are deleted at the end.
Results: bench/results/processors.json.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families

from bench.common import RESULTS, ROOT, write_result
from hookline.kafka_clients import admin_config, consumer_config, ensure_topics, producer_config
from hookline.settings import KafkaSettings, ProcessorSettings
from hookline.topics import EVENT_FAMILIES, Topics
from processors.normalisers import normalise
from processors.pipeline import transform
from schemas.raw import RawHeaders
from tests.kafka_probe import records_written
from tests.ports import free_port

EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))
#: faust workers in the consumer group (one process each, as a deployment would run them).
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
DUPLICATE_SHARE = 0.10
#: Sizes at which the dedupe store probe reads RSS and disk; past ~5 million keys the
#: first memtables (64 MiB per partition) are full and flushed.
STORE_KEYS = [
    int(n) for n in os.environ.get("BENCH_STORE_KEYS", "100000,1000000,2000000,6000000").split(",")
]
CEILING_BATCH = 1000
DRAIN_TIMEOUT = 240.0
RECEIVED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MIB = 1024 * 1024
HORIZON = float(ProcessorSettings().dedupe_horizon_seconds)
QUIX = os.environ.get("BENCH_QUIX", "1") != "0"
QUIX_VERSION = "3.28.1"
QUIX_VENV = ROOT / ".run" / "bench-quix-venv"
#: What bench/quix_variant.py imports besides quixstreams (the repo is on its PYTHONPATH).
QUIX_REQUIREMENTS = [f"quixstreams=={QUIX_VERSION}", "orjson", "pydantic", "pydantic-settings"]
QUIX_REQUIREMENTS += ["structlog"]
#: Kept from the previous results file: the issue's before/after history.
HISTORY_KEYS = ("issue14",)


@dataclass(frozen=True, slots=True)
class RawRecord:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


# --- the records --------------------------------------------------------------------------


def stripe_event(n: int, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    created = int(RECEIVED.timestamp()) - rng.randint(0, 3600)
    kind = rng.choice(["payment_intent.succeeded", "charge.succeeded", "customer.updated"])
    customer = f"cus_{n % 5000:014d}"
    if kind == "customer.updated":
        obj: dict[str, Any] = {
            "id": customer,
            "object": "customer",
            "email": f"buyer{n % 5000}@example.com",
            "name": f"Buyer {n % 5000}",
            "created": created - 86400,
            "address": {"line1": f"{n} Main St", "city": "Dublin", "country": "IE"},
            "metadata": {"plan": rng.choice(["free", "pro", "team"])},
        }
    else:
        prefix = "pi" if kind.startswith("payment_intent") else "ch"
        obj = {
            "id": f"{prefix}_{n:024d}",
            "object": "payment_intent" if prefix == "pi" else "charge",
            "amount": rng.randint(100, 500_000),
            "currency": rng.choice(["usd", "eur", "gbp", "jpy"]),
            "status": "succeeded",
            "customer": customer,
            "receipt_email": f"buyer{n % 5000}@example.com",
            "created": created - 5,
            "description": f"Order #{n}",
            "metadata": {"order_id": str(n)},
            "amount_refunded": 0,
            "refunded": False,
            "billing_details": {"email": f"buyer{n % 5000}@example.com"},
        }
    event_id = f"evt_{n:024d}"
    body = {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created,
        "livemode": True,
        "api_version": "2024-06-20",
        "pending_webhooks": 1,
        "request": {"id": f"req_{n:014d}", "idempotency_key": str(uuid.UUID(int=n))},
        "data": {"object": obj},
    }
    return event_id, kind, body


def shopify_event(n: int, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    updated = (RECEIVED - timedelta(seconds=rng.randint(0, 3600))).isoformat()
    if rng.random() < 0.3:
        product = {
            "id": 7_000_000 + n % 2000,
            "title": f"Product {n % 2000}",
            "vendor": "Acme",
            "product_type": "Widgets",
            "tags": "new, sale",
            "status": "active",
            "updated_at": updated,
            "created_at": updated,
            "variants": [
                {"id": 40_000_000 + n, "sku": f"SKU-{n}", "price": "19.99", "inventory_quantity": 7}
            ],
        }
        return str(uuid.UUID(int=n)), "products/update", product
    items = [
        {
            "id": 10_000_000 + n * 10 + i,
            "product_id": 7_000_000 + (n + i) % 2000,
            "sku": f"SKU-{(n + i) % 2000}",
            "name": f"Product {(n + i) % 2000}",
            "quantity": rng.randint(1, 3),
            "price": f"{rng.randint(5, 200)}.00",
        }
        for i in range(rng.randint(1, 4))
    ]
    order = {
        "id": 5_000_000_000 + n,
        "name": f"#{1000 + n}",
        "email": f"buyer{n % 5000}@example.com",
        "currency": "EUR",
        "total_price": "120.00",
        "subtotal_price": "100.00",
        "total_tax": "20.00",
        "financial_status": "paid",
        "fulfillment_status": None,
        "created_at": updated,
        "updated_at": updated,
        "tags": "web",
        "line_items": items,
        "shipping_address": {"address1": f"{n} Rue X", "city": "Paris", "zip": "75001"},
        "customer": {"id": 6_000_000 + n % 5000, "email": f"buyer{n % 5000}@example.com"},
    }
    return str(uuid.UUID(int=n)), "orders/create", order


def telegram_event(n: int, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    chat = {"id": -100_000 - n % 300, "type": "supergroup", "title": f"Group {n % 300}"}
    user = {"id": 900_000 + n % 1000, "is_bot": False, "first_name": "Ada", "username": "ada"}
    date = int(RECEIVED.timestamp()) - rng.randint(0, 600)
    message = {"message_id": n, "from": user, "chat": chat, "date": date, "text": f"hello {n}"}
    kind = "edited_message" if rng.random() < 0.2 else "message"
    if kind == "edited_message":
        message["edit_date"] = date + 30
    update_id = str(100_000_000 + n)
    return update_id, kind, {"update_id": int(update_id), kind: message}


def github_event(n: int, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    repo = {"id": 1_000 + n % 50, "full_name": f"acme/repo{n % 50}", "private": False}
    sender = {"id": 77 + n % 100, "login": f"dev{n % 100}", "type": "User"}
    if rng.random() < 0.5:
        body = {
            "ref": "refs/heads/main",
            "before": f"{n:040x}",
            "after": f"{n + 1:040x}",
            "commits": [{"id": f"{n + 1:040x}", "message": "fix", "author": {"name": "dev"}}],
            "repository": repo,
            "sender": sender,
        }
        return str(uuid.UUID(int=n)), "push", body
    issue = {
        "id": 3_000_000 + n,
        "number": n,
        "title": f"Bug {n}",
        "body": "It breaks." * 20,
        "state": "open",
        "user": sender,
        "updated_at": (RECEIVED - timedelta(minutes=5)).isoformat(),
    }
    body = {"action": "opened", "issue": issue, "repository": repo, "sender": sender}
    return str(uuid.UUID(int=n)), "issues.opened", body


#: (source, provider, builder, share)
MIX = [
    ("stripe-live", "stripe", stripe_event, 0.30),
    ("shop-eu", "shopify", shopify_event, 0.30),
    ("tg-bot", "telegram", telegram_event, 0.20),
    ("gh", "github", github_event, 0.20),
]


def raw_record(source: str, provider: str, event: tuple[str, str, dict[str, Any]]) -> RawRecord:
    event_id, event_type, body = event
    headers = RawHeaders(
        source=source,
        provider=provider,
        event_id=event_id,
        event_type=event_type,
        received_at=RECEIVED,
        content_type="application/json",
        request_id=uuid.uuid4().hex,
    )
    return RawRecord(f"{source}:{event_id}".encode(), orjson.dumps(body), headers.to_kafka())


def build_records(count: int, seed: int = 7) -> tuple[list[RawRecord], int]:
    """``count`` records, ~10% of them redeliveries of an earlier one; (records, unique)."""
    rng = random.Random(seed)
    records: list[RawRecord] = []
    unique: list[RawRecord] = []
    weights = [share for *_, share in MIX]
    for n in range(count):
        if unique and rng.random() < DUPLICATE_SHARE:
            original = rng.choice(unique)  # the provider retried: same key and body
            records.append(RawRecord(original.key, original.value, original.headers))
            continue
        source, provider, build, _ = rng.choices(MIX, weights)[0]
        unique.append(raw_record(source, provider, build(n, rng)))
        records.append(unique[-1])
    return records, len(unique)


def transform_only(records: list[RawRecord], topics: Topics) -> tuple[int, float]:
    """(outputs of the unique records, seconds): the pure work, no Kafka."""
    seen: set[bytes] = set()
    outputs = 0
    started = time.perf_counter()
    for record in records:
        if record.key not in seen:
            seen.add(record.key)
            outputs += len(transform(record.headers, record.value, topics, normalise))
    return outputs, time.perf_counter() - started


# --- Kafka helpers ------------------------------------------------------------------------


@contextmanager
def bench_prefixes(kafka: KafkaSettings, count: int) -> Iterator[list[str]]:
    """``count`` fresh topic prefixes with their core topics; all deleted afterwards, with
    the faust changelog topic and the consumer groups."""
    prefixes = [f"benchproc{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for prefix in prefixes:
        ensure_topics(kafka, Topics(prefix).core(kafka.default_partitions))
    try:
        yield prefixes
    finally:
        admin = AdminClient(admin_config(kafka))
        # Quix names its changelog topics changelog__<group>--<topic>--<store>.
        names = [t for t in admin.list_topics(timeout=10).topics if any(p in t for p in prefixes)]
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result()
        suffixes = ("processors", "ceiling", "quix")
        groups = [f"{p}-{suffix}" for p in prefixes for suffix in suffixes]
        for future in admin.delete_consumer_groups(groups, request_timeout=10).values():
            try:
                future.result()
            except KafkaException:  # a group that never committed does not exist
                continue


def produce_records(kafka: KafkaSettings, topic: str, records: list[RawRecord]) -> None:
    producer = Producer(producer_config(kafka, "bench-load"))
    for record in records:
        headers: list[tuple[str, str | bytes | None]] = [*record.headers]
        producer.produce(topic, key=record.key, value=record.value, headers=headers)
        producer.poll(0)
    assert producer.flush(60) == 0


def outputs_in(kafka: KafkaSettings, prefix: str) -> int:
    return records_written(kafka, [Topics(prefix).events(family) for family in EVENT_FAMILIES])


class CommitWatcher:
    """How many records of a topic a consumer group has committed."""

    def __init__(self, kafka: KafkaSettings, group: str, topic: str) -> None:
        self._consumer = Consumer(consumer_config(kafka, group, "bench-lag"))
        partitions = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._partitions = [TopicPartition(topic, p) for p in partitions]

    def committed(self) -> int:
        offsets = self._consumer.committed(self._partitions, timeout=10)
        return sum(max(tp.offset, 0) for tp in offsets)

    def close(self) -> None:
        self._consumer.close()


def rates(records: int, steady: float, total: float, cpu: float) -> dict[str, float]:
    return {
        "records": records,
        "steady_seconds": round(steady, 3),
        "records_per_second": round(records / steady, 1),
        "cpu_ms_per_record": round(cpu * 1000 / records, 3),
        "total_seconds": round(total, 3),
    }


# --- 2. the ceiling -----------------------------------------------------------------------


class CeilingLoop:
    """consume -> dict dedupe -> transform -> produce -> flush -> commit, batch by batch.

    As in the worker, a key is remembered only once its outputs are acknowledged, and a
    batch's offsets are committed only after all of its outputs are.
    """

    def __init__(self, kafka: KafkaSettings, prefix: str) -> None:
        self.topics = Topics(prefix)
        self.consumer = Consumer(consumer_config(kafka, f"{prefix}-ceiling", "bench-ceiling"))
        self.producer = Producer(producer_config(kafka, "bench-ceiling"))
        self.seen: dict[str, float] = {}
        self.errors: list[KafkaError] = []

    def on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self.errors.append(err)

    def handle_batch(self, batch: list[Message]) -> None:
        pending: dict[str, float] = {}
        for msg in batch:
            assert msg.error() is None, msg.error()
            key = (msg.key() or b"").decode()
            now = time.time()
            if key and (key in pending or now - self.seen.get(key, -HORIZON) < HORIZON):
                continue
            headers = cast(list[tuple[str, bytes | None]], msg.headers() or [])
            for out in transform(headers, msg.value() or b"", self.topics, normalise):
                self.producer.produce(
                    out.topic,
                    out.value,
                    out.key,
                    headers=list(out.headers),
                    on_delivery=self.on_delivery,
                )
            self.producer.poll(0)
            if key:
                pending[key] = now
        assert self.producer.flush(30) == 0
        assert not self.errors, self.errors
        self.seen.update(pending)
        self.consumer.commit(asynchronous=False)

    def run(self, expected: int) -> dict[str, float]:
        self.consumer.subscribe([self.topics.raw_webhooks])
        subscribed = time.perf_counter()
        started: tuple[float, float] | None = None  # (wall, cpu) at the first record
        consumed = 0
        while consumed < expected:
            batch = self.consumer.consume(num_messages=CEILING_BATCH, timeout=0.5)
            assert time.perf_counter() - subscribed < DRAIN_TIMEOUT, "ceiling stalled"
            if batch:
                started = started or (time.perf_counter(), time.process_time())
                self.handle_batch(batch)
                consumed += len(batch)
        done, cpu = time.perf_counter(), time.process_time()
        self.consumer.close()
        assert started is not None
        return rates(expected, done - started[0], done - subscribed, cpu - started[1])


# --- 1. the faust worker ------------------------------------------------------------------


def rss_bytes(pid: int | str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def disk_usage(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    committed: int
    rss: int
    cpu: float


def start_worker(
    kafka: KafkaSettings, prefix: str, data_dir: Path, web_port: int, log_dir: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOOKLINE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "HOOKLINE_KAFKA__TOPIC_PREFIX": prefix,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(kafka.default_partitions),
        "HOOKLINE_PROCESSORS__DATA_DIR": str(data_dir),
        "HOOKLINE_PROCESSORS__WEB_PORT": str(web_port),
        # INFO is the default. At WARNING and above faust's terminal spinner turns the
        # root logger to DEBUG, and every debug line of faust and aiokafka costs CPU.
        "HOOKLINE_LOG__LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "INFO"),
    }
    argv = [sys.executable, "-m", "processors"]
    with (log_dir / "worker.log").open("ab") as log:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def sample(workers: list[subprocess.Popen[bytes]], committed: int) -> Sample:
    """The workers' RSS and CPU, summed."""
    rss = sum(rss_bytes(w.pid) for w in workers)
    return Sample(time.perf_counter(), committed, rss, sum(cpu_seconds(w.pid) for w in workers))


def wait_committed(
    workers: list[subprocess.Popen[bytes]], watcher: CommitWatcher, expected: int
) -> list[Sample]:
    """Poll until the workers committed ``expected`` records."""
    samples = [sample(workers, 0)]
    while samples[-1].committed < expected:
        assert all(w.poll() is None for w in workers), "worker exited"
        assert time.perf_counter() - samples[0].at < DRAIN_TIMEOUT, "worker did not drain"
        time.sleep(0.05)
        samples.append(sample(workers, watcher.committed()))
    return samples


def worker_outcomes(web_port: int) -> dict[str, float]:
    """The worker's own count of records by outcome (forwarded, duplicate, dead_lettered)."""
    url = f"http://127.0.0.1:{web_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    outcomes: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "hookline_processor_records_total":
                outcome = sample.labels["outcome"]
                outcomes[outcome] = outcomes.get(outcome, 0) + sample.value
    return outcomes


def table_state(data_dir: Path) -> dict[str, int]:
    """Keys and bytes of the worker's dedupe table (run after the worker exited)."""
    import rocksdict

    keys = 0
    dbs = sorted(data_dir.rglob("dedupe-*.db"))
    for path in dbs:
        options = rocksdict.Options(raw_mode=True)
        db = rocksdict.Rdict(str(path), options, access_type=rocksdict.AccessType.read_only())
        # Not `for key in db`: rocksdict cannot iterate a raw-mode database that way.
        visible = (k for k in db.keys() if isinstance(k, bytes) and not k.startswith(b"__faust"))  # noqa: SIM118
        keys += sum(1 for _ in visible)
        db.close()
    disk = sum(map(disk_usage, dbs))
    return {
        "partitions": len(dbs),
        "keys": keys,
        "disk_bytes": disk,
        "disk_bytes_per_key": round(disk / max(keys, 1)),
    }


def profile(pid: int, variable: str = "BENCH_PROFILE") -> subprocess.Popen[bytes] | None:
    """With ``BENCH_PROFILE=<file.svg>``: py-spy samples the worker (a flame graph of its
    CPU, written when the run is over; ``<file.txt>``: its collapsed stacks instead);
    ``BENCH_PROFILE_QUIX`` the same for the Quix Streams variant. py-spy is a dev tool, not
    a dependency."""
    out = os.environ.get(variable)
    if not out:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    argv = [str(spy), "record", "--pid", str(pid), "--rate", "100", "--output", out]
    if out.endswith(".txt"):  # collapsed stacks, one per line, to sum up by function
        argv += ["--format", "raw"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL)


def stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its flame graph on SIGINT
        spy.wait(timeout=60)


def run_worker(kafka: KafkaSettings, prefix: str, expected: int, data_dir: Path) -> dict[str, Any]:
    """:data:`WORKERS` workers, each with its own state directory; CPU and RSS are their
    sums, outcomes their totals."""
    watcher = CommitWatcher(kafka, f"{prefix}-processors", Topics(prefix).raw_webhooks)
    ports = [free_port() for _ in range(WORKERS)]
    data_dir.mkdir(parents=True, exist_ok=True)  # faust creates its directory, not parents
    workers = [
        start_worker(kafka, prefix, data_dir / f"worker-{n}", port, data_dir.parent)
        for n, port in enumerate(ports)
    ]
    spy = profile(workers[0].pid)
    try:
        samples = wait_committed(workers, watcher, expected)
        outcomes: dict[str, float] = {}
        for port in ports:
            for outcome, count in worker_outcomes(port).items():
                outcomes[outcome] = outcomes.get(outcome, 0) + count
    finally:
        stop_profile(spy)
        watcher.close()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    return sampled_rates(samples, expected) | {
        "workers": WORKERS,
        "outcomes": outcomes,
        # With several workers, a partition that moved in a rebalance is in two of them.
        "dedupe_table_after_exit": table_state(data_dir),
    }


def sampled_rates(samples: list[Sample], expected: int) -> dict[str, Any]:
    """Steady-state rates from a subprocess's first commit to its last, startup apart."""
    launch, end = samples[0], samples[-1]
    first = next(s for s in samples if s.committed > 0)  # the process is under way
    steady = rates(
        expected - first.committed, end.at - first.at, end.at - launch.at, end.cpu - first.cpu
    )
    return steady | {
        "records_per_second_incl_startup": round(expected / (end.at - launch.at), 1),
        "startup_seconds": round(first.at - launch.at, 3),
        "rss_bytes_at_first_commit": first.rss,
        "rss_bytes_at_end": end.rss,
        "rss_bytes_peak": max(s.rss for s in samples),
    }


# --- 4. Quix Streams -------------------------------------------------------------------------


def quix_python() -> Path | str:
    """The Quix venv's interpreter, the venv made on first use; else why it cannot be."""
    python = QUIX_VENV / "bin" / "python"
    probe = [
        str(python),
        "-c",
        f"import quixstreams; assert quixstreams.__version__ == '{QUIX_VERSION}'",
    ]
    if python.exists() and subprocess.run(probe, check=False, capture_output=True).returncode == 0:
        return python
    steps = [
        [sys.executable, "-m", "venv", str(QUIX_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", *QUIX_REQUIREMENTS],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, check=False, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return f"skipped: {step[2]} {step[3]} timed out after 300 s"
        if done.returncode != 0:
            return f"skipped: {' '.join(step[1:4])} failed: {done.stderr.strip()[-300:]}"
    return python


def run_quix(kafka: KafkaSettings, prefix: str, expected: int, tmp: Path) -> dict[str, Any]:
    """bench/quix_variant.py on ``prefix``: rates as for the worker, its own counts."""
    if not QUIX:
        return {"skipped": "skipped: BENCH_QUIX=0"}
    python = quix_python()
    if isinstance(python, str):
        return {"skipped": python}
    watcher = CommitWatcher(kafka, f"{prefix}-quix", Topics(prefix).raw_webhooks)
    counts = tmp / "quix-counts.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOOKLINE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(kafka.default_partitions),
    }
    argv = [str(python), str(ROOT / "bench" / "quix_variant.py"), prefix, str(tmp / "quix-state")]
    with (tmp / "quix.log").open("ab") as log:
        process = subprocess.Popen(
            [*argv, str(counts)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    spy = profile(process.pid, "BENCH_PROFILE_QUIX")
    try:
        samples = wait_committed([process], watcher, expected)
    finally:
        stop_profile(spy)
        watcher.close()
        process.terminate()  # Quix stops on SIGTERM and the variant writes its counts
        process.wait(timeout=60)
    outcomes = orjson.loads(counts.read_bytes()) if counts.exists() else {}
    return sampled_rates(samples, expected) | {
        "quixstreams": QUIX_VERSION,
        "commit_interval_seconds": 1.0,
        "commit_every": 100,
        "outcomes": outcomes,
    }


# --- 3. the dedupe store on its own -------------------------------------------------------


def probe_store(path: str, sizes: list[int], partitions: int, conn: Connection) -> None:
    """In a fresh process: the RocksDB options the worker's table gets (dedupe_store_options),
    one database per partition; per key a lookup then a write, as the worker
    does. Sends the RSS and disk at each size, then after flushing the memtables."""
    from faust.stores.rocksdb import RocksDBOptions

    from hookline.settings import ProcessorSettings
    from processors.app import dedupe_store_options

    settings = ProcessorSettings(dedupe_horizon_seconds=int(HORIZON))
    options = RocksDBOptions(**dedupe_store_options(settings))
    dbs = [options.open(Path(path) / f"dedupe-{p}.db") for p in range(partitions)]
    value = orjson.dumps(time.time())  # the table's float, as faust's json codec writes it
    points: list[dict[str, float]] = [
        {"keys": 0, "rss_bytes": rss_bytes("self"), "disk_bytes": disk_usage(Path(path))}
    ]
    written = 0
    started = time.perf_counter()
    for size in sizes:
        for n in range(written, size):
            # Shaped like a raw key (source, provider event ID), in no particular order.
            key = f"stripe-live:evt_{(n * 0x9E3779B97F4A7C15) % 2**96:024x}".encode()
            db = dbs[n % partitions]
            if db.get(key) is None:
                db.put(key, value)
        written = size
        points.append(
            {
                "keys": size,
                "rss_bytes": rss_bytes("self"),
                "disk_bytes": disk_usage(Path(path)),
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    for db in dbs:
        db.flush()
    flushed = {
        "keys": written,
        "rss_bytes": rss_bytes("self"),
        "disk_bytes": disk_usage(Path(path)),
    }
    conn.send({"points": points, "after_flush": flushed})
    conn.close()


def measure_store(sizes: list[int], partitions: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    with tempfile.TemporaryDirectory(prefix="bench-store-") as path:
        process = context.Process(target=probe_store, args=(path, sizes, partitions, send))
        process.start()
        result: dict[str, Any] = receive.recv()
        process.join(timeout=60)
    base, first_million = result["points"][0], per_million_point(result["points"])
    result["per_million_keys"] = {
        "at_keys": first_million["keys"],
        "rss_growth_bytes": first_million["rss_growth"],
        "disk_bytes_wal_and_sst": first_million["disk"],
        "disk_bytes_sst_after_flush": round(
            result["after_flush"]["disk_bytes"] * 1e6 / result["after_flush"]["keys"]
        ),
    }
    result["rss_bytes_before_any_key"] = base["rss_bytes"]
    return result


def per_million_point(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth per million keys up to the first size of at least a million (before any
    memtable is full), from the point without keys."""
    base = points[0]
    point = next((p for p in points if p["keys"] >= 1_000_000), points[-1])
    scale = 1_000_000 / point["keys"]
    return {
        "keys": point["keys"],
        "rss_growth": round((point["rss_bytes"] - base["rss_bytes"]) * scale),
        "disk": round(point["disk_bytes"] * scale),
    }


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    kafka = KafkaSettings()
    records, unique = build_records(EVENTS)
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-processors-") as tmp:
        with bench_prefixes(kafka, 3) as (faust_prefix, ceiling_prefix, quix_prefix):
            expected, pure_seconds = transform_only(records, Topics(ceiling_prefix))
            for prefix in (faust_prefix, ceiling_prefix, quix_prefix):
                produce_records(kafka, Topics(prefix).raw_webhooks, records)
            ceiling = CeilingLoop(kafka, ceiling_prefix).run(EVENTS)
            worker = run_worker(kafka, faust_prefix, EVENTS, Path(tmp) / "state")
            quix = run_quix(kafka, quix_prefix, EVENTS, Path(tmp))
            outputs = {"faust": outputs_in(kafka, faust_prefix)}
            outputs["ceiling"] = outputs_in(kafka, ceiling_prefix)
            if "skipped" not in quix:
                outputs["quix"] = outputs_in(kafka, quix_prefix)
            outputs["faust_dead_letters"] = records_written(
                kafka, [Topics(faust_prefix).raw_dead_letter]
            )
        print_logs_if_wrong(Path(tmp), outputs, expected)
    store = measure_store(STORE_KEYS, kafka.default_partitions)
    ratio = round(worker["records_per_second"] / ceiling["records_per_second"], 3)
    result = {
        "records": EVENTS,
        "unique_records": unique,
        "expected_outputs": expected,
        "transform_only_unique_per_second": round(unique / pure_seconds, 1),
        "ceiling_confluent_loop": ceiling,
        "faust_worker": worker,
        "quix_streams": quix,
        "ratio_faust_to_ceiling": ratio,
        "outputs_in_kafka": outputs,
        "outputs_equal_unique_inputs": {
            name: count == expected
            for name, count in outputs.items()
            if name != "faust_dead_letters"
        },
        "load_average": {
            "before_run": load_before,
            "after_run": [round(x, 2) for x in os.getloadavg()],
        },
        "dedupe_store_probe": store,
    }
    if "skipped" not in quix:
        result["ratio_quix_to_ceiling"] = round(
            quix["records_per_second"] / ceiling["records_per_second"], 3
        )
        result["ratio_faust_to_quix"] = round(
            worker["records_per_second"] / quix["records_per_second"], 3
        )
    path = write_result("processors", result | previous_history())
    million = store["per_million_keys"]
    print(
        f"processors: faust {worker['records_per_second']:.0f} rec/s steady "
        f"({worker['records_per_second_incl_startup']:.0f} incl. startup) vs ceiling "
        f"{ceiling['records_per_second']:.0f}: ratio {ratio}; Quix Streams "
        f"{quix.get('records_per_second', quix.get('skipped'))}; outputs {outputs} of "
        f"{expected}; dedupe per million IDs: RSS "
        f"+{million['rss_growth_bytes'] / MIB:.0f} MiB, disk "
        f"{million['disk_bytes_wal_and_sst'] / MIB:.0f} MiB (SST "
        f"{million['disk_bytes_sst_after_flush'] / MIB:.0f} MiB after flush) -> {path}"
    )


def print_logs_if_wrong(tmp: Path, outputs: dict[str, int], expected: int) -> None:
    """The subprocesses' log tails when their outputs are not the unique inputs'."""
    wrong = outputs["faust"] != expected or outputs["faust_dead_letters"]
    logs = [("worker", wrong)]
    logs.append(("quix", "quix" in outputs and outputs["quix"] != expected))
    for name, show in logs:
        log = tmp / f"{name}.log"
        if show and log.exists():
            print(f"{name} log tail:\n" + "\n".join(log.read_text().splitlines()[-60:]))


def previous_history() -> dict[str, Any]:
    """The keys of :data:`HISTORY_KEYS` in the results file this run replaces."""
    path = RESULTS / "processors.json"
    previous = orjson.loads(path.read_bytes()) if path.exists() else {}
    return {key: previous[key] for key in HISTORY_KEYS if key in previous}


if __name__ == "__main__":
    main()
