"""`hookline run` end to end: signed demo webhooks through ingress, processors and a
connector into the stand-in API, then a clean Ctrl-C. This is what `make run` starts."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from tests.conftest import ROOT
from tests.integration.processor_worker import free_port


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


def test_demo_traffic_reaches_the_destination_and_ctrl_c_stops_everything(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings, tmp_path: Path
) -> None:
    ports = {name: free_port() for name in ("ingress", "processors", "connectors", "api")}
    connectors = (ROOT / "launcher" / "demo_config" / "connectors.toml").read_text()
    connectors = connectors.replace("127.0.0.1:8090", f"127.0.0.1:{ports['api']}")
    (tmp_path / "connectors.toml").write_text(connectors)
    env = {
        **os.environ,
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(settings.kafka.default_partitions),
        "HOOKLINE_POSTGRES__DATABASE": fresh_database.database,
        "HOOKLINE_INGRESS__PORT": str(ports["ingress"]),
        "HOOKLINE_INGRESS__SOURCES_FILE": str(ROOT / "launcher" / "demo_config" / "sources.toml"),
        "HOOKLINE_PROCESSORS__WEB_PORT": str(ports["processors"]),
        "HOOKLINE_PROCESSORS__DATA_DIR": str(tmp_path / "state"),
        "HOOKLINE_CONNECTORS__CONFIG_FILE": str(tmp_path / "connectors.toml"),
        "HOOKLINE_CONNECTORS__METRICS_PORT": str(ports["connectors"]),
        "HOOKLINE_SECRETS__DEMO_API_TOKEN": "test-token",
        "HOOKLINE_LOG__FORMAT": "json",
    }
    argv = [
        sys.executable,
        "-m",
        "launcher.cli",
        "run",
        "--demo-rate",
        "10",
        "--demo-api-port",
        str(ports["api"]),
    ]
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        applied = 0.0
        while time.monotonic() < deadline and applied < 5:
            assert process.poll() is None, log_path.read_text()[-3000:]
            applied = metric_total(
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
    output = log_path.read_text()
    assert applied >= 5, output[-3000:]
    assert accepted >= applied
    assert forwarded >= applied
    assert process.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert "test-token" not in output  # the destination token is never logged
    for name in ("ingress", "api", "connectors", "processors"):  # every child is gone
        with socket.socket() as sock:  # REUSEADDR: only a live listener makes bind fail
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", ports[name]))
