"""The ingress as its operators run it: a process (or several on one port), SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hookline.settings import Settings
from hookline.topics import Topics
from tests.conftest import ROOT, ConsumeFn
from tests.ingress_client import post_signed_github
from tests.ports import free_ports_in_a_row

SECRET = "process-test-secret"


def start_ingress(
    settings: Settings, tmp_path: Path, workers: int, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    sources = tmp_path / "sources.toml"
    sources.write_text('[sources.gh]\nprovider = "github"\nsecrets = ["secret:gh_secret"]\n')
    port = free_ports_in_a_row(3)  # the webhook port; worker i's metrics on port + 1 + i
    env = {
        **os.environ,
        "HOOKLINE_SECRETS__GH_SECRET": SECRET,
        "HOOKLINE_INGRESS__PORT": str(port),
        "HOOKLINE_INGRESS__METRICS_PORT": str(port + 1),
        "HOOKLINE_INGRESS__WORKERS": str(workers),
        "HOOKLINE_INGRESS__SOURCES_FILE": str(sources),
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "launcher.cli", "ingress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    _, err = process.communicate()
    raise AssertionError(f"ingress did not become ready: {err.decode()[-2000:]}")


def metric_value(port: int, sample: str) -> float:
    """One sample from a metrics listener; 0 when it is absent or nothing listens yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except urllib.error.URLError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def post(port: int, delivery: str) -> int:
    return post_signed_github(port, SECRET, delivery)


def test_two_workers_share_the_port_and_stop_cleanly_on_sigterm(
    settings: Settings, topics: Topics, consume: ConsumeFn, tmp_path: Path
) -> None:
    process, port = start_ingress(settings, tmp_path, workers=2)
    try:
        statuses = [post(port, f"w-{i}") for i in range(40)]
        # Each worker counts what it answered, on an internal port of its own.
        accepted = 0.0
        deadline = time.monotonic() + 30  # a worker may still be starting
        while accepted < 40 and time.monotonic() < deadline:
            accepted = sum(
                metric_value(p, 'hookline_ingress_requests_total{source="gh",status="200"}')
                for p in (port + 1, port + 2)
            )
        public = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(public, timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert statuses == [200] * 40
    assert accepted == 40
    assert process.returncode == 0
    stderr = err.decode()
    assert stderr.count("ingress starting") == 2  # two worker processes served
    assert SECRET not in stderr
    keys = {r.key() for r in consume(topics.raw_webhooks, 40)}
    assert keys == {f"gh:w-{i}".encode() for i in range(40)}


def test_a_missing_secret_stops_the_ingress_with_one_line_naming_it(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[sources.gh]\nprovider = "github"\nsecrets = ["secret:gh_secret"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_SECRETS__")}
    env |= {"HOOKLINE_INGRESS__SOURCES_FILE": str(sources), "HOOKLINE_INGRESS__WORKERS": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "ingress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [
        "hookline: configuration error: source 'gh': secret 'gh_secret' is not set "
        "(HOOKLINE_SECRETS__GH_SECRET)"
    ]
