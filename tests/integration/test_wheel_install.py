"""The installed wheel, outside the repository, runs Hookline against the real services:
``hookline setup`` applies the packaged migrations and creates the topics, ``hookline
ingress`` accepts a signed webhook into Kafka and stops cleanly on SIGTERM."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request

import psycopg
import pytest
from confluent_kafka.admin import AdminClient

from hookline.db import bundled_migrations_dir, load_migrations
from hookline.kafka_clients import admin_config
from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from tests.conftest import ROOT, ConsumeFn
from tests.ingress_client import post_signed_github
from tests.installed_wheel import InstalledWheel, stop
from tests.ports import free_port

pytestmark = pytest.mark.services

SECRET = "wheel-test-secret"


def service_env(settings: Settings, database: PostgresSettings) -> dict[str, str]:
    """This test's topic prefix and database, as an operator would set them."""
    return {
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(settings.kafka.default_partitions),
        "HOOKLINE_POSTGRES__DATABASE": database.database,
        "HOOKLINE_LOG__FORMAT": "json",
    }


def test_installed_setup_applies_migrations_and_creates_topics(
    installed_wheel: InstalledWheel, settings: Settings, empty_database: PostgresSettings
) -> None:
    assert not installed_wheel.home.is_relative_to(ROOT)
    result = installed_wheel.run(["hookline", "setup"], env=service_env(settings, empty_database))
    assert result.returncode == 0, result.stdout + result.stderr

    with psycopg.connect(empty_database.conninfo()) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [v for (v,) in rows] == [m.version for m in load_migrations(bundled_migrations_dir())]
    admin = AdminClient(admin_config(settings.kafka))
    existing = set(admin.list_topics(timeout=10).topics)
    core = Topics(settings.kafka.topic_prefix).core(settings.kafka.default_partitions)
    assert {spec.name for spec in core} <= existing


def test_installed_ingress_accepts_a_signed_webhook_and_stops_on_sigterm(
    installed_wheel: InstalledWheel,
    settings: Settings,
    topics: Topics,
    consume: ConsumeFn,
) -> None:
    sources = installed_wheel.home / f"{settings.kafka.topic_prefix}-sources.toml"
    sources.write_text(f'[sources.gh]\nprovider = "github"\nsecrets = ["{SECRET}"]\n')
    port = free_port()
    env = service_env(settings, settings.postgres) | {
        "HOOKLINE_INGRESS__PORT": str(port),
        "HOOKLINE_INGRESS__SOURCES_FILE": str(sources),
    }
    process = installed_wheel.popen(["hookline", "ingress"], env=env)
    try:
        wait_healthy(port, process)
        status = post_signed(port, delivery="wheel-1")
    finally:
        code, output = stop(process)
    assert status == 200, output
    assert code == 0, output
    (record,) = consume(topics.raw_webhooks, 1)
    assert b"wheel-1" in (record.value() or b"")


def wait_healthy(port: int, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the installed ingress exited before it was healthy"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                assert answer.status == 200
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the installed ingress did not answer /healthz")


def post_signed(port: int, delivery: str) -> int:
    return post_signed_github(port, SECRET, delivery)


def test_installed_demo_finds_its_packaged_configuration(installed_wheel: InstalledWheel) -> None:
    check = (
        "from hookline.settings import Settings; from launcher.demo_config import demo_environ;"
        "env = demo_environ(Settings(), {}); import pathlib;"
        "print(all(pathlib.Path(env[k]).is_file() for k in"
        " ('HOOKLINE_INGRESS__SOURCES_FILE', 'HOOKLINE_CONNECTORS__CONFIG_FILE')))"
    )
    result = installed_wheel.run(["python", "-c", check])
    assert result.stdout.strip() == "True", result.stderr
