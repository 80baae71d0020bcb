"""Ingress throughput and latency against the bare-aiohttp ceiling, in the same run.

1. peak: ``hey`` (closed loop, 128 connections, fixed time) against a bare aiohttp app that
   answers 200, then against the Hookline ingress (GitHub signature verification, durable
   ``acks=all`` publish to the real broker);
2. latency at half of the ingress's peak (open loop, fixed rate);
3. loss: every 200 must be a record in Kafka (high watermarks vs 200 responses).

Loopback only, bounded in time. Results: bench/results/ingress.json.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import ROOT, stop, wait_http, write_result
from hookline.kafka_clients import ensure_topics
from hookline.settings import KafkaSettings
from hookline.topics import Topics
from tests.kafka_probe import records_written
from tests.kafka_topics import topics_deleted_afterwards
from tests.ports import free_port

HEY = Path(os.environ.get("HEY", Path.home() / "go" / "bin" / "hey"))
SECRET = "bench-secret"  # noqa: S105 - a throwaway secret for loopback traffic
BODY = b'{"action":"opened","issue":{"number":1,"title":"benchmark"},"repository":{"id":1}}'
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "128")


def hey(url: str, *extra: str) -> dict[str, Any]:
    signature = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as body:
        body.write(BODY)
    argv = [
        str(HEY),
        "-z",
        DURATION,
        "-m",
        "POST",
        "-D",
        body.name,
        "-T",
        "application/json",
        "-H",
        f"X-Hub-Signature-256: sha256={signature}",
        "-H",
        "X-GitHub-Event: issues",
        "-H",
        "X-GitHub-Delivery: 11111111-2222-3333-4444-555555555555",
        *extra,
        url,
    ]
    output = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300).stdout
    return parse_hey(output)


def parse_hey(output: str) -> dict[str, Any]:
    def number(pattern: str) -> float:
        match = re.search(pattern, output)
        return float(match.group(1)) if match else float("nan")

    statuses = {int(c): int(n) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", output)}
    _, _, errors_section = output.partition("Error distribution:")
    return {
        "requests_per_second": number(r"Requests/sec:\s+([\d.]+)"),
        "p50_ms": number(r"50% in ([\d.]+) secs") * 1000,
        "p99_ms": number(r"99% in ([\d.]+) secs") * 1000,
        "statuses": statuses,
        "transport_errors": sum(
            int(n) for n in re.findall(r"^\s+\[(\d+)\]\s", errors_section, re.MULTILINE)
        ),
    }


def start_ingress(port: int, prefix: str, sources: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOOKLINE_INGRESS__PORT": str(port),
        "HOOKLINE_INGRESS__SOURCES_FILE": str(sources),
        "HOOKLINE_KAFKA__TOPIC_PREFIX": prefix,
        "HOOKLINE_LOG__LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "launcher.cli", "ingress"], cwd=ROOT, env=env)


def main() -> None:
    kafka = KafkaSettings()
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    topics = Topics(prefix)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as sources:
        sources.write(f'[sources.gh]\nprovider = "github"\nsecrets = ["{SECRET}"]\n')

    with topics_deleted_afterwards(kafka, prefix):
        ensure_topics(kafka, topics.core(kafka.default_partitions))
        bare_port, ingress_port = free_port(), free_port()
        bare = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "bare_app.py"), str(bare_port)]
        )
        ingress = start_ingress(ingress_port, prefix, Path(sources.name))
        try:
            wait_http(f"http://127.0.0.1:{ingress_port}/healthz")
            url = "http://127.0.0.1:{}/webhooks/gh"
            hey(url.format(bare_port), "-c", "8")  # warm-up both, discarded
            hey(url.format(ingress_port), "-c", "8")
            warm = records_written(kafka, [topics.raw_webhooks])
            ceiling = hey(url.format(bare_port), "-c", CONNECTIONS)
            peak = hey(url.format(ingress_port), "-c", CONNECTIONS)
            half_rate = max(int(peak["requests_per_second"] / 2), 16)
            # hey's workers are closed loops capped at -q each: enough of them that the cap,
            # not the latency, sets the rate.
            half = hey(url.format(ingress_port), "-c", "64", "-q", str(max(half_rate // 64, 1)))
            time.sleep(1)
            accepted = peak["statuses"].get(200, 0) + half["statuses"].get(200, 0)
            stored = records_written(kafka, [topics.raw_webhooks]) - warm
        finally:
            stop(ingress)
            stop(bare)
    result = {
        "ceiling_bare_aiohttp": ceiling,
        "ingress_peak": peak,
        "ingress_at_half_peak": {**half, "target_rate": half_rate},
        "ratio_to_ceiling": round(peak["requests_per_second"] / ceiling["requests_per_second"], 3),
        "accepted_200": accepted,
        "records_in_kafka": stored,
        "lost": max(accepted - stored, 0),
    }
    path = write_result("ingress", result)
    print(
        f"ingress: {peak['requests_per_second']:.0f} req/s vs ceiling "
        f"{ceiling['requests_per_second']:.0f} (ratio {result['ratio_to_ceiling']}); "
        f"p99 at half peak {half['p99_ms']:.1f} ms; lost {result['lost']} -> {path}"
    )


if __name__ == "__main__":
    main()
