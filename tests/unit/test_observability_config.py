"""Alert rules and the Grafana dashboard name only metrics the code defines, and are wired
into the Prometheus and Grafana of docker-compose.yml."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.conftest import ROOT
from tests.unit.test_metrics_catalogue import METRIC

RULES = ROOT / "ops" / "prometheus" / "alerts.yml"


def defined_metrics() -> set[str]:
    return {
        name
        for package in ("hookline", "ingress", "processors", "connectors")
        for path in (ROOT / package).rglob("*.py")
        for name in METRIC.findall(path.read_text())
    }


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_rule_uses_existing_metrics_and_has_a_severity() -> None:
    metrics = defined_metrics()
    assert rules()
    for rule in rules():
        used = {
            re.sub(r"_(bucket|count|sum)$", "", m)
            for m in re.findall(r"hookline_[a-z0-9_]+", rule["expr"])
        }
        assert used or re.search(r"\bup\b", rule["expr"]), rule["alert"]
        assert used <= metrics, (rule["alert"], sorted(used - metrics))
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"]


def test_prometheus_loads_the_rules_and_scrapes_every_service() -> None:
    config = yaml.safe_load((ROOT / "ops" / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"hookline-ingress", "hookline-processors", "hookline-connectors"}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./ops/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts


def test_dashboard_panels_query_existing_metrics_and_are_provisioned() -> None:
    dashboard = json.loads((ROOT / "ops" / "grafana" / "dashboards" / "hookline.json").read_text())
    metrics = defined_metrics()
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs
    for expr in exprs:
        used = {
            re.sub(r"_(bucket|count|sum)$", "", m) for m in re.findall(r"hookline_[a-z0-9_]+", expr)
        }
        assert used, expr
        assert used <= metrics, sorted(used - metrics)
    covered = {m for e in exprs for m in re.findall(r"hookline_[a-z0-9_]+", e)}
    assert {
        "hookline_ingress_publish_failures_total",
        "hookline_connector_breaker_state",
    } <= covered
    grafana = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    assert "./ops/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
