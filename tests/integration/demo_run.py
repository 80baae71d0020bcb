"""`hookline run` (the whole demo pipeline) as a subprocess, for end-to-end tests: its
environment, waiting until the stand-in API received changes, and a Ctrl-C at the end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hookline.settings import PostgresSettings, Settings
from tests.conftest import ROOT
from tests.integration.processor_worker import free_port

DEMO_CONFIG = ROOT / "launcher" / "demo_config"
API_TOKEN = "test-token"


def metric_total(port: int, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include ``labels``; 0 when unreachable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} ([0-9.e+]+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


@dataclass(frozen=True)
class DemoRun:
    """What a run showed while it ran (changes applied at the stand-in API, webhooks
    accepted, records forwarded), then its exit status and output."""

    applied: float
    accepted: float
    forwarded: float
    returncode: int
    output: str


def demo_env(
    settings: Settings, database: PostgresSettings, tmp_path: Path, ports: dict[str, int]
) -> dict[str, str]:
    """The demo's environment with this test's topics, database, state and ports."""
    connectors = (DEMO_CONFIG / "connectors.toml").read_text()
    connectors = connectors.replace("127.0.0.1:8090", f"127.0.0.1:{ports['api']}")
    (tmp_path / "connectors.toml").write_text(connectors)
    return {
        **os.environ,
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(settings.kafka.default_partitions),
        "HOOKLINE_POSTGRES__DATABASE": database.database,
        "HOOKLINE_INGRESS__PORT": str(ports["ingress"]),
        "HOOKLINE_INGRESS__SOURCES_FILE": str(DEMO_CONFIG / "sources.toml"),
        "HOOKLINE_PROCESSORS__WEB_PORT": str(ports["processors"]),
        "HOOKLINE_PROCESSORS__DATA_DIR": str(tmp_path / "state"),
        "HOOKLINE_CONNECTORS__CONFIG_FILE": str(tmp_path / "connectors.toml"),
        "HOOKLINE_CONNECTORS__METRICS_PORT": str(ports["connectors"]),
        "HOOKLINE_SECRETS__DEMO_API_TOKEN": API_TOKEN,
        "HOOKLINE_LOG__FORMAT": "json",
    }


def free_ports() -> dict[str, int]:
    return {name: free_port() for name in ("ingress", "processors", "connectors", "api")}


def run_demo_until_applied(
    env: dict[str, str], ports: dict[str, int], log_path: Path, applied: int = 5
) -> DemoRun:
    """Run `hookline run` until ``applied`` changes reached the stand-in API (at most two
    minutes), then Ctrl-C it and wait for it to exit."""
    argv = [sys.executable, "-m", "launcher.cli", "run", "--demo-rate", "10"]
    argv += ["--demo-api-port", str(ports["api"])]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        seen = 0.0
        while time.monotonic() < deadline and seen < applied:
            assert process.poll() is None, log_path.read_text()[-3000:]
            seen = metric_total(
                ports["connectors"], "hookline_connector_deliveries_total", outcome="applied"
            )
            time.sleep(1)
        accepted = metric_total(ports["ingress"], "hookline_ingress_requests_total", status="200")
        forwarded = metric_total(
            ports["processors"], "hookline_processor_records_total", outcome="forwarded"
        )
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
        process.wait(timeout=60)
    return DemoRun(seen, accepted, forwarded, process.returncode, log_path.read_text())
