"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): check them
statically instead. tests/integration/test_compose_commands.py runs the rendered commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from connectors.config import load_connectors
from hookline.settings import Settings
from launcher.demo_config import demo_secrets
from tests.compose_render import (
    Service,
    dockerfile_stages,
    hookline_services,
    interpolate,
    load,
    read_env_file,
)
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
    for service in hookline_services(load()):
        names += [n for n in service.environment if n.startswith("HOOKLINE_")]
    assert "HOOKLINE_KAFKA__BOOTSTRAP_SERVERS" in names
    _env_names_exist("HOOKLINE_", [n for n in names if not n.startswith("HOOKLINE_SECRETS__")])


def test_ports_match_the_settings_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    services = compose()["services"]
    kafka_port = settings.kafka.bootstrap_servers.rsplit(":", 1)[1]
    assert f"127.0.0.1:{kafka_port}:9092" in services["kafka"]["ports"]
    assert f"127.0.0.1:{settings.postgres.port}:5432" in services["postgres"]["ports"]
    assert f"{settings.ingress.port}:8080" in services["ingress"]["ports"]


def services() -> dict[str, Service]:
    return {s.name: s for s in hookline_services(load())}


def test_compose_variables_are_interpolated_as_compose_does() -> None:
    assert interpolate("${A:-x}|${B-y}|${C}|$$D", {"A": "", "B": ""}) == "x|||$D"
    assert interpolate("${A:-x}", {"A": "set"}) == "set"


def test_setup_waits_for_healthy_kafka_and_postgres_and_runs_before_every_service() -> None:
    document = compose()
    for name in ("kafka", "postgres"):
        assert document["services"][name]["healthcheck"]["test"], name
    rendered = services()
    assert rendered["setup"].depends_on == {
        "kafka": "service_healthy",
        "postgres": "service_healthy",
    }
    assert rendered["setup"].command == ["hookline", "setup"]

    def waits_for_setup(name: str) -> bool:
        depends = rendered[name].depends_on
        if depends.get("setup") == "service_completed_successfully":
            return True
        return any(waits_for_setup(d) for d in depends if d in rendered)

    hookline_commands = [n for n, s in rendered.items() if s.command[:1] == ["hookline"]]
    assert {"ingress", "processors", "connectors", "demo"} <= set(hookline_commands)
    assert all(waits_for_setup(n) for n in hookline_commands if n != "setup")


def test_every_long_running_service_has_a_health_check_on_its_listener() -> None:
    rendered = services()
    env = rendered["ingress"].environment
    expected = {
        "ingress": int(env["HOOKLINE_INGRESS__PORT"]),
        "processors": int(env["HOOKLINE_PROCESSORS__WEB_PORT"]),
        "connectors": int(env["HOOKLINE_CONNECTORS__METRICS_PORT"]),
        **STAND_INS,
    }
    assert {name: rendered[name].health_port for name in expected} == expected
    for name, port in STAND_INS.items():
        assert rendered[name].command == ["python", "-m", f"sandbox.{name}", str(port), *ALL]
        assert rendered["connectors"].depends_on[name] == "service_healthy"
    assert rendered["demo"].depends_on == {"ingress": "service_healthy"}


#: the demo's stand-ins (sandbox/<name>.py) -> their port in the Compose network
STAND_INS = {"hubspot": 8091, "shopify": 8092, "telegram": 8093}
ALL = ["--host", "0.0.0.0"]  # noqa: S104 - a container's listener


def test_compose_runs_the_flows_of_make_run_from_the_same_file() -> None:
    mounted = {target: source for s in services().values() for source, target in s.volumes}
    assert mounted["/etc/hookline/connectors.toml"] == "./launcher/demo_config/connectors.toml"
    assert services()["connectors"].environment["HOOKLINE_CONNECTORS__CONFIG_FILE"] == (
        "/etc/hookline/connectors.toml"
    )
    assert not (ROOT / "deploy" / "connectors.toml").exists()  # no second copy to drift


def test_the_env_file_points_the_flows_at_the_stand_ins_with_their_own_tokens() -> None:
    env = services()["connectors"].environment
    flows = ROOT / "launcher" / "demo_config" / "connectors.toml"
    named = set(re.findall(r'"secret:([a-z0-9_]+)"', flows.read_text()))
    for name, value in demo_secrets(STAND_INS).items():
        if name in named:
            expected = re.sub(r"127\.0\.0\.1:(\d+)", _service_by_port, value)
            assert env[f"HOOKLINE_SECRETS__{name.upper()}"] == expected, name
    connectors = load_connectors(flows, _secrets(env))
    assert {c.destination.type for c in connectors.values()} == {
        "hubspot",
        "shopify",
        "warehouse",
    }


def _service_by_port(match: re.Match[str]) -> str:
    [name] = [n for n, port in STAND_INS.items() if port == int(match[1])]
    return f"{name}:{match[1]}"


def _secrets(env: dict[str, str]) -> dict[str, SecretStr]:
    prefix = "HOOKLINE_SECRETS__"
    return {
        k.removeprefix(prefix).lower(): SecretStr(v) for k, v in env.items() if k.startswith(prefix)
    }


def test_one_env_file_configures_every_service_and_sets_every_secret_named() -> None:
    document = compose()
    [env_file] = {str(load()["services"][s.name]["env_file"]) for s in services().values()}
    assert env_file == "./deploy/demo.env"
    assert interpolate(document["services"]["postgres"]["env_file"], {}) == env_file
    assert all(not s.get("environment") for s in document["services"].values() if "build" in s)
    values = read_env_file(ROOT / env_file)
    assert values["HOOKLINE_POSTGRES__PASSWORD"] == values["POSTGRES_PASSWORD"]
    for path in mounted_config_files():
        named = set(re.findall(r'"secret:([a-z0-9_]+)"', path.read_text()))
        assert named, path
        assert {f"HOOKLINE_SECRETS__{n.upper()}" for n in named} <= set(values), path


def mounted_config_files() -> list[Path]:
    sources = {source for s in services().values() for source, _ in s.volumes}
    return [ROOT / s for s in sorted(sources) if s.startswith("./")]


def test_services_reach_each_other_by_service_name_never_loopback() -> None:
    rendered = services()
    assert "http://ingress:8080" in rendered["demo"].command
    env = rendered["connectors"].environment
    urls = {n: env[f"HOOKLINE_SECRETS__DEMO_{n.upper()}_URL"] for n in STAND_INS}
    assert urls == {n: f"http://{n}:{port}" for n, port in STAND_INS.items()}
    for service in rendered.values():
        for value in service.environment.values():
            assert "127.0.0.1" not in value
            assert "localhost" not in value


def test_the_image_installs_the_built_wheel_and_runs_as_a_non_root_user() -> None:
    build, runtime = dockerfile_stages()
    assert any(re.search(r"pip wheel .*--no-deps .*\.$", line) for line in build)
    copied = {line.split()[1] for line in build if line.startswith("COPY ")}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= copied, "the build stage misses a package of the wheel"

    assert [line for line in runtime if line.startswith("COPY ")] == [
        "COPY --from=build /wheels /wheels"
    ]
    assert any(re.search(r"pip install .*/wheels/\*\.whl", line) for line in runtime)
    [user] = [line.split()[1] for line in runtime if line.startswith("USER ")]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) >= 1000
    [workdir] = [line.split()[1] for line in runtime if line.startswith("WORKDIR ")]
    assert any(f"useradd --system --uid {uid}" in line for line in runtime)
    assert any(re.search(rf"chown -R {uid}:\d+ {workdir}$", line) for line in runtime)
    data_dir = services()["processors"].environment["HOOKLINE_PROCESSORS__DATA_DIR"]
    assert data_dir.startswith(workdir + "/")
    assert any(target == workdir for _, target in services()["processors"].volumes)
