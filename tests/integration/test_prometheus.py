"""A real Prometheus (Debian's) scraping `hookline run` on loopback, ingress with two
workers: the ingress's request counter summed over its workers equals the requests sent,
every query of the dashboard and the alert rules parses, and every metric they name has
series."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from ingress.providers import REGISTRY
from ingress.sources import load_sources
from tests.conftest import ROOT
from tests.integration.demo_run import DEMO_CONFIG, demo_env, free_ports
from tests.integration.prometheus_server import RULES, Prometheus, prometheus
from tests.ports import free_ports_in_a_row

DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "hookline.json"
DEMO_REQUESTS = 40
UNKNOWN_SOURCE_REQUESTS = 20


def queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return exprs + [rule["expr"] for group in groups for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(hookline_[a-z0-9_]+|up)\b", expr))


def send_demo_traffic(env: dict[str, str], url: str) -> int:
    """Signed demo webhooks (some redelivered, some tampered); the answers counted."""
    argv = [sys.executable, "-m", "launcher.cli", "demo", "--url", url, "--rate", "20"]
    argv += ["--count", str(DEMO_REQUESTS)]
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    tally = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert not [k for k in tally if k.endswith(":unreachable")], tally
    return sum(tally.values())


def send_dead_letter_bait(url: str) -> None:
    """A correctly signed GitHub push that is not a push: accepted, then dead-lettered by
    the processors (the dead-letter metric gets its series)."""
    source = load_sources(DEMO_CONFIG / "sources.toml", {})["github"]
    body = b'{"repository": {"id": [], "full_name": 5}}'
    secret = source.secrets[0].get_secret_value()
    headers = REGISTRY["github"].sign(body, secret, time.time(), event="push", delivery="bait-1")
    request = urllib.request.Request(f"{url}/webhooks/github", body, headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def send_to_unknown_source(url: str) -> None:
    """One connection each (urllib does not keep them), so both workers get some."""
    for _ in range(UNKNOWN_SOURCE_REQUESTS):
        request = urllib.request.Request(f"{url}/webhooks/nosuch", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        answer.value.close()
        assert answer.value.code == 404


def test_prometheus_sees_every_metric_and_counts_every_request(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings, tmp_path: Path
) -> None:
    ports = free_ports()
    ports["ingress_metrics"] = free_ports_in_a_row(2)  # one per ingress worker
    env = demo_env(settings, fresh_database, tmp_path, ports) | {
        "HOOKLINE_INGRESS__WORKERS": "2",
        "HOOKLINE_KAFKA__LAG_INTERVAL_SECONDS": "1",
        "HOOKLINE_CONNECTORS__PROBE_INTERVAL_SECONDS": "1",  # probes are off in the demo
    }
    argv = [sys.executable, "-m", "launcher.cli", "run", "--no-demo", "--demo-api-port", "0"]
    argv += ["--hubspot-port", str(ports["hubspot"]), "--shopify-port", str(ports["shopify"])]
    argv += ["--telegram-port", str(ports["telegram"])]
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        run = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    jobs = {
        "hookline-ingress": [ports["ingress_metrics"], ports["ingress_metrics"] + 1],
        "hookline-processors": [ports["processors"]],
        "hookline-connectors": [ports["connectors"]],
    }
    try:
        with prometheus(tmp_path, jobs) as prom:
            assert prom.wait_for("count(up == 1)", 4, timeout=90) == 4, log_path.read_text()[-3000:]
            url = f"http://127.0.0.1:{ports['ingress']}"
            sent = send_demo_traffic(env, url)
            send_to_unknown_source(url)
            send_dead_letter_bait(url)
            sent += UNKNOWN_SOURCE_REQUESTS + 1

            total = prom.wait_for("sum(hookline_ingress_requests_total)", sent)
            assert total == sent
            per_worker = prom.query("sum by (instance) (hookline_ingress_requests_total) > 0")
            assert len(per_worker) == 2, per_worker
            settled(prom)
            assert_every_query_has_data(prom)
    finally:
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=60)
    assert run.returncode == 0, log_path.read_text()[-3000:]


def settled(prom: Prometheus) -> None:
    """Until the connectors applied changes and every group's lag is back to 0."""
    applied = 'sum(hookline_connector_deliveries_total{outcome="applied"}) > bool 0'
    assert prom.wait_for(applied, 1, timeout=90) == 1
    assert prom.wait_for("sum(hookline_consumer_lag_records)", 0, timeout=90) == 0
    assert prom.wait_for("sum(hookline_processor_dead_letters_total)", 1, timeout=60) == 1


def assert_every_query_has_data(prom: Prometheus) -> None:
    exprs = queries()
    for expr in exprs:
        prom.query(expr)  # parses and evaluates
    names = set().union(*map(metric_names, exprs))
    missing = sorted(n for n in names if not prom.query(f'count({{__name__="{n}"}})'))
    assert missing == [], f"metrics used by the dashboard or the rules without series: {missing}"
