"""Hookline as a user installs it: the wheel built from this tree, in a virtualenv of its
own outside the repository, run from a directory outside the repository.

The build works on a copy of the source tree, so that a stale ``build/`` directory in the
checkout (or another build running at the same time) cannot leak into the wheel. Third-
party dependencies come from PyPI through pip's cache.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Not part of the wheel's input: caches, build output, local state, version control.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".run",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "results",
)
# Variables that would let the source tree or the project's venv leak into the install.
_LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


@dataclass(frozen=True)
class InstalledWheel:
    """A virtualenv holding the installed ``hookline`` wheel.

    ``bin``: the venv's bin directory. ``home``: a scratch directory outside the
    repository, the default working directory of the commands.
    """

    bin: Path
    home: Path

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` with its program resolved in the venv's bin dir when it is there."""
        program = self.bin / args[0]
        return [str(program) if program.exists() else args[0], *args[1:]]

    def environ(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """This process's environment without what leaks the source tree, plus ``env``."""
        base = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
        base["PATH"] = f"{self.bin}{os.pathsep}{base.get('PATH', '')}"
        return base | dict(env or {})

    def run(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` (e.g. ``["hookline", "setup"]``) to completion; output captured."""
        return subprocess.run(
            self.command(args),
            env=self.environ(env),
            cwd=cwd or self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[str]:
        """Start ``args`` in the background (own process group); output to pipes."""
        return subprocess.Popen(
            self.command(args),
            env=self.environ(env),
            cwd=cwd or self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[str], timeout: float = 30.0) -> tuple[int, str]:
    """SIGTERM ``process`` and wait; its exit code and output. Kills its group on timeout."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return -9, output
    return process.returncode, output


def build_wheel(root: Path, workdir: Path) -> Path:
    """Build the wheel of the tree at ``root`` from a copy of it; the wheel's path."""
    source = workdir / "source"
    shutil.copytree(root, source, ignore=_NOT_SOURCE)
    dist = workdir / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("hookline-*.whl")
    return wheel


def install_wheel(wheel: Path, venv: Path, home: Path) -> InstalledWheel:
    """A fresh virtualenv at ``venv`` with ``wheel`` and its dependencies installed."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = InstalledWheel(bin=venv / "bin", home=home)
    pip = installed.run(
        ["pip", "install", "-q", "--disable-pip-version-check", str(wheel)], timeout=600
    )
    if pip.returncode != 0:
        raise RuntimeError(f"pip install of {wheel.name} failed:\n{pip.stdout}{pip.stderr}")
    return installed
