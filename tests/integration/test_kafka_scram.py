"""Production-style Kafka security, for real: the local broker's SASL_PLAINTEXT listener
(SCRAM, scripts/kafka.sh) carries the whole pipeline with credentials, and a wrong
password stops `hookline setup` and the processors with a clear error instead of a hang.

Each test creates its own SCRAM user through the Admin API on the PLAINTEXT listener."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    ConfigSource,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from hookline.kafka_clients import admin_config, ensure_topics
from hookline.settings import KafkaSettings, PostgresSettings, Settings
from hookline.topics import Topics
from tests.conftest import ROOT, unique
from tests.integration.demo_run import demo_env, free_ports, run_demo_until_applied
from tests.ports import free_port

# The listener scripts/kafka.sh adds beside PLAINTEXT (HOOKLINE_KAFKA_SASL_PORT).
SASL_BOOTSTRAP = f"127.0.0.1:{os.environ.get('HOOKLINE_KAFKA_SASL_PORT', '9094')}"
MECHANISM = ScramMechanism.SCRAM_SHA_512
#: Generous bound for "fails fast": librdkafka alone would retry for the full 30 s timeout.
FAIL_FAST_SECONDS = 25


@pytest.fixture
def scram_user(settings: Settings) -> Iterator[tuple[str, str]]:
    """A SCRAM-SHA-512 user of this test's own (name, password); deleted afterwards."""
    name, password = unique("user"), secrets.token_urlsafe(16)
    admin = AdminClient(admin_config(settings.kafka))
    upsert = UserScramCredentialUpsertion(
        name, ScramCredentialInfo(MECHANISM, 8192), password.encode()
    )
    for future in admin.alter_user_scram_credentials([upsert], request_timeout=30).values():
        future.result()
    yield name, password
    deletion = UserScramCredentialDeletion(name, MECHANISM)
    for future in admin.alter_user_scram_credentials([deletion], request_timeout=30).values():
        future.result()


def scram_env(settings: Settings, user: str, password: str) -> dict[str, str]:
    return {
        **os.environ,
        "HOOKLINE_KAFKA__BOOTSTRAP_SERVERS": SASL_BOOTSTRAP,
        "HOOKLINE_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "HOOKLINE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "HOOKLINE_KAFKA__SASL_USERNAME": user,
        "HOOKLINE_KAFKA__SASL_PASSWORD": password,
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(settings.kafka.default_partitions),
        "HOOKLINE_LOG__FORMAT": "json",
    }


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "launcher.cli", *args]


def test_pipeline_runs_through_the_scram_listener(
    settings: Settings,
    scram_user: tuple[str, str],
    fresh_database: PostgresSettings,
    tmp_path: Path,
) -> None:
    """Setup, ingress, processors and a connector all log in with the test's SCRAM user: the
    listener refuses any client without credentials (last test below)."""
    user, password = scram_user
    ports = free_ports()
    env = demo_env(settings, fresh_database, tmp_path, ports) | scram_env(settings, user, password)
    setup = subprocess.run(
        cli("setup"), check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    run = run_demo_until_applied(env, ports, tmp_path / "run.log")
    output = setup.stdout + setup.stderr + run.output
    assert run.applied >= 5, output[-3000:]
    assert run.returncode == 0, output[-3000:]
    assert password not in output
    assert "Traceback" not in output


#: A connector whose destination is never reached: the service must stop before.
CONNECTORS = """
[connectors.crm]
families = ["customer"]

[connectors.crm.destination]
type = "http_upsert"
base_url = "http://127.0.0.1:9"
token = "unused-token"
"""


@pytest.mark.parametrize(
    "command",
    [cli("setup"), *([sys.executable, "-m", s] for s in ("processors", "ingress", "connectors"))],
    ids=["setup", "processors", "ingress", "connectors"],
)
def test_a_wrong_password_fails_fast_with_a_clear_error(
    settings: Settings, scram_user: tuple[str, str], command: list[str], tmp_path: Path
) -> None:
    user, _ = scram_user
    wrong = secrets.token_urlsafe(16)
    (tmp_path / "connectors.toml").write_text(CONNECTORS)
    env = scram_env(settings, user, wrong) | {
        "HOOKLINE_PROCESSORS__DATA_DIR": str(tmp_path / "state"),
        "HOOKLINE_PROCESSORS__WEB_PORT": str(free_port()),
        "HOOKLINE_INGRESS__SOURCES_FILE": str(ROOT / "launcher" / "demo_config" / "sources.toml"),
        "HOOKLINE_INGRESS__PORT": str(free_port()),
        "HOOKLINE_INGRESS__METRICS_PORT": "0",
        "HOOKLINE_CONNECTORS__CONFIG_FILE": str(tmp_path / "connectors.toml"),
        "HOOKLINE_CONNECTORS__METRICS_PORT": "0",
    }
    try:
        result = subprocess.run(
            command,
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=FAIL_FAST_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{command} still running after {FAIL_FAST_SECONDS} s") from exc
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Kafka authentication failed" in output, output[-3000:]
    assert user in output
    assert wrong not in output
    assert "Traceback" not in output, output[-3000:]


def test_created_topics_carry_min_insync_replicas(settings: Settings) -> None:
    spec = Topics(settings.kafka.topic_prefix).core(1)[0]
    assert ensure_topics(settings.kafka, [spec]) == [spec.name]
    admin = AdminClient(admin_config(settings.kafka))
    resource = ConfigResource(ConfigResource.Type.TOPIC, spec.name)
    entries = admin.describe_configs([resource])[resource].result(timeout=30)
    entry = entries["min.insync.replicas"]
    assert entry.value == str(settings.kafka.min_insync_replicas)
    assert entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value  # ours, not the default


def test_the_scram_listener_refuses_plaintext_clients(settings: Settings) -> None:
    """The SASL listener really authenticates: a client without credentials gets nowhere."""
    kafka = KafkaSettings(
        bootstrap_servers=SASL_BOOTSTRAP, topic_prefix=settings.kafka.topic_prefix
    )
    admin = AdminClient({**admin_config(kafka), "socket.timeout.ms": 2000})
    with pytest.raises(Exception):  # noqa: B017, PT011 - librdkafka reports a timeout
        admin.list_topics(timeout=3)
