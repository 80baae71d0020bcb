"""Alert rules parse, name only metrics the code defines, and are wired into Prometheus."""

from __future__ import annotations

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
        used = set(re.findall(r"hookline_[a-z0-9_]+", rule["expr"]))
        assert used, rule["alert"]
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
