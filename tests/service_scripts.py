"""Running scripts/kafka.sh and scripts/postgres.sh, which start the suite's broker and
database (``make test``), for the tests that stop, kill or restart them."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT

KAFKA = str(ROOT / "scripts" / "kafka.sh")
POSTGRES = str(ROOT / "scripts" / "postgres.sh")


def script(path: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run a service script; its exit status and output, a failure included."""
    return subprocess.run(
        [path, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
