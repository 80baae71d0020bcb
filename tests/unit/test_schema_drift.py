"""The committed JSON Schema files are exactly what the models generate."""

from __future__ import annotations

from pathlib import Path

from schemas.export import SCHEMA_DIR, rendered, write


def test_committed_json_schemas_match_the_models() -> None:
    expected = rendered()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    drifted = sorted(
        name
        for name in expected.keys() | committed.keys()
        if expected.get(name) != committed.get(name)
    )
    assert not drifted, (
        f"schemas/jsonschema is out of date ({', '.join(drifted)}): run `make schemas`"
    )


def test_export_is_deterministic_and_removes_stale_files(tmp_path: Path) -> None:
    (tmp_path / "retired.json").write_text("{}\n")
    write(tmp_path)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    write(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
    assert "retired.json" not in first
    assert all(text.endswith(b"}\n") for text in first.values())
