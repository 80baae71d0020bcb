"""A faust processor worker as a subprocess, for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from hookline.settings import Settings
from processors.app import app_id
from tests.conftest import ROOT
from tests.kafka_probe import topic_lag
from tests.ports import free_port


class ProcessorWorker:
    """Start, stop, kill -9, and wait until the worker has committed all of its input."""

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        log_path: Path,
        module: str = "processors",
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.module = module
        self.log_path = log_path
        self.web_port = free_port()
        self.env = {
            **os.environ,
            "HOOKLINE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
            "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(settings.kafka.default_partitions),
            "HOOKLINE_PROCESSORS__DATA_DIR": str(data_dir),
            "HOOKLINE_PROCESSORS__WEB_PORT": str(self.web_port),
            "HOOKLINE_LOG__FORMAT": "console",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def committed_lag(self, topic: str) -> int:
        """Records of ``topic`` not yet committed by the worker's consumer group."""
        return topic_lag(self.settings.kafka, app_id(self.settings), topic)

    def drain(self, topic: str) -> None:
        """Start, wait until everything of ``topic`` is committed, stop."""
        self.start()
        try:
            self.wait_drained(topic)
        finally:
            self.stop()

    def wait_drained(self, topic: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.alive(), f"worker exited; log:\n{self.log_tail()}"
            if self.committed_lag(topic) == 0:
                return
            time.sleep(0.5)
        raise AssertionError(
            f"worker did not drain {topic} (lag {self.committed_lag(topic)}); its record "
            f"counts:\n{self.record_counts()}\nits stacks:\n{self.stacks()}\n"
            f"log:\n{self.log_tail()}"
        )

    def record_counts(self) -> str:
        """The worker's ``hookline_processor_records_total`` lines: did it handle any?"""
        status, body = self.get("/metrics")
        lines = [line for line in body.splitlines() if line.startswith("hookline_processor_")]
        return "\n".join(lines) if status == 200 else f"/metrics answered {status}"

    def stacks(self) -> str:
        """What every thread of the worker is doing (py-spy, a dev dependency), for a
        worker that stalled."""
        if not self.alive() or self.process is None:
            return "(not running)"
        spy = Path(sys.executable).with_name("py-spy")
        argv = [str(spy), "dump", "--pid", str(self.process.pid)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"(py-spy failed: {exc})"
        return done.stdout + done.stderr

    def get(self, path: str) -> tuple[int, str]:
        """``GET`` a page of the worker's web server: (status, body); (0, "") while it is
        not listening yet."""
        url = f"http://127.0.0.1:{self.web_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
