"""Every metric the code defines is documented in docs/metrics.md, and nothing more."""

from __future__ import annotations

import re

from tests.conftest import ROOT

METRIC = re.compile(r'"(hookline_[a-z0-9_]+)"')
DOC_METRIC = re.compile(r"`(hookline_[a-z0-9_]+)`")


def test_every_metric_is_in_the_catalogue_and_every_entry_exists() -> None:
    in_code = {
        name
        for package in ("hookline", "ingress", "processors", "connectors")
        for path in (ROOT / package).rglob("*.py")
        for name in METRIC.findall(path.read_text())
    }
    documented = set(DOC_METRIC.findall((ROOT / "docs" / "metrics.md").read_text()))
    assert in_code, "no metrics found: the pattern is stale"
    assert sorted(in_code - documented) == [], "undocumented metrics"
    assert sorted(documented - in_code) == [], "documented metrics that do not exist"
