"""docker-compose.yml cannot run here (no Docker engine): check it is consistent instead."""

from __future__ import annotations

from typing import Any

import yaml

from hookline.settings import Settings
from tests.conftest import ROOT


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_declares_the_pipeline_services() -> None:
    services = compose()["services"]
    assert {
        "kafka",
        "postgres",
        "ingress",
        "processors",
        "connectors",
        "prometheus",
        "grafana",
    } <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["postgres"]["image"].startswith("postgres:")


def test_images_are_pinned() -> None:
    for name, service in compose()["services"].items():
        if "image" in service and "build" not in service:
            assert ":" in service["image"], name
            assert not service["image"].endswith(":latest"), name


def _env_names_exist(prefix: str, names: list[str]) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for env_name in names:
        path = env_name.removeprefix(prefix).lower().split("__")
        node: Any = settings
        for part in path:
            assert hasattr(node, part), f"{env_name}: no setting {'.'.join(path)}"
            node = getattr(node, part)


def test_hookline_env_names_are_real_settings() -> None:
    names: list[str] = []
    for service in compose()["services"].values():
        environment = service.get("environment") or {}
        names += [n for n in environment if n.startswith("HOOKLINE_")]
    assert "HOOKLINE_KAFKA__BOOTSTRAP_SERVERS" in names
    _env_names_exist("HOOKLINE_", names)


def test_ports_match_the_settings_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    services = compose()["services"]
    kafka_port = settings.kafka.bootstrap_servers.rsplit(":", 1)[1]
    assert f"127.0.0.1:{kafka_port}:9092" in services["kafka"]["ports"]
    assert f"127.0.0.1:{settings.postgres.port}:5432" in services["postgres"]["ports"]
    assert f"{settings.ingress.port}:8080" in services["ingress"]["ports"]
