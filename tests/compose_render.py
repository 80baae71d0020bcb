"""docker-compose.yml rendered the way Docker Compose reads it, without Docker.

What Compose does before starting a container, for the subset of the specification our
file uses: YAML anchors and merge keys (PyYAML's safe loader resolves both),
``${VAR}`` / ``${VAR:-default}`` / ``${VAR-default}`` interpolation with ``$$`` as a
literal ``$``, ``env_file`` (a path, or a list of paths or ``{path, required}`` tables;
later files win) and then ``environment`` on top. Anything else the file would need is
refused, so the rendering cannot silently drift from what Compose does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}"
)
_HEALTH_URL = re.compile(r"^http://127\.0\.0\.1:(?P<port>\d+)/\S*$")


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """``value`` with Compose's variable syntax replaced."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group("name", "op", "default")
        if op == ":-" and not variables.get(name):
            return str(default)
        if op == "-" and name not in variables:
            return str(default)
        return variables.get(name, "")

    if "$" in _VARIABLE.sub("", value):
        raise ValueError(f"unsupported variable syntax in {value!r}")
    return _VARIABLE.sub(replace, value)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; blank lines and ``#`` comments skipped. Quotes are refused:
    Compose and a shell ``source`` read them differently."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key) or value[:1] in {"'", '"'}:
            raise ValueError(f"{path.name}:{number}: not a plain KEY=VALUE line")
        values[key] = value
    return values


def load(variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file with anchors merged and every string interpolated."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    return _interpolated(document, variables or {})  # type: ignore[no-any-return]


def _interpolated(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolated(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolated(value, variables) for key, value in node.items()}
    return node


@dataclass(frozen=True)
class Service:
    """One service as its container would see it."""

    name: str
    command: list[str]
    environment: dict[str, str]
    volumes: list[tuple[str, str]]  # (source, container path)
    depends_on: dict[str, str]  # service -> condition
    health_command: list[str]  # exec form (CMD); [] when none or a shell command

    @property
    def health_port(self) -> int | None:
        """The container port the health check probes (its last argument is the URL)."""
        if not self.health_command:
            return None
        match = _HEALTH_URL.match(self.health_command[-1])
        return int(match["port"]) if match else None


def service(document: Mapping[str, Any], name: str) -> Service:
    raw = document["services"][name]
    environment: dict[str, str] = {}
    for path in _env_files(raw.get("env_file")):
        environment |= read_env_file(ROOT / path)
    environment |= {k: str(v) for k, v in (raw.get("environment") or {}).items()}
    health = (raw.get("healthcheck") or {}).get("test") or []
    depends = raw.get("depends_on") or {}
    if isinstance(depends, list):
        depends = {d: {"condition": "service_started"} for d in depends}
    return Service(
        name=name,
        command=list(raw.get("command") or []),
        environment=environment,
        volumes=[_volume(v) for v in raw.get("volumes") or []],
        depends_on={d: spec["condition"] for d, spec in depends.items()},
        health_command=list(health[1:]) if health[:1] == ["CMD"] else [],
    )


def _env_files(spec: Any) -> list[str]:
    entries = [] if spec is None else spec if isinstance(spec, list) else [spec]
    paths = []
    for entry in entries:
        path = entry if isinstance(entry, str) else entry["path"]
        optional = isinstance(entry, dict) and not entry.get("required", True)
        if optional and not (ROOT / path).exists():
            continue
        paths.append(path)
    return paths


def _volume(spec: str) -> tuple[str, str]:
    source, target, *_mode = spec.split(":")
    return source, target


def hookline_services(document: Mapping[str, Any]) -> list[Service]:
    """The services that run the Hookline image, in the order Compose may start them."""
    names = [n for n, s in document["services"].items() if "build" in s]
    rendered = {n: service(document, n) for n in names}
    ordered: list[Service] = []
    while rendered:
        ready = [s for s in rendered.values() if not set(s.depends_on) & set(rendered)]
        if not ready:
            raise ValueError(f"dependency cycle among {sorted(rendered)}")
        for ready_service in ready:
            ordered.append(rendered.pop(ready_service.name))
    return ordered


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    stages: list[list[str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages
