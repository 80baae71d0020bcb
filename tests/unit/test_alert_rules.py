"""The alert rules load in Prometheus's own checker, and every rule fires in a
``promtool test rules`` case (ops/prometheus/tests/) on the series it is meant for.

promtool comes with Debian's ``prometheus`` package; ``make test`` installs it when
missing (scripts/services-lib.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import ROOT

PROMETHEUS = ROOT / "ops" / "prometheus"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: apt-get install prometheus (make test does it as root)"
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def test_promtool_accepts_the_rules_and_the_prometheus_config() -> None:
    checked = promtool("check", "rules", PROMETHEUS / "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The config names the rules at their in-container path: check the syntax only.
    config = promtool("check", "config", "--syntax-only", PROMETHEUS / "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_rule_test_passes() -> None:
    assert RULE_TESTS
    result = promtool("test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_every_alert_has_a_case_where_it_fires() -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    firing = {
        case["alertname"]
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert sorted(alerts - firing) == [], "alerts without a firing promtool case"
