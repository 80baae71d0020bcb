"""`hookline run` (the whole demo pipeline) as a subprocess, for end-to-end tests: its
environment, waiting until the connectors applied changes to the stand-ins and the
warehouse, and a Ctrl-C at the end."""

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
from launcher.demo_config import DEMO_PORTS, demo_secrets
from sandbox import hubspot, shopify, telegram
from tests.conftest import ROOT
from tests.ports import free_port

DEMO_CONFIG = ROOT / "launcher" / "demo_config"
#: the stand-ins' tokens, which `hookline run` configures: never to be seen in its output
TOKENS = (hubspot.PRIVATE_TOKEN, shopify.TOKEN, telegram.TOKEN)


def metric_total(port: int, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include ``labels``; 0 when unreachable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} ([0-9.e+]+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


#: what the Telegram stand-in prints when an alert reaches the demo's admin chat
ALERT_IN_CHAT = re.compile(r"^telegram +\| chat -1001234567890 <- .*dead_letter", re.MULTILINE)


def alerted(log_path: Path) -> bool:
    return bool(ALERT_IN_CHAT.search(log_path.read_text()))


@dataclass(frozen=True)
class DemoRun:
    """What a run showed while it ran (changes applied at the stand-in API, webhooks
    accepted, records forwarded), then its exit status and output."""

    applied: float
    applied_by: dict[str, float]  # connector -> changes applied
    accepted: float
    forwarded: float
    returncode: int
    output: str


def demo_env(
    settings: Settings, database: PostgresSettings, tmp_path: Path, ports: dict[str, int]
) -> dict[str, str]:
    """The demo's environment with this test's topics, database, state and ports (the
    stand-ins' URLs: `hookline run` sets them from its --<stand-in>-port options)."""
    return {
        **os.environ,
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(settings.kafka.default_partitions),
        "HOOKLINE_POSTGRES__DATABASE": database.database,
        "HOOKLINE_INGRESS__PORT": str(ports["ingress"]),
        "HOOKLINE_INGRESS__METRICS_PORT": str(ports["ingress_metrics"]),
        "HOOKLINE_INGRESS__SOURCES_FILE": str(DEMO_CONFIG / "sources.toml"),
        "HOOKLINE_PROCESSORS__WEB_PORT": str(ports["processors"]),
        "HOOKLINE_PROCESSORS__DATA_DIR": str(tmp_path / "state"),
        "HOOKLINE_CONNECTORS__CONFIG_FILE": str(DEMO_CONFIG / "connectors.toml"),
        "HOOKLINE_CONNECTORS__METRICS_PORT": str(ports["connectors"]),
        "HOOKLINE_LOG__FORMAT": "json",
    }


def flows_secrets(ports: dict[str, int]) -> dict[str, str]:
    """The environment that points the packaged flows config
    (launcher/demo_config/connectors.toml) at stand-ins on these ports (by name)."""
    return {f"HOOKLINE_SECRETS__{k.upper()}": v for k, v in demo_secrets(ports).items()}


FLOW_CONNECTORS = ("shop", "crm", "warehouse")  # launcher/demo_config/connectors.toml
SERVICES = (
    *("ingress", "ingress_metrics", "processors", "connectors"),
    *("hubspot", "shopify", "telegram"),
)


def free_ports() -> dict[str, int]:
    return {name: free_port() for name in SERVICES}


def run_demo_until_applied(
    env: dict[str, str], ports: dict[str, int], log_path: Path, applied: int = 5
) -> DemoRun:
    """Run `hookline run` until the connectors applied ``applied`` changes, each of the
    flows' connectors at least one, and an alert reached the Telegram stand-in's chat (the
    demo's mistyped customer, dead-lettered by the CRM) (at most two minutes), then Ctrl-C
    it and wait."""
    argv = [sys.executable, "-m", "launcher.cli", "run", "--demo-rate", "10"]
    for stand_in in DEMO_PORTS:
        argv += [f"--{stand_in}-port", str(ports[stand_in])]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        by: dict[str, float] = dict.fromkeys(FLOW_CONNECTORS, 0.0)
        while time.monotonic() < deadline and not (
            sum(by.values()) >= applied and 0 not in by.values() and alerted(log_path)
        ):
            assert process.poll() is None, log_path.read_text()[-3000:]
            by = {
                name: metric_total(
                    ports["connectors"],
                    "hookline_connector_deliveries_total",
                    connector=name,
                    outcome="applied",
                )
                for name in FLOW_CONNECTORS
            }
            time.sleep(1)
        accepted = metric_total(
            ports["ingress_metrics"], "hookline_ingress_requests_total", status="200"
        )
        forwarded = metric_total(
            ports["processors"], "hookline_processor_records_total", outcome="forwarded"
        )
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
        process.wait(timeout=60)
    seen = sum(by.values())
    return DemoRun(seen, by, accepted, forwarded, process.returncode, log_path.read_text())
