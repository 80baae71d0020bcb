"""Dependencies point one way: services talk through Kafka, never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

OURS = {
    "hookline",
    "ingress",
    "processors",
    "connectors",
    "schemas",
    "sandbox",
    "launcher",
    "pollers",
    "admin",
}
ALLOWED = {
    "sandbox": {"sandbox"},
    "schemas": {"schemas"},
    "hookline": {"hookline", "schemas"},
    "ingress": {"ingress", "hookline", "schemas"},
    "processors": {"processors", "hookline", "schemas"},
    "connectors": {"connectors", "hookline", "schemas"},
    "admin": {"admin", "hookline", "schemas"},
    "pollers": {"pollers", "hookline", "schemas"},
}
# The composition root may import everything; no product package imports it (the tests of
# the composition root do, as they must).
COMPOSITION_ROOT = "launcher"
SERVICES = ("ingress", "processors", "connectors", "pollers", "admin")


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
        extra = imported_packages(path) - ALLOWED[package]
        if extra:
            offenders[str(path.relative_to(ROOT))] = sorted(extra)
    assert offenders == {}


def test_nothing_imports_the_composition_root() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for package in ALLOWED
        for path in (ROOT / package).rglob("*.py")
        if COMPOSITION_ROOT in imported_packages(path)
    ]
    assert importers == []


def test_every_service_has_the_same_entry_point() -> None:
    """``<service>/main.py`` defines ``run(settings, ...)``; ``python -m <service>`` calls it."""
    for service in SERVICES:
        tree = ast.parse((ROOT / service / "main.py").read_text())
        runs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run"]
        assert runs, f"{service}/main.py has no run()"
        assert runs[0].args.args[0].arg == "settings"
        assert "run(Settings())" in (ROOT / service / "__main__.py").read_text()


def test_no_module_reads_the_environment_but_the_entry_points() -> None:
    allowed = {"hookline/settings.py", "launcher/cli.py"}
    readers = [
        str(p.relative_to(ROOT))
        for package in ALLOWED
        for p in (ROOT / package).rglob("*.py")
        if "os.environ" in p.read_text() and str(p.relative_to(ROOT)) not in allowed
    ]
    assert readers == []
