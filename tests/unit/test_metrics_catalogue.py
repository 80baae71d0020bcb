"""Every metric the code defines is documented in docs/metrics.md, and nothing more."""

from __future__ import annotations

import re

from tests.conftest import ROOT

#: A metric's name where it is created (not any string that starts with ``hookline_``:
#: destinations name their own fields so, e.g. HubSpot's ``hookline_external_id``).
METRIC = re.compile(r'\b(?:Counter|Gauge|Histogram|Summary)\(\s*"(hookline_[a-z0-9_]+)"')
DOC_METRIC = re.compile(r"`(hookline_[a-z0-9_]+)`")


def test_every_metric_is_in_the_catalogue_and_every_entry_exists() -> None:
    in_code = {
        name
        for package in ("hookline", "ingress", "processors", "connectors", "pollers")
        for path in (ROOT / package).rglob("*.py")
        for name in METRIC.findall(path.read_text())
    }
    documented = set(DOC_METRIC.findall((ROOT / "docs" / "metrics.md").read_text()))
    assert in_code, "no metrics found: the pattern is stale"
    assert sorted(in_code - documented) == [], "undocumented metrics"
    assert sorted(documented - in_code) == [], "documented metrics that do not exist"


def test_every_alert_is_documented_with_the_metrics_it_uses() -> None:
    import yaml

    rules = yaml.safe_load((ROOT / "ops" / "prometheus" / "alerts.yml").read_text())["groups"]
    used: dict[str, set[str]] = {}
    for rule in (r for group in rules for r in group["rules"]):
        names = set(re.findall(r"\b(hookline_[a-z0-9_]+|up)\b", rule["expr"]))
        used.setdefault(rule["alert"], set()).update(n.removesuffix("_count") for n in names)
    rows = {
        match.group(1): set(DOC_METRIC.findall(match.group(2)))
        | ({"up"} if "`up`" in line else set())
        for line in (ROOT / "docs" / "metrics.md").read_text().splitlines()
        if (match := re.match(r"^\| `(Hookline\w+)` \|.*\|([^|]*)\|$", line))
    }
    assert rows == used
