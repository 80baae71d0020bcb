"""The project's own service scripts: idempotent start, clean stop, crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from confluent_kafka import Producer

from hookline.kafka_clients import ensure_topics, producer_config
from hookline.settings import Settings
from hookline.topics import TopicSpec
from tests.conftest import ROOT, ConsumeFn

KAFKA = str(ROOT / "scripts" / "kafka.sh")
POSTGRES = str(ROOT / "scripts" / "postgres.sh")

pytestmark = pytest.mark.disruptive


def script(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=180, check=False)


def broker_pid() -> int:
    result = script(KAFKA, "pid")
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still alive")


def test_kafka_start_twice_reuses_the_running_broker() -> None:
    assert script(KAFKA, "start").returncode == 0
    pid = broker_pid()
    second = script(KAFKA, "start")
    assert second.returncode == 0
    assert "already running" in second.stderr
    assert broker_pid() == pid


def test_kafka_stop_leaves_no_process_and_start_brings_it_back() -> None:
    assert script(KAFKA, "start").returncode == 0
    pid = broker_pid()
    assert script(KAFKA, "stop").returncode == 0
    wait_gone(pid, 1)
    assert script(KAFKA, "status").returncode != 0
    assert script(KAFKA, "start").returncode == 0
    assert script(KAFKA, "status").returncode == 0


def test_killed_broker_restarts_with_its_data(settings: Settings, consume: ConsumeFn) -> None:
    topic = f"{settings.kafka.topic_prefix}.survivor"
    ensure_topics(settings.kafka, [TopicSpec(topic, 1, 3_600_000)])
    producer = Producer(producer_config(settings.kafka, "test"))
    for i in range(10):
        producer.produce(topic, value=f"before-{i}".encode())
    assert producer.flush(10) == 0

    pid = broker_pid()
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    assert script(KAFKA, "status").returncode != 0
    restarted = script(KAFKA, "start")
    assert restarted.returncode == 0, restarted.stderr
    assert broker_pid() != pid

    values = [r.value() for r in consume(topic, 10, timeout=60)]
    assert values == [f"before-{i}".encode() for i in range(10)]


def test_postgres_start_twice_is_a_no_op() -> None:
    assert script(POSTGRES, "start").returncode == 0
    second = script(POSTGRES, "start")
    assert second.returncode == 0
    assert "already running" in second.stderr
    assert script(POSTGRES, "status").returncode == 0
