"""Dependencies point one way: services talk through Kafka, never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

OURS = {"hookline", "ingress", "processors", "connectors", "schemas"}
ALLOWED = {
    "schemas": {"schemas"},
    "hookline": {"hookline", "schemas"},
    "ingress": {"ingress", "hookline", "schemas"},
    "processors": {"processors", "hookline", "schemas"},
    "connectors": {"connectors", "hookline", "schemas"},
}
COMPOSITION_ROOT = ROOT / "hookline" / "cli.py"


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    offenders = {}
    for path in (ROOT / package).rglob("*.py"):
        if path == COMPOSITION_ROOT:
            continue
        extra = imported_packages(path) - ALLOWED[package]
        if extra:
            offenders[str(path.relative_to(ROOT))] = sorted(extra)
    assert offenders == {}


def test_no_module_reads_the_environment_but_the_entry_points() -> None:
    allowed = {"ingress/main.py", "hookline/settings.py", "hookline/cli.py"}
    readers = [
        str(p.relative_to(ROOT))
        for package in ALLOWED
        for p in (ROOT / package).rglob("*.py")
        if "os.environ" in p.read_text() and str(p.relative_to(ROOT)) not in allowed
    ]
    assert readers == []
