"""The repository is the whole project: no test, fixture, benchmark or module refers to a
file outside the repository root, so a clone with nothing beside it runs green."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import DATA, ROOT

CHECKED = ("tests", "bench", "hookline", "ingress", "processors", "connectors", "schemas")
# A path that climbs out of its folder, or the workspace folders beside the repository.
OUTSIDE = re.compile(r"(^|[/\\])\.\.([/\\]|$)|(^|/)shared/reference|^/work/")


def python_files() -> list[Path]:
    """Every Python file of the project but this one, whose examples must name such paths."""
    me = Path(__file__).resolve()
    return [p for folder in CHECKED for p in (ROOT / folder).rglob("*.py") if p.resolve() != me]


def string_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def climbs_above_root(path: Path, root: Path = ROOT) -> bool:
    """``ROOT.parent`` (or a longer ``.parent`` chain from ``__file__`` than the file's
    depth in the repository) reaches outside the checkout."""
    text = path.read_text(encoding="utf-8")
    if "ROOT.parent" in text:
        return True
    depth = len(path.relative_to(root).parts)
    longest = max((m.count(".parent") for m in re.findall(r"(?:\.parent)+", text)), default=0)
    parents_attr = re.findall(r"\.parents\[(\d+)\]", text)
    return longest > depth or any(int(n) + 1 > depth for n in parents_attr)


def test_no_file_refers_to_a_path_outside_the_repository() -> None:
    offenders = {
        str(path.relative_to(ROOT)): [s for s in string_literals(path) if OUTSIDE.search(s)]
        for path in python_files()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_file_climbs_above_the_repository_root() -> None:
    assert [str(p.relative_to(ROOT)) for p in python_files() if climbs_above_root(p)] == []


def test_the_scan_catches_a_reference_outside_the_root(tmp_path: Path) -> None:
    # Built from parts: this file must not itself name a path outside the checkout.
    climbing = "/".join(["..", "shared", "reference", "vectors.json"])
    workspace = "/" + "/".join(["work", "shared", "reference"])
    assert OUTSIDE.search(climbing)
    assert OUTSIDE.search(workspace)
    assert not OUTSIDE.search("payloads/github/ping_payload.json")
    (tmp_path / "tests").mkdir()
    climber = tmp_path / "tests" / "test_x.py"
    climber.write_text("P = Path(__file__).parent.parent.parent")
    assert climbs_above_root(climber, tmp_path)


def test_test_data_lives_in_the_repository_with_its_provenance() -> None:
    assert DATA.resolve().is_relative_to(ROOT.resolve())
    assert (DATA / "VECTORS-SOURCES.md").is_file()
    for folder in (DATA / "payloads").iterdir():
        assert (folder / "SOURCES.md").is_file(), f"{folder.name} has no provenance file"
