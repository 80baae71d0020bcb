"""`hookline setup` creates every configured connector's retry topics (base and tiers) and
dead-letter topic, so a connector's first start subscribes to topics that exist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from confluent_kafka.admin import AdminClient

from hookline.kafka_clients import admin_config
from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from tests.conftest import ROOT

#: ``secret:`` references setup never resolves: it needs names and families only.
CONNECTORS = """
[connectors.crm]
families = ["customer", "order"]

[connectors.crm.destination]
type = "http_upsert"
base_url = "secret:crm_url_never_set"
token = "secret:crm_token_never_set"

[connectors.shop]
families = ["product"]

[connectors.shop.destination]
type = "http_upsert"
base_url = "http://127.0.0.1:9"
token = "unused-token"
"""


def run_setup(settings: Settings, database: PostgresSettings, connectors: Path) -> str:
    env = {
        **os.environ,
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(settings.kafka.default_partitions),
        "HOOKLINE_POSTGRES__DATABASE": database.database,
        "HOOKLINE_CONNECTORS__CONFIG_FILE": str(connectors),
        "HOOKLINE_LOG__FORMAT": "json",
    }
    argv = [sys.executable, "-m", "launcher.cli", "setup"]
    result = subprocess.run(
        argv, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def partitions_by_topic(settings: Settings) -> dict[str, int]:
    metadata = AdminClient(admin_config(settings.kafka)).list_topics(timeout=10)
    return {name: len(t.partitions) for name, t in metadata.topics.items()}


def test_setup_creates_every_connectors_retry_topics(
    settings: Settings, fresh_database: PostgresSettings, tmp_path: Path
) -> None:
    (tmp_path / "connectors.toml").write_text(CONNECTORS)
    output = run_setup(settings, fresh_database, tmp_path / "connectors.toml")

    topics = Topics(settings.kafka.topic_prefix)
    existing = partitions_by_topic(settings)
    partitions = settings.kafka.default_partitions  # the source topics' count
    for name in ("crm", "shop"):
        expected = {s.name: s.partitions for s in topics.for_connector(name, partitions)}
        assert {t: existing.get(t) for t in expected} == expected, output
    assert "Traceback" not in output


def test_setup_without_a_connectors_file_creates_the_core_topics(
    settings: Settings, fresh_database: PostgresSettings, tmp_path: Path
) -> None:
    output = run_setup(settings, fresh_database, tmp_path / "missing.toml")

    existing = partitions_by_topic(settings)
    core = Topics(settings.kafka.topic_prefix).core(settings.kafka.default_partitions)
    assert all(spec.name in existing for spec in core), output
    assert not any(
        ".connector." in t for t in existing if t.startswith(settings.kafka.topic_prefix)
    )
