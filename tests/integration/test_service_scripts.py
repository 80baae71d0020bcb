"""The project's own service scripts: idempotent start, clean stop, crash recovery."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Producer
from pydantic import SecretStr

from hookline.kafka_clients import connect_admin, ensure_topics, producer_config
from hookline.settings import Settings
from hookline.topics import TopicSpec
from tests.conftest import ROOT, ConsumeFn
from tests.ports import free_port
from tests.service_scripts import KAFKA, POSTGRES, script

pytestmark = pytest.mark.disruptive


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


def test_kafka_serves_the_scram_listener_to_the_script_user(settings: Settings) -> None:
    """scripts/kafka.sh's SASL_PLAINTEXT listener accepts its SCRAM user (both mechanisms)."""
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        kafka = settings.kafka.model_copy(
            update={
                "bootstrap_servers": "127.0.0.1:9094",
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": mechanism,
                "sasl_username": "hookline",
                "sasl_password": SecretStr("hookline-secret"),
            }
        )
        metadata = connect_admin(kafka, timeout=15)[1]
        assert metadata.brokers, mechanism


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
    # Our own cluster, or one another checkout runs on the port (used, never restarted).
    assert "already running" in second.stderr or "using it as it is" in second.stderr
    assert script(POSTGRES, "status").returncode == 0


UNPRIVILEGED = "hookline-test"


@pytest.fixture
def unprivileged_checkout() -> Iterator[tuple[list[str], Path]]:
    """A copy of the service scripts in a directory an unprivileged user owns, and the
    command prefix that runs as that user (created when the suite runs as root)."""
    checkout = Path(tempfile.mkdtemp(prefix="hl-pg-"))  # short: the socket path has a limit
    shutil.copytree(ROOT / "scripts", checkout / "scripts")
    prefix: list[str] = []
    if os.geteuid() == 0:
        if (
            subprocess.run(["id", "-u", UNPRIVILEGED], capture_output=True, check=False).returncode
            != 0
        ):
            subprocess.run(["useradd", "--no-create-home", UNPRIVILEGED], check=True)
        shutil.chown(checkout, UNPRIVILEGED, UNPRIVILEGED)
        for path in checkout.rglob("*"):
            shutil.chown(path, UNPRIVILEGED, UNPRIVILEGED)
        prefix = ["runuser", "-u", UNPRIVILEGED, "--"]
    yield prefix, checkout
    shutil.rmtree(checkout, ignore_errors=True)


def test_postgres_runs_as_an_unprivileged_user(
    unprivileged_checkout: tuple[list[str], Path],
) -> None:
    as_user, checkout = unprivileged_checkout
    port = free_port()  # not the shared cluster's 5433, which keeps running untouched
    command = [*as_user, "env", f"HOOKLINE_POSTGRES_PORT={port}", "HOOKLINE_POSTGRES_DIR="]
    command += ["HOOKLINE_RUN_DIR=", str(checkout / "scripts" / "postgres.sh")]

    def postgres(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, action],
            cwd=checkout,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    started = postgres("start")
    try:
        assert started.returncode == 0, started.stderr
        data = checkout / ".run" / "postgres" / "data"
        assert data.stat().st_uid == checkout.stat().st_uid  # the caller's, not postgres's
        conninfo = f"host=127.0.0.1 port={port} dbname=hookline user=hookline password=hookline"
        with psycopg.connect(conninfo, connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("hookline",)
        assert postgres("status").returncode == 0
        pid = int((data / "postmaster.pid").read_text().split()[0])
    finally:
        stopped = postgres("stop")
    assert stopped.returncode == 0, stopped.stderr
    wait_gone(pid)
    assert postgres("status").returncode != 0
