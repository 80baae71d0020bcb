"""Large signed webhooks, end to end on the real broker: a body the source's limit admits
is accepted (never a 503 forever), flows through the processors to its normalised topic,
and a limit Kafka cannot take is a start-up error rather than a runtime 503."""

from __future__ import annotations

import io
import os
import random
import string
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # type: ignore[attr-defined]
from pydantic import SecretStr

from hookline.kafka_clients import MESSAGE_HEADROOM_BYTES, admin_config, ensure_topics
from hookline.settings import Settings
from hookline.topics import Topics
from ingress.app import create_app
from ingress.providers import REGISTRY
from ingress.providers.github import GitHubConfig
from tests.conftest import ROOT, ConsumeFn
from tests.integration.processor_worker import ProcessorWorker
from tests.ports import free_port

SECRET = "large-body-secret"
MIB = 1024 * 1024
#: Bound for a start-up error: the ingress must stop by itself, not serve.
START_UP_SECONDS = 30


def github_body(size: int) -> bytes:
    """A GitHub ``issues`` body of exactly ``size`` bytes (random letters: lz4 cannot
    shrink it to nothing)."""
    head = orjson.dumps({"action": "opened", "issue": {"number": 7}, "padding": ""})
    letters = random.Random(size).choices(string.ascii_letters + string.digits, k=size)
    padding = "".join(letters[: size - len(head)]).encode()
    body = head[:-2] + padding + head[-2:]
    assert len(body) == size
    return body


def signed(body: bytes, delivery: str) -> dict[str, str]:
    return REGISTRY["github"].sign(body, SECRET, time.time(), event="issues", delivery=delivery)


@pytest.fixture
async def github_client(settings: Settings) -> AsyncIterator[TestClient]:
    """The ingress with one GitHub source ``gh`` admitting bodies up to 6 MiB."""
    sources = {"gh": GitHubConfig(name="gh", secrets=(SecretStr(SECRET),), max_body_bytes=6 * MIB)}
    async with TestClient(TestServer(create_app(settings, sources))) as client:
        yield client


async def test_a_signed_body_just_under_the_default_limit_is_accepted(
    settings: Settings, topics: Topics, consume: ConsumeFn
) -> None:
    """999,971 bytes: under the default 1 MiB source limit, over librdkafka's default
    1,000,000-byte message limit once key and headers are added."""
    sources = {"gh": GitHubConfig(name="gh", secrets=(SecretStr(SECRET),))}
    body = github_body(999_971)
    async with TestClient(TestServer(create_app(settings, sources))) as client:
        response = await client.post("/webhooks/gh", data=body, headers=signed(body, "big-1"))
        assert response.status == 200, await response.text()
    (record,) = consume(topics.raw_webhooks, 1)
    assert record.value() == body


async def test_a_5_mib_webhook_flows_to_its_normalised_topic(
    settings: Settings,
    topics: Topics,
    consume: ConsumeFn,
    github_client: TestClient,
    tmp_path: Path,
) -> None:
    body = github_body(5 * MIB)
    response = await github_client.post(
        "/webhooks/gh", data=io.BytesIO(body), headers=signed(body, "big-5")
    )
    assert response.status == 200, await response.text()
    worker = ProcessorWorker(settings, tmp_path / "state", tmp_path / "worker.log")
    worker.drain(topics.raw_webhooks)
    # Read with the consumer every connector and replay builds (consumer_config).
    (record,) = consume(topics.events("passthrough"), 1)
    event = orjson.loads(record.value() or b"")
    assert event["data"]["payload"] == orjson.loads(body), worker.log_tail()
    assert consume(topics.raw_dead_letter, 0) == []


@pytest.fixture
def ingress_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HOOKLINE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOOKLINE_INGRESS__PORT": str(free_port()),
        "HOOKLINE_INGRESS__METRICS_PORT": "0",
        "HOOKLINE_INGRESS__SOURCES_FILE": str(tmp_path / "sources.toml"),
        "HOOKLINE_LOG__FORMAT": "json",
    }


def start_ingress(env: dict[str, str], max_body_bytes: int) -> str:
    """Run ``python -m ingress`` with one GitHub source of this limit until it stops by
    itself; its output. Fails the test if it is still serving after START_UP_SECONDS."""
    Path(env["HOOKLINE_INGRESS__SOURCES_FILE"]).write_text(
        f'[sources.gh]\nprovider = "github"\nsecrets = ["{SECRET}"]\n'
        f"max_body_bytes = {max_body_bytes}\n"
    )
    command = [sys.executable, "-m", "ingress"]
    try:
        result = subprocess.run(
            command, check=False, cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=START_UP_SECONDS,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the ingress was still serving after {START_UP_SECONDS} s") from exc
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output[-3000:]
    assert SECRET not in output
    return output


def test_a_source_limit_over_the_message_limit_is_a_start_up_error(
    settings: Settings, topics: Topics, ingress_env: dict[str, str]
) -> None:
    too_large = settings.kafka.max_message_bytes - MESSAGE_HEADROOM_BYTES + 1
    output = start_ingress(ingress_env, too_large)
    assert "max_message_bytes" in output, output
    assert "gh" in output


def test_a_raw_topic_that_takes_less_stops_the_ingress_until_setup_raises_it(
    settings: Settings, ingress_env: dict[str, str]
) -> None:
    topics = Topics(settings.kafka.topic_prefix)
    admin = AdminClient(admin_config(settings.kafka))
    # A topic as an older setup (or the broker's 1 MiB default) left it.
    old = NewTopic(topics.raw_webhooks, 1, 1, config={"max.message.bytes": "1048588"})
    admin.create_topics([old])[topics.raw_webhooks].result(timeout=30)

    output = start_ingress(ingress_env, 2 * MIB)
    assert topics.raw_webhooks in output, output
    assert "hookline setup" in output

    ensure_topics(settings.kafka, topics.core(1))  # what `hookline setup` runs
    resource = ConfigResource(ConfigResource.Type.TOPIC, topics.raw_webhooks)
    entries = admin.describe_configs([resource])[resource].result(timeout=30)
    assert int(entries["max.message.bytes"].value) == settings.kafka.max_message_bytes
