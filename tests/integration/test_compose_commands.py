"""docker-compose.yml as written, run without Docker: every Hookline service's exact
command line and environment (anchors, the env file, interpolation with no variable set,
as a plain ``docker compose up`` sees them), from the installed wheel, from a directory
outside the repository, with the configuration files the compose file mounts.

Only what Docker itself would change is mapped: service names to the local Kafka and
PostgreSQL (this test's topic prefix and database), container ports to free local ports,
container paths (mounts, volumes, the image's working directory) to local directories.
``setup`` must exit 0; every long-running service must pass its own health check and keep
running while the demo traffic reaches the stand-ins (HubSpot, Shopify) through the whole
pipeline. A
service that would crash-loop in Compose fails here.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from hookline.kafka_clients import admin_config
from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from tests.compose_render import Service, dockerfile_stages, hookline_services, load
from tests.conftest import ROOT
from tests.installed_wheel import InstalledWheel, stop
from tests.ports import free_port

pytestmark = pytest.mark.services

HEALTHY_WITHIN_SECONDS = 120.0
DELIVERED_WITHIN_SECONDS = 180.0
WILDCARD = "0.0.0.0"  # noqa: S104 - what the containers listen on, mapped to loopback


@dataclass
class LocalMap:
    """What Docker would provide, replaced by local equivalents."""

    kafka: str
    postgres: PostgresSettings
    topic_prefix: str
    root: Path
    service_names: set[str]
    ports: dict[int, int] = field(default_factory=dict)  # container port -> local port
    paths: dict[str, Path] = field(default_factory=dict)  # container path -> local path

    def text(self, value: str) -> str:
        """Addresses and container paths inside a string (a URL, a file's contents)."""
        value = value.replace("kafka:9092", self.kafka)
        hosts = "|".join(map(re.escape, [*self.service_names, WILDCARD, "127.0.0.1"]))
        value = re.sub(rf"\b(?:{hosts}):(\d+)\b", self._address, value)
        for container in sorted(self.paths, key=len, reverse=True):
            value = value.replace(container, str(self.paths[container]))
        return value

    def _address(self, match: re.Match[str]) -> str:
        port = int(match[1])
        return f"127.0.0.1:{self.ports[port]}" if port in self.ports else match[0]

    def argument(self, value: str) -> str:
        if value == WILDCARD:
            return "127.0.0.1"
        if value.isdigit() and int(value) in self.ports:
            return str(self.ports[int(value)])
        return self.text(value)

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        mapped = {k: self.argument(v) for k, v in env.items()}
        postgres = self.postgres
        return mapped | {
            "HOOKLINE_POSTGRES__HOST": postgres.host,
            "HOOKLINE_POSTGRES__PORT": str(postgres.port),
            "HOOKLINE_POSTGRES__USER": postgres.user,
            "HOOKLINE_POSTGRES__PASSWORD": postgres.password.get_secret_value(),
            "HOOKLINE_POSTGRES__DATABASE": postgres.database,
            "HOOKLINE_KAFKA__TOPIC_PREFIX": self.topic_prefix,
        }

    def mount(self, service: Service) -> None:
        """Bind mounts copied (addresses in them mapped), volumes as fresh directories."""
        for source, target in service.volumes:
            local = self.root / target.strip("/").replace("/", "_")
            if source.startswith("."):
                local.write_text(self.text((ROOT / source).read_text()))
            else:
                local.mkdir(exist_ok=True)
            self.paths.setdefault(target, local)


def workdir() -> str:
    """The image's working directory (the last WORKDIR of the runtime stage)."""
    runtime = dockerfile_stages()[-1]
    return [line.split()[1] for line in runtime if line.upper().startswith("WORKDIR")][-1]


@pytest.fixture
def local_map(
    settings: Settings, fresh_database: PostgresSettings, tmp_path_factory: pytest.TempPathFactory
) -> LocalMap:
    services = hookline_services(load())
    root = tmp_path_factory.mktemp("compose")
    mapping = LocalMap(
        kafka=settings.kafka.bootstrap_servers,
        postgres=fresh_database,
        topic_prefix=settings.kafka.topic_prefix,
        root=root,
        service_names={s.name for s in services},
    )
    listeners = {s.health_port for s in services} | {
        int(v)
        for s in services
        for k, v in s.environment.items()
        if re.fullmatch(r"HOOKLINE_\w+PORT", k) and not k.startswith("HOOKLINE_POSTGRES")
    }
    mapping.ports = {port: free_port() for port in listeners if port is not None}
    for service in services:
        mapping.mount(service)
    (root / "workdir").mkdir()
    mapping.paths.setdefault(workdir(), root / "workdir")
    return mapping


@dataclass
class Running:
    service: Service
    process: subprocess.Popen[str]


@pytest.fixture
def started() -> Iterator[list[Running]]:
    running: list[Running] = []
    yield running
    for item in reversed(running):
        stop(item.process)


def test_every_compose_service_starts_and_stays_up_from_the_installed_wheel(
    installed_wheel: InstalledWheel, local_map: LocalMap, started: list[Running]
) -> None:
    assert not local_map.root.is_relative_to(ROOT)
    cwd = local_map.paths[workdir()]
    for service in hookline_services(load()):
        command = [local_map.argument(a) for a in service.command]
        env = local_map.environment(service.environment)
        if service.name == "setup":
            result = installed_wheel.run(command, env=env, cwd=cwd, timeout=180)
            assert result.returncode == 0, result.stdout + result.stderr
            assert_core_topics_exist(local_map)
            continue
        process = installed_wheel.popen(command, env=env, cwd=cwd)
        started.append(Running(service, process))
        if service.health_command:
            wait_healthy(installed_wheel, local_map, started[-1], env, cwd)

    wait_for_demo_writes(local_map, started)
    assert_none_exited(started)
    assert_alert_in_the_telegram_chat(local_map, started)


def assert_core_topics_exist(local_map: LocalMap) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    admin = AdminClient(admin_config(settings.kafka))
    existing = set(admin.list_topics(timeout=10).topics)
    topics = Topics(local_map.topic_prefix)
    assert {spec.name for spec in topics.core(1)} <= existing


def wait_healthy(
    installed_wheel: InstalledWheel,
    local_map: LocalMap,
    running: Running,
    env: dict[str, str],
    cwd: Path,
) -> None:
    """Run the service's own health check (mapped) until it passes, failing at once if
    the service exits."""
    probe = [local_map.argument(a) for a in running.service.health_command]
    deadline = time.monotonic() + HEALTHY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            _code, output = stop(running.process)
            pytest.fail(f"{running.service.name} exited at start:\n{output[-3000:]}")
        if installed_wheel.run(probe, env=env, cwd=cwd, timeout=30).returncode == 0:
            return
        time.sleep(1)
    _code, output = stop(running.process)
    pytest.fail(f"{running.service.name} never passed its health check:\n{output[-3000:]}")


def wait_for_demo_writes(local_map: LocalMap, started: list[Running]) -> None:
    """The demo traffic, through ingress, processors and the flows' connectors, reaches
    the HubSpot stand-in (records found by its search API, with the env file's token) and
    the Shopify stand-in (writes it counts); meanwhile no service may exit."""
    env = next(r.service.environment for r in started if r.service.name == "connectors")
    seen: dict[str, int] = {}
    deadline = time.monotonic() + DELIVERED_WITHIN_SECONDS
    while time.monotonic() < deadline:
        assert_none_exited(started)
        with contextlib.suppress(OSError):
            seen = {"hubspot": hubspot_records(local_map, env), "shopify": shop_writes(local_map)}
        if seen and all(seen.values()):
            return
        time.sleep(1)
    pytest.fail(f"the stand-ins received no write: {seen}")


def hubspot_records(local_map: LocalMap, env: dict[str, str]) -> int:
    """Contacts, companies and deals in the HubSpot stand-in, as its search API counts."""
    base = local_map.text(env["HOOKLINE_SECRETS__DEMO_HUBSPOT_URL"])
    token = env["HOOKLINE_SECRETS__DEMO_HUBSPOT_TOKEN"]
    total = 0
    for kind in ("contacts", "companies", "deals"):
        request = urllib.request.Request(
            f"{base}/crm/v3/objects/{kind}/search",
            data=b'{"limit": 1}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            total += int(orjson.loads(response.read())["total"])
    return total


def shop_writes(local_map: LocalMap) -> int:
    url = local_map.text("http://shopify:8092/_stats")
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(orjson.loads(response.read())["effective_writes"])


def assert_alert_in_the_telegram_chat(local_map: LocalMap, started: list[Running]) -> None:
    """The demo's mistyped customer, refused by the HubSpot stand-in, is dead-lettered and
    its alert reaches the Telegram stand-in's chat (which prints what its chats receive)."""
    env = next(r.service.environment for r in started if r.service.name == "connectors")
    url = local_map.text(f"http://connectors:{env['HOOKLINE_CONNECTORS__METRICS_PORT']}/metrics")
    sent = 'hookline_connector_alerts_total{connector="crm",kind="dead_letter",sent="true"} 1.0'
    deadline = time.monotonic() + DELIVERED_WITHIN_SECONDS
    text = ""
    while sent not in text and time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        time.sleep(1)
    assert sent in text
    telegram = next(r for r in started if r.service.name == "telegram")
    time.sleep(3)  # the alert is sent by a background task
    started.remove(telegram)
    _code, output = stop(telegram.process)
    assert re.search(r"chat -1001234567890 <- Hookline alert / dead_letter · crm", output), output


def assert_none_exited(started: list[Running]) -> None:
    exited = {r.service.name: stop(r.process)[1][-2000:] for r in started if r.process.poll()}
    assert exited == {}


def test_the_local_map_leaves_no_container_address_behind(local_map: LocalMap) -> None:
    for service in hookline_services(load()):
        rendered = " ".join(
            [
                *map(local_map.argument, service.command),
                *local_map.environment(service.environment).values(),
            ]
        )
        assert not re.search(r"\b(?:kafka|postgres|hubspot|shopify|telegram|ingress):\d", rendered)
        assert "/etc/hookline" not in rendered
        assert WILDCARD not in rendered
